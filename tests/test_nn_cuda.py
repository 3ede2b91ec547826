"""The ``cuda`` backend of the neural core on the CUDA simulator (tiny networks).

Oracles: a plain numpy implementation of the network, its gradient and the SGD step written in
this file from the documented semantics (simulations/nn/backends/base.py, optim.py), with the noise
drawn from the CPU xoroshiro128+/CMS kernels on the same streams; central finite differences;
the CPU backend when it is implemented.
"""
from __future__ import annotations

import os
import subprocess
import sys

import _cuda_setup  # noqa: F401
import numba as nb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

SIM = _cuda_setup.require()
pytestmark = _cuda_setup.PYTESTMARK

from numba import cuda  # noqa: E402

from simulations._core.codes import NOISE_CODES, NOISE_ELLIPTICAL, NOISE_NEURON  # noqa: E402
from simulations._core.device import CudaUnavailableError, check_device_array  # noqa: E402
from simulations.nn import MLPSpec, NoiseConfig, get_backend, init_params  # noqa: E402
from simulations.nn.backends.base import RunBuffers, StepConfig  # noqa: E402
from simulations.stable import cpu as sk  # noqa: E402
from simulations.stable.f32 import sas32_draw  # noqa: E402
from simulations.stable.streams import init_states  # noqa: E402
from simulations.stable.streams import normal as cpu_normal  # noqa: E402


@pytest.fixture(scope="module")
def be():
    return get_backend("cuda")


# ------------------------------------------------------------------ numpy reference network
def _act(z, name):
    return {"relu": lambda: np.maximum(z, 0), "tanh": lambda: np.tanh(z), "softplus": lambda: np.logaddexp(0, z),
            "identity": lambda: z}[name]()


def _dact(z, name):
    return {"relu": lambda: (z > 0) * 1.0, "tanh": lambda: 1 - np.tanh(z) ** 2,
            "softplus": lambda: 1 / (1 + np.exp(-z)), "identity": lambda: np.ones_like(z)}[name]()


def _layers(spec, flat):
    off = spec.offsets
    Ws = [flat[off[l, 0]:off[l, 1]].reshape(sh) for l, sh in enumerate(spec.weight_shapes)]
    bs = [flat[off[l, 1]:off[l, 2]] if spec.bias else np.zeros(sh[0]) for l, sh in enumerate(spec.weight_shapes)]
    return Ws, bs


def ref_loss_grad(spec, flat, X, y):
    """Mean loss, flat gradient, per-sample losses and correct flags (float64 numpy)."""
    flat = flat.astype(np.float64)
    Ws, bs = _layers(spec, flat)
    A = [X.astype(np.float64)]
    Zs = []
    for l in range(spec.n_layers):
        z = A[-1] @ Ws[l].T + bs[l]
        Zs.append(z)
        A.append(_act(z, spec.activation) if l < spec.n_layers - 1 else z)
    z = A[-1]
    n = X.shape[0]
    onehot = np.eye(spec.n_classes)[y]
    if spec.loss == "cross_entropy":
        lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
        losses = lse - z[np.arange(n), y]
        d = (np.exp(z - lse[:, None]) - onehot) / n
    else:
        losses = 0.5 * ((z - onehot) ** 2).sum(1)
        d = (z - onehot) / n
    g = np.zeros_like(flat)
    gW, gb = _layers(spec, g)
    for l in range(spec.n_layers - 1, -1, -1):
        gW[l][...] = d.T @ A[l]
        if spec.bias:
            gb[l][...] = d.sum(0)
        if l > 0:
            d = (d @ Ws[l]) * _dact(Zs[l - 1], spec.activation)
    return losses.mean(), g, losses, (z.argmax(1) == y)


@nb.njit
def _row_draws(states, j, kind, alpha, n, keep, single):
    """Noise of row j (stream j): ``entry`` draws only where keep != 0 (masked entries draw nothing), in
    float32 from one stream output each for a float32 network (``single``)."""
    out = np.zeros(n)
    if kind == NOISE_NEURON:
        x = sk.sas_draw(states, j, alpha)
        out[:] = x
    elif kind == NOISE_ELLIPTICAL:
        r = sk.sub_gaussian_factor_draw(states, j, alpha)
        for i in range(n):
            out[i] = r * cpu_normal(states, j)
    else:
        for i in range(n):
            if keep[i] != 0:
                out[i] = sas32_draw(states, j, alpha) if single else sk.sas_draw(states, j, alpha)
    return out


def ref_steps(cfg, flat, vel, mask, states, X, y, idx, lrs, avg_flags):
    """The documented step, in float64 numpy; noise from the CPU streams. Returns θ, v, avg, loss_sum, correct."""
    spec = cfg.spec
    B = cfg.batch_size
    theta = flat.astype(np.float64).copy()
    v = vel.astype(np.float64).copy()
    avg = np.zeros_like(theta)
    m = mask.astype(np.float64) if cfg.has_mask else np.ones_like(theta)
    states = states.copy()
    loss_sum, correct = 0.0, 0
    for s, lr in enumerate(lrs):
        bi = idx[s * B:(s + 1) * B]
        _, g, losses, ok = ref_loss_grad(spec, theta, X[bi], y[bi])
        loss_sum += losses.sum()
        correct += int(ok.sum())
        g = g + cfg.weight_decay * theta
        if cfg.momentum > 0:
            v = cfg.momentum * v + g
            g = v
        theta = theta - lr * g
        if cfg.noise_layers:
            amp = cfg.noise.sigma * lr ** (1 / cfg.noise.alpha)
            row = 0
            off = spec.offsets
            for l in cfg.noise_layers:
                o, i = spec.weight_shapes[l]
                W = theta[off[l, 0]:off[l, 1]].reshape(o, i)
                Ml = m[off[l, 0]:off[l, 1]].reshape(o, i)
                for j in range(o):
                    W[j] += amp * _row_draws(states, row, NOISE_CODES[cfg.noise.kind], cfg.noise.alpha, i, Ml[j],
                                                  spec.np_dtype == np.float32)
                    row += 1
        theta *= m
        v *= m
        if avg_flags[s]:
            avg += theta
    return theta, v, avg, loss_sum, correct


# ------------------------------------------------------------------------------ tests
def _data(spec, n, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, spec.sizes[0])).astype(spec.np_dtype)
    y = rng.integers(0, spec.n_classes, n).astype(np.int32)
    return X, y


@pytest.mark.parametrize(
    "spec",
    [
        MLPSpec((5, 4, 3), activation="tanh", dtype="float64"),
        MLPSpec((6, 3, 4, 2), activation="softplus", loss="squared", bias=False, dtype="float64"),
    ],
)
def test_gradient_matches_numpy_and_finite_differences(be, spec):
    X, y = _data(spec, 7, 0)
    p = init_params(spec, seed=1)
    loss, g = be.gradient(spec, p, X, y)
    ref_loss, ref_g, _, _ = ref_loss_grad(spec, p.flat, X, y)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(g, ref_g, rtol=1e-10, atol=1e-13)
    # central differences on 5 coordinates: error O(h²) ~ 1e-10 for h = 1e-5
    for k in np.random.default_rng(2).choice(spec.n_params, 5, replace=False):
        e = np.zeros(spec.n_params)
        e[k] = 1e-5
        fd = (ref_loss_grad(spec, p.flat + e, X, y)[0] - ref_loss_grad(spec, p.flat - e, X, y)[0]) / 2e-5
        assert abs(g[k] - fd) < 1e-7


@pytest.mark.parametrize(
    "kind,momentum,wd,has_mask",
    [("entry", 0.9, 1e-3, True), ("neuron", 0.0, 0.0, False), ("elliptical", 0.5, 0.0, True), (None, 0.9, 0.0, False)],
)
def test_run_steps_matches_reference(be, kind, momentum, wd, has_mask):
    spec = MLPSpec((6, 5, 3))  # float32, ReLU, cross-entropy, biases
    B, n_steps = 4, 3
    noise = None if kind is None else NoiseConfig(alpha=1.5, sigma=0.3, kind=kind)
    cfg = StepConfig(spec, B, momentum=momentum, weight_decay=wd, noise=noise, has_mask=has_mask, averaging=True)
    X, y = _data(spec, 10, 3)
    p = init_params(spec, seed=4)
    rng = np.random.default_rng(5)
    mask = (rng.random(spec.n_params) < 0.8).astype(np.uint8) if has_mask else np.ones(spec.n_params, np.uint8)
    flat0 = p.flat * mask
    states = init_states(cfg.n_noise_streams, 77)
    idx = rng.integers(0, 10, n_steps * B).astype(np.int64)
    lrs = np.array([0.1, 0.05, 0.05])
    avg_flags = np.array([0, 1, 1], np.uint8)
    P = spec.n_params
    bufs = RunBuffers(
        params=be.to_device(flat0),
        velocity=be.to_device(np.zeros(P, np.float32)) if momentum else be.empty(0, np.float32),
        mask=be.to_device(mask) if has_mask else be.empty(0, np.uint8),
        noise_states=be.to_device(states) if noise else be.empty((0, 2), np.uint64),
        avg_sum=be.to_device(np.zeros(P)),
    )
    ws = be.workspace(cfg, eval_batch_size=8)
    res = be.run_steps(ws, cfg, bufs, be.to_device(X), be.to_device(y), idx, lrs, avg_flags)
    th, v, avg, loss_sum, correct = ref_steps(cfg, flat0, np.zeros(P), mask, states, X, y, idx, lrs, avg_flags)
    assert (res.n_done, res.diverged, res.correct) == (n_steps, False, correct)
    np.testing.assert_allclose(res.loss_sum, loss_sum, rtol=1e-5)
    # float32 training vs float64 reference: a few ulp per operation, 3 steps
    np.testing.assert_allclose(be.to_host(bufs.params), th, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(be.to_host(bufs.avg_sum), avg, rtol=1e-4, atol=2e-5)
    if momentum:
        np.testing.assert_allclose(be.to_host(bufs.velocity), v, rtol=1e-4, atol=1e-5)
    if has_mask:
        assert np.all(be.to_host(bufs.params)[mask == 0] == 0)
    # evaluation and logits of the trained parameters
    loss_e, corr_e = be.evaluate(ws, spec, bufs.params, be.to_device(X), be.to_device(y))
    _, _, losses, ok = ref_loss_grad(spec, be.to_host(bufs.params), X, y)
    np.testing.assert_allclose(loss_e, losses.sum(), rtol=1e-5)
    assert corr_e == ok.sum()


@pytest.mark.parametrize("has_mask", [False, True])
def test_run_steps_matches_cpu_backend(be, has_mask):
    # entry noise with a mask: both backends draw only for unmasked entries (API.md), so the
    # streams advance by the same counts and the parameters agree
    cpu = get_backend("cpu")
    spec = MLPSpec((6, 5, 3))
    cfg = StepConfig(spec, 4, momentum=0.9, noise=NoiseConfig(alpha=1.7, sigma=0.2, kind="entry"),
                     has_mask=has_mask)
    X, y = _data(spec, 8, 6)
    idx = np.arange(8, dtype=np.int64)
    lrs = np.array([0.1, 0.1])
    mask = (np.random.default_rng(8).random(spec.n_params) < 0.6).astype(np.uint8)
    flat0 = init_params(spec, seed=0).flat * (mask if has_mask else 1)
    states = init_states(cfg.n_noise_streams, 9)
    out = []
    for b in (be, cpu):
        bufs = RunBuffers(b.to_device(flat0.copy()), b.to_device(np.zeros_like(flat0)),
                          b.to_device(mask) if has_mask else b.empty(0, np.uint8),
                          b.to_device(states.copy()), b.empty(0, np.float64))
        try:
            ws = b.workspace(cfg, 8)
            r = b.run_steps(ws, cfg, bufs, b.to_device(X), b.to_device(y), idx, lrs, np.zeros(2, np.uint8))
        except (NotImplementedError, ImportError, AttributeError) as exc:  # CPU backend not written yet
            pytest.skip(f"CPU backend unavailable: {exc!r}")
        out.append((r, b.to_host(bufs.params), b.to_host(bufs.noise_states)))
    (rg, pg, sg), (rc, pc, sc) = out
    assert rg.n_done == rc.n_done and rg.correct == rc.correct
    np.testing.assert_allclose(rg.loss_sum, rc.loss_sum, rtol=1e-5)
    np.testing.assert_allclose(pg, pc, rtol=1e-4, atol=1e-5)
    assert np.array_equal(sg, sc)  # same number of draws from every stream


@pytest.mark.parametrize("case", ["overflow", "max_loss"])
def test_divergence_is_reported_like_cpu(be, case):
    # semantics of the CPU backend: the diverging step counts as done, its update is skipped
    spec = MLPSpec((4, 3, 2))
    X, y = _data(spec, 4, 1)
    if case == "overflow":
        cfg = StepConfig(spec, 2)
        lrs = np.array([0.1, 1e30, 0.1, 0.1])  # step 1 blows the weights up; step 2's loss is not finite
    else:
        cfg = StepConfig(spec, 2, max_loss=0.5)  # a mean batch loss above 0.5 stops the run
        lrs = np.full(4, 0.1)
    out = []
    for b in (be, get_backend("cpu")):
        bufs = RunBuffers(b.to_device(init_params(spec, seed=0).flat.copy()), b.empty(0, np.float32),
                          b.empty(0, np.uint8), b.empty((0, 2), np.uint64), b.empty(0, np.float64))
        r = b.run_steps(b.workspace(cfg), cfg, bufs, b.to_device(X), b.to_device(y), np.arange(8) % 4, lrs,
                        np.zeros(4, np.uint8))
        out.append((r, b.to_host(bufs.params)))
    (rg, pg), (rc, pc) = out
    assert rg.diverged and rc.diverged
    assert rg.n_done == rc.n_done == (3 if case == "overflow" else 1)
    assert rg.reason == rc.reason == (1 if case == "overflow" else 2)
    assert rg.correct == rc.correct
    if case == "max_loss":
        np.testing.assert_allclose(rg.loss_sum, rc.loss_sum, rtol=1e-5)
        assert np.array_equal(pg, init_params(spec, seed=0).flat)  # no update was applied


@pytest.mark.parametrize("case", ["step", "noise", "nan"])
def test_weight_ceiling_is_checked_every_step_like_cpu(be, case):
    # max_weight: the step whose update (and noise) leaves some |θ_j| above it ends the chunk,
    # counted as done and with its update applied; code 3, or 4 for a non-finite θ (DIVERGENCE_REASONS)
    spec = MLPSpec((4, 3, 2))
    X, y = _data(spec, 4, 1)
    lrs = np.full(5, 0.1)
    noise = None
    if case == "step":
        lrs[2] = 300.0  # gradients O(1): step 2 moves weights by O(100)
    elif case == "noise":
        noise = NoiseConfig(alpha=0.5, sigma=1e3, kind="neuron")  # jumps σ η^{1/α} ξ, ξ heavy-tailed
    else:
        lrs[1] = 1e300  # step 1 overflows the float32 weights to ±inf (or NaN)
    cfg = StepConfig(spec, 2, noise=noise, max_weight=20.0)
    states = init_states(cfg.n_noise_streams, 3)
    out = []
    for b in (be, get_backend("cpu")):
        bufs = RunBuffers(b.to_device(init_params(spec, seed=0).flat.copy()), b.empty(0, np.float32),
                          b.empty(0, np.uint8), b.to_device(states.copy()), b.empty(0, np.float64))
        r = b.run_steps(b.workspace(cfg), cfg, bufs, b.to_device(X), b.to_device(y), np.arange(10) % 4, lrs,
                        np.zeros(5, np.uint8))
        out.append((r, b.to_host(bufs.params)))
    (rg, pg), (rc, pc) = out
    assert rg.diverged and rc.diverged and rg.n_done == rc.n_done
    assert rg.reason == rc.reason == (4 if case == "nan" else 3)
    if case == "step":
        assert rc.n_done == 3
    if case != "nan":
        assert np.abs(pc).max() > 20.0 and np.abs(pg).max() > 20.0
        np.testing.assert_allclose(pg, pc, rtol=1e-4, atol=1e-5)
    # without the ceiling the same steps run to the end (finite cases)
    if case != "nan":
        cfg0 = StepConfig(spec, 2, noise=noise)
        for b in (be, get_backend("cpu")):
            bufs = RunBuffers(b.to_device(init_params(spec, seed=0).flat.copy()), b.empty(0, np.float32),
                              b.empty(0, np.uint8), b.to_device(states.copy()), b.empty(0, np.float64))
            r = b.run_steps(b.workspace(cfg0), cfg0, bufs, b.to_device(X), b.to_device(y), np.arange(10) % 4,
                            lrs, np.zeros(5, np.uint8))
            assert r.n_done == 5 and r.reason == 0


def test_train_noise_blow_up_is_diverged_by_default_on_cuda():
    from simulations.nn import SGD, StopRules, train

    spec = MLPSpec((6, 5, 3))
    X, y = _data(spec, 12, 8)
    kw = dict(optimizer=SGD(lr=0.1), noise=NoiseConfig(alpha=0.5, sigma=1e3, kind="neuron"), batch_size=4, seed=2)
    rg = train(spec, (X, y), backend="cuda", stop=StopRules(max_steps=30), **kw)
    rc = train(spec, (X, y), backend="cpu", stop=StopRules(max_steps=30), **kw)
    assert rg.status == rc.status == "diverged" and rg.steps == rc.steps < 30
    assert rg.reason == rc.reason
    off = StopRules(max_steps=30, max_loss=None, max_weight=None)
    assert train(spec, (X, y), backend="cuda", stop=off, **kw).status == "completed"


def test_train_with_cuda_backend_matches_cpu():
    from simulations.nn import SGD, StopRules, train

    spec = MLPSpec((6, 5, 3))
    X, y = _data(spec, 12, 8)
    kw = dict(optimizer=SGD(lr=0.1, momentum=0.9), noise=NoiseConfig(alpha=1.8, sigma=0.1, kind="neuron"),
              batch_size=4, stop=StopRules(max_steps=4), seed=2)
    rg = train(spec, (X, y, X[:5], y[:5]), backend="cuda", **kw)
    rc = train(spec, (X, y, X[:5], y[:5]), backend="cpu", **kw)
    assert rg.status == rc.status and rg.steps == rc.steps
    np.testing.assert_allclose(rg.params.flat, rc.params.flat, rtol=1e-4, atol=1e-5)
    for key in ("train_loss", "test_loss"):
        np.testing.assert_allclose(rg.final[key], rc.final[key], rtol=1e-4)
    assert rg.final["test_acc"] == rc.final["test_acc"]


# ---------------------------------------------------------------------------- bad input
def test_no_device_gives_clear_error(monkeypatch):
    from simulations._core import device

    monkeypatch.setattr(cuda, "is_available", lambda: False)
    with pytest.raises(CudaUnavailableError, match="no CUDA device"):
        device.require_cuda()
    assert issubclass(CudaUnavailableError, RuntimeError)


def test_no_device_without_simulator_subprocess():
    code = (
        "from numba import cuda\n"
        "import sys\n"
        "if cuda.is_available(): sys.exit(3)\n"
        "from simulations.nn import get_backend\n"
        "try:\n    get_backend('cuda')\nexcept RuntimeError as e:\n    print('ERR', e); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if r.returncode == 3:
        pytest.skip("a real CUDA device is present")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "backend='cuda'" in r.stdout and "NUMBA_ENABLE_CUDASIM" in r.stdout


def test_wrong_device_and_dtype_errors(be):
    spec = MLPSpec((4, 3, 2))
    cfg = StepConfig(spec, 2)
    ws = be.workspace(cfg)
    X, y = _data(spec, 4, 0)
    bufs = RunBuffers(be.to_device(init_params(spec).flat), be.empty(0, np.float32), be.empty(0, np.uint8),
                      be.empty((0, 2), np.uint64), be.empty(0, np.float64))
    args = (np.zeros(2, np.int64), np.array([0.1]), np.zeros(1, np.uint8))
    with pytest.raises(TypeError, match="X must be a CUDA device array"):
        be.run_steps(ws, cfg, bufs, X, be.to_device(y), *args)  # host data
    with pytest.raises(TypeError, match="X must have dtype float32"):
        be.run_steps(ws, cfg, bufs, be.to_device(X.astype(np.float64)), be.to_device(y), *args)
    with pytest.raises(TypeError, match="y must be an int32 or int64"):
        be.run_steps(ws, cfg, bufs, be.to_device(X), be.to_device(y.astype(np.float32)), *args)
    bad = RunBuffers(init_params(spec).flat, *list(vars(bufs).values())[1:])
    with pytest.raises(TypeError, match="params must be a CUDA device array"):
        be.run_steps(ws, cfg, bad, be.to_device(X), be.to_device(y), *args)
    with pytest.raises(ValueError, match="idx must contain row indices"):
        be.run_steps(ws, cfg, bufs, be.to_device(X), be.to_device(y), np.array([0, 9]), *args[1:])


@given(dt=st.sampled_from(["float16", "float32", "float64", "int32", "uint8", "complex64"]),
       want=st.sampled_from(["float32", "float64"]))
def test_check_device_array_dtype_property(dt, want):
    arr = cuda.to_device(np.zeros(3, dtype=dt))
    if dt == want:
        assert check_device_array("x", arr, want).shape == (3,)
    else:
        with pytest.raises(TypeError, match=f"x must have dtype {want}"):
            check_device_array("x", arr, want)
    with pytest.raises(TypeError, match="x must be a CUDA device array"):
        check_device_array("x", np.zeros(3, dtype=dt), want)


@given(ndim=st.integers(1, 3), dt=st.sampled_from(["float32", "float64", "int64"]), nan=st.booleans())
def test_to_device_validates_host_arrays(ndim, dt, nan):
    from simulations._core.device import to_device

    arr = np.arange(2 ** ndim, dtype=dt).reshape((2,) * ndim)
    if nan and dt != "int64":
        arr.flat[0] = np.nan
    if ndim != 2:
        with pytest.raises(ValueError, match="x must have ndim in"):
            to_device("x", arr, np.float32, ndim=2)
    elif nan and dt != "int64":
        with pytest.raises(ValueError, match="x must contain only finite values"):
            to_device("x", arr, np.float32, ndim=2)
    else:
        d = to_device("x", arr, np.float32, ndim=2)
        out = d.copy_to_host()
        assert out.dtype == np.float32 and np.array_equal(out, arr.astype(np.float32))
        assert to_device("x", d, np.float32) is d  # device arrays pass through unchanged
