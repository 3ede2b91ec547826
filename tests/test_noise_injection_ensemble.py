"""Checks of simulations.noise_injection.ensemble: the ensemble kernel against a plain numpy reference that
replays the same random streams, the law of the injected noise (KS against scipy), the
pruning metrics against simulations.compressibility.api, divergence reporting, seeding, the one
kernel argument list, validation. (The width trend of the pruning error: test_noise_injection_study.py.)"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from simulations import noise_injection as tl
from simulations._core.noise import NOISE_KINDS, NoiseSpec
from simulations._core.seeding import kernel_seed, replicate
from simulations.stable.cpu import sas_draw, sub_gaussian_factor_draw
from simulations.stable.streams import init_states, normal, uniform


# ----------------------------------------------------------------------------- reference
def _act(name, z):
    return {"tanh": np.tanh, "relu": lambda u: np.maximum(u, 0.0), "identity": lambda u: u,
            "softplus": lambda u: np.logaddexp(0.0, u)}[name](z)


def _dact(name, z):
    return {"tanh": lambda u: 1 - np.tanh(u) ** 2, "relu": lambda u: (u > 0).astype(float),
            "identity": np.ones_like, "softplus": lambda u: 1 / (1 + np.exp(-u))}[name](z)


def reference_train(W0, A0, *, alpha, sigma, lr, lr_a, steps, batch, X, Y, teacher, noise, activation, loss,
                    train_a, noise_out, states, k):
    """Straightforward numpy SGD (matrix form, neurons as rows) replaying stream k's draws.

    The draw order follows the kernel's documented contract; the arithmetic is independent
    (whole-batch matrices instead of per-sample loops). W0 (n, d) and A0 (c, n) are (out, in);
    returns the trained (W, A) in the same layout.
    """
    W = W0.copy()  # (n, d)
    A = A0.T.copy()  # (n, c)
    n, d = W.shape
    c = A.shape[1]
    for _ in range(steps):
        if X is not None:
            N = X.shape[0]
            idx = [min(int(uniform(states, k) * N), N - 1) for _ in range(batch)]
            xb, yb = X[idx], Y[idx]
        else:
            xb = np.empty((batch, d))
            yb = np.empty((batch, c))
            for s in range(batch):
                xb[s] = [normal(states, k) for _ in range(d)]
                yb[s] = teacher(xb[s][None, :])[0]
                if teacher.label_noise > 0:
                    yb[s] += teacher.label_noise * np.array([normal(states, k) for _ in range(c)])
        Z = xb @ W.T  # (b, n)
        H = _act(activation, Z)
        F = H @ A / n  # (b, c)
        if loss == "squared":
            R = F - yb
        else:
            P = np.exp(F - F.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
            R = P - yb
        gW = ((R @ A.T) * _dact(activation, Z)).T @ xb / batch  # n × ∇_W of the batch loss
        gA = H.T @ R / batch
        W -= lr * gW
        if train_a:
            A -= lr_a * gA
        if sigma > 0:
            sc = sigma * lr ** (1 / alpha)
            if noise == "neuron":
                W += sc * np.array([sas_draw(states, k, alpha) for _ in range(n)])[:, None]
            elif noise == "entry":
                E = np.array([sas_draw(states, k, alpha) for _ in range(d * n)]).reshape(d, n)
                W += sc * E.T
            else:
                for j in range(n):
                    r = sub_gaussian_factor_draw(states, k, alpha)
                    W[j] += sc * r * np.array([normal(states, k) for _ in range(d)])
            if noise_out:
                A += sc * np.array([sas_draw(states, k, alpha) for _ in range(n * c)]).reshape(n, c)
    return W, A.T


CASES = [
    # noise, activation, loss, train_a, online, noise_out
    ("neuron", "tanh", "squared", False, False, False),
    ("entry", "relu", "squared", True, False, False),
    ("elliptical", "tanh", "squared", False, True, False),
    ("neuron", "identity", "cross_entropy", True, False, True),
    ("entry", "softplus", "squared", True, False, True),
]


@pytest.mark.parametrize("noise,activation,loss,train_a,online,noise_out", CASES)
def test_kernel_matches_reference(noise, activation, loss, train_a, online, noise_out):
    d, c = 3, (3 if loss == "cross_entropy" else 2)
    widths = np.array([5, 2, 7])  # ragged: offsets into the flat buffers are exercised
    alphas = np.array([1.5, 1.8, 2.0])
    sigmas = np.array([0.3, 0.0, 0.5])
    lrs = np.array([0.05, 0.1, 0.02])
    steps, batch, seed = 12, 4, 123
    teacher = tl.make_teacher(d, 3, c, activation="tanh", label_noise=0.1, seed=5)
    if online:
        data, X, Y = None, None, None
    else:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((9, d))
        Y = tl.one_hot(rng.integers(0, c, 9), c) if loss == "cross_entropy" else rng.standard_normal((9, c))
        data = (X, Y)
    res = tl.train_ensemble(widths, alphas, sigmas, lrs, steps=steps, data=data, teacher=teacher if online else None,
                            activation=activation, loss=loss, batch_size=batch,
                            train_second_layer=train_a, noise=NoiseSpec(noise, (0, 1) if noise_out else None),
                            second_init="gaussian", seed=seed, eval_every=5)
    assert np.all(res.status == 0)
    W0s, A0s = tl.init_weights(widths, d, c, np.arange(3), seed=seed, second_init="gaussian")
    states = np.vstack([init_states(1, kernel_seed(replicate(seed, r), "sgd")) for r in range(3)])
    for k in range(3):
        W, A = reference_train(W0s[k], A0s[k], alpha=alphas[k], sigma=sigmas[k], lr=lrs[k], lr_a=lrs[k],
                               steps=steps, batch=batch, X=X, Y=Y, teacher=teacher, noise=noise,
                               activation=activation, loss=loss, train_a=train_a, noise_out=noise_out,
                               states=states, k=k)
        np.testing.assert_allclose(res.hidden(k), W, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(res.second(k), A, rtol=1e-9, atol=1e-11)
    assert list(res.steps_recorded) == [5, 10, 12]


def test_thread_count_does_not_change_results():
    g = tl.grid([8, 30], [1.5, 2.0], [0.5], n_seeds=3, lr=0.05)
    t = tl.make_teacher(4, 3, seed=1)
    kw = dict(steps=20, teacher=t, replicate=g["replicate"], seed=9, noise="entry")
    r1 = tl.train_ensemble(g["width"], g["alpha"], g["sigma"], g["lr"], threads=1, **kw)
    r2 = tl.train_ensemble(g["width"], g["alpha"], g["sigma"], g["lr"], threads=2, **kw)
    np.testing.assert_array_equal(r1.hidden_flat, r2.hidden_flat)
    np.testing.assert_array_equal(r1.prune_error, r2.prune_error)


def test_pruning_metrics_match_compressibility_module():
    from simulations.compressibility import api as cm

    g = tl.grid([10, 37, 200], [1.5], [1.0], n_seeds=2, lr=0.05)
    t = tl.make_teacher(4, 3, seed=1)
    X, Y = tl.teacher_student_data(t, 64, seed=2)
    kappas = (0.1, 0.25, 0.7)
    res = tl.train_ensemble(g["width"], g["alpha"], g["sigma"], g["lr"], replicate=g["replicate"], steps=30,
                            data=(X, Y), eval_data=(X, Y), kappas=kappas, prune_eps=0.1, noise="entry")
    for k in range(res.K):
        norms = res.neuron_norms(k)
        for q, kap in enumerate(kappas):
            assert res.prune_error[k, -1, q] == pytest.approx(cm.relative_error_at(norms, kap), rel=1e-9, abs=1e-12)
            # Frobenius definition, independently: zero the dropped neurons of the weight matrix
            W = res.hidden(k)
            keep = np.argsort(norms)[::-1][: cm.kept_count(kap, norms.size)]
            Wp = np.zeros_like(W)
            Wp[keep] = W[keep]
            assert res.prune_error[k, -1, q] == pytest.approx(np.linalg.norm(W - Wp) / np.linalg.norm(W), rel=1e-9)
        # Wan et al.: squared relative Frobenius error <= 0.1  <=>  relative error <= sqrt(0.1)
        assert res.prunable_fraction[k, -1] == pytest.approx(cm.prunable_fraction(norms, math.sqrt(0.1)), abs=1e-12)
        assert res.norm_max[k, -1] == pytest.approx(norms.max(), rel=1e-12)
        assert res.norm_mean[k, -1] == pytest.approx(norms.mean(), rel=1e-12)
        mse = 0.5 * np.mean(np.sum((res.predict(k, X) - Y) ** 2, axis=1))
        assert res.eval_loss[k, -1] == pytest.approx(mse, rel=1e-9)


def test_every_evaluation_is_that_of_the_network_trained_so_far():
    """The evaluation after step t of a long run equals the last evaluation of a run of t steps (same
    streams, so the same weights): cross-entropy loss, accuracy, norms and pruning metrics recomputed
    here in plain numpy from the weights; also with the evaluation split into blocks of one network."""
    from simulations.noise_injection import metrics

    rng = np.random.default_rng(3)
    d, c = 5, 4
    X = rng.standard_normal((40, d))
    Y = tl.one_hot(rng.integers(0, c, 40), c)
    g = tl.grid([6, 6, 11], [1.7], [0.5], lr=0.2)
    kw = dict(data=(X, Y), eval_data=(X, Y), loss="cross_entropy", kappas=(0.3, 0.5), noise="entry", seed=5,
              replicate=[0, 1, 2], batch_size=8)
    long = tl.train_ensemble(g["width"], g["alpha"], g["sigma"], g["lr"], steps=12, eval_every=4, **kw)
    assert list(long.steps_recorded) == [4, 8, 12]
    for e, t in enumerate(long.steps_recorded):
        short = tl.train_ensemble(g["width"], g["alpha"], g["sigma"], g["lr"], steps=int(t), **kw)
        for k in range(3):
            W, A = short.hidden(k), short.second(k)
            F = _act("tanh", X @ W.T) @ A.T / W.shape[0]
            logp = F - F.max(axis=1, keepdims=True)
            logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
            assert long.eval_loss[k, e] == pytest.approx(-np.mean(np.sum(Y * logp, axis=1)), rel=1e-9)
            assert long.eval_accuracy[k, e] == np.mean(F.argmax(axis=1) == Y.argmax(axis=1))
            # mean minibatch loss: segments of 4 steps each, so the long run's means average to the short one's
            assert np.mean(long.loss[k, : e + 1]) == pytest.approx(short.loss[k, -1], rel=1e-12)
            sq = np.sort(np.sum(W**2, axis=1))
            assert long.norm_max[k, e] == pytest.approx(math.sqrt(sq[-1]), rel=1e-12)
            n = sq.size
            for q, kap in enumerate((0.3, 0.5)):
                dropped = sq[: n - math.ceil(kap * n)].sum()
                assert long.prune_error[k, e, q] == pytest.approx(math.sqrt(dropped / sq.sum()), rel=1e-9)
            m = max(m for m in range(n + 1) if sq[:m].sum() <= 0.1 * sq.sum())
            assert long.prunable_fraction[k, e] == m / n
    # blocks of one network each give the same numbers
    old = metrics._EVAL_BLOCK
    try:
        metrics._EVAL_BLOCK = 1
        blocked = tl.train_ensemble(g["width"], g["alpha"], g["sigma"], g["lr"], steps=12, eval_every=4, **kw)
    finally:
        metrics._EVAL_BLOCK = old
    for name in ("eval_loss", "eval_accuracy", "prune_error", "prunable_fraction", "norm_mean", "loss"):
        np.testing.assert_allclose(getattr(blocked, name), getattr(long, name), rtol=1e-12)


def test_non_finite_weights_stop_a_network_at_the_evaluation():
    """Noise of scale 1e308 overflows the weights after the first step's update while its loss was
    finite: the evaluation after step 0 flags the network (its mean loss written, the rest NaN) and the
    kernel leaves it alone afterwards; the noise-free network beside it is untouched."""
    teacher = tl.make_teacher(3, 2, seed=0)
    res = tl.train_ensemble([30, 30], 1.5, [1e308, 0.0], 0.01, steps=3, eval_every=1, teacher=teacher,
                            noise="entry")
    assert res.status_names() == ["nonfinite", "ok"]
    assert res.fail_step[0] == 0 and res.fail_step[1] == -1
    assert np.isfinite(res.loss[0, 0]) and np.all(np.isnan(res.loss[0, 1:]))
    assert np.all(np.isnan(res.prune_error[0])) and np.all(np.isnan(res.norm_mean[0]))
    assert np.all(np.isfinite(res.prune_error[1])) and np.all(np.isfinite(res.loss[1]))


# ----------------------------------------------------------------------------- noise law
@pytest.mark.parametrize("noise", ["neuron", "entry", "elliptical"])
@pytest.mark.parametrize("alpha", [1.3, 2.0])
def test_noise_increments_have_stable_law(noise, alpha):
    """With x ≡ 0 the gradient vanishes, so W_T − W_0 is pure noise: after T steps every coordinate
    is SαS with scale σ(Tη)^{1/α} (self-similarity). KS test against scipy's levy_stable
    (S1 = S0 for β = 0); p-value threshold 1e-3, i.e. a 0.1% false-alarm rate per case."""
    n, d, steps, lr, sigma = 600, 2, 3, 0.01, 0.7
    X = np.zeros((4, d))
    Y = np.zeros((4, 1))
    res = tl.train_ensemble(n, alpha, sigma, lr, steps=steps, data=(X, Y), noise=noise, seed=11)
    W0, _ = tl.init_weights([n], d, 1, [0], seed=11)
    inc = res.hidden(0) - W0[0]  # (n, d)
    if noise == "neuron":
        np.testing.assert_allclose(inc[:, 0], inc[:, 1], rtol=1e-12, atol=1e-12)
        sample = inc[:, 0]
    else:
        sample = inc.ravel() if noise == "entry" else inc[:, 0]
    scale = sigma * (steps * lr) ** (1 / alpha)
    if alpha == 2.0:
        cdf = stats.norm(scale=scale * math.sqrt(2)).cdf  # SαS(σ) at α = 2 is N(0, 2σ²)
    else:
        cdf = stats.levy_stable(alpha, 0.0, scale=scale).cdf
    assert stats.kstest(sample, cdf).pvalue > 1e-3


# ----------------------------------------------------------------------------- divergence
def test_divergence_is_reported_as_status():
    teacher = tl.make_teacher(3, 2, seed=0)
    # relu + huge step: weights blow up to inf within a few steps; second network is sane
    res = tl.train_ensemble([20, 20], 2.0, 0.0, [1e200, 0.01], steps=50, teacher=teacher, activation="relu")
    assert res.status_names() == ["nonfinite", "ok"]
    assert 0 <= res.fail_step[0] < 50 and res.fail_step[1] == -1
    assert np.all(np.isfinite(res.loss[1]))
    # trained in segments between evaluations, a stopped network stays stopped (its failing step is kept)
    seg = tl.train_ensemble([20, 20], 2.0, 0.0, [1e200, 0.01], steps=50, teacher=teacher, activation="relu",
                            eval_every=2)
    np.testing.assert_array_equal(seg.fail_step, res.fail_step)
    np.testing.assert_array_equal(seg.hidden_flat, res.hidden_flat)


# ----------------------------------------------------------------------------- validation
def _small(**kw):
    base = dict(width=4, alpha=1.5, sigma=0.1, lr=0.01)
    base.update(kw)
    w, a, s, lr = base.pop("width"), base.pop("alpha"), base.pop("sigma"), base.pop("lr")
    return tl.train_ensemble(w, a, s, lr, steps=2, teacher=tl.make_teacher(2, 2, seed=0), **base)


@given(st.one_of(st.floats(max_value=0.0), st.floats(min_value=2.0001, max_value=1e6)))
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        _small(alpha=alpha)


@given(st.floats(max_value=-1e-300, min_value=-1e300))
def test_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        _small(sigma=sigma)


@given(st.integers(max_value=0, min_value=-10**6))
def test_bad_width(width):
    with pytest.raises(ValueError, match="width"):
        _small(width=width)


@given(st.text(min_size=1).filter(lambda s: s not in NOISE_KINDS))
def test_bad_noise_type(noise):
    with pytest.raises(ValueError, match="noise"):
        _small(noise=noise)


@given(st.integers().filter(lambda i: i not in (0, 1)))
def test_bad_layer_index(layer):
    with pytest.raises(ValueError, match="noise layers"):
        _small(noise=NoiseSpec("neuron", (layer,)))
    res = _small()
    with pytest.raises(ValueError, match="layer"):
        res.layer(0, layer)


def test_other_validation():
    with pytest.raises(ValueError, match="lr"):
        _small(lr=0.0)
    with pytest.raises(ValueError, match="activation"):
        _small(activation="gelu")
    with pytest.raises(ValueError, match="loss"):
        _small(loss="hinge")
    with pytest.raises(ValueError, match="width"):
        _small(width=[3, 4], alpha=[1.5, 1.6, 1.7])
    with pytest.raises(ValueError, match="exactly one"):
        tl.train_ensemble(4, 1.5, 0.1, 0.01, steps=2)
    with pytest.raises(ValueError, match="kappas"):
        _small(kappas=(1.5,))
    with pytest.raises(TypeError, match="steps"):
        tl.train_ensemble(4, 1.5, 0.1, 0.01, steps="x", teacher=tl.make_teacher(2, 2, seed=0))


def test_trains_on_mnist_subset(data_dir):
    """Real data passed as arrays: 4 networks (width 64, cross-entropy, trained second layer, α = 1.8
    noise) on 2000 MNIST images must beat chance (10%) by far: test accuracy > 60% after 300 steps."""
    from simulations.nn import load_dataset

    X, y = load_dataset("mnist", "train", root=data_dir, dtype=np.float64)
    Xt, yt = load_dataset("mnist", "test", root=data_dir, dtype=np.float64)
    X, y, Xt, yt = X[:2000], y[:2000], Xt[:1000], yt[:1000]
    res = tl.train_ensemble(64, 1.8, [0.0, 0.0, 0.01, 0.01], 0.5, steps=300, data=(X, tl.one_hot(y.astype(np.int64), 10)),
                            eval_data=(Xt, tl.one_hot(yt.astype(np.int64), 10)), loss="cross_entropy",
                            train_second_layer=True, batch_size=32, seed=1, init_scale=1.0)
    assert np.all(res.ok)
    assert np.all(res.final("eval_accuracy") > 0.6), res.final("eval_accuracy")


def test_tanh_fast_matches_libm():
    """The vectorisable tanh of the kernel against numpy's tanh: relative error ≤ 4 ulp over
    [−30, 30], tiny arguments (no cancellation near 0) and ±inf-like inputs."""
    from simulations.noise_injection.pointwise import tanh_fast

    z = np.concatenate([np.linspace(-30, 30, 4001), np.logspace(-300, 1.5, 500), -np.logspace(-300, 1.5, 500),
                        [0.0, 1e300, -1e300]])
    h = np.array([tanh_fast(v) for v in z])
    ref = np.tanh(z)
    assert np.all(np.abs(h - ref) <= 4 * np.finfo(float).eps * np.maximum(np.abs(ref), 1e-300))


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        tl.train_ensemble([4], [1.5], [0.1], [0.1], steps=1, backend="tpu")


# ----------------------------------------------------------------------------- one argument list, one seeding
def test_kernel_args_name_the_cpu_kernel_parameters():
    """KERNEL_FIELDS is the CPU kernel's parameter list after (first, last, t0, t1), in order, and every
    one is a field of EnsembleArgs (the CUDA launcher reads them by name)."""
    import inspect

    from simulations.noise_injection import cpu
    from simulations.noise_injection.kernel_args import KERNEL_FIELDS, EnsembleArgs

    assert set(KERNEL_FIELDS) <= set(EnsembleArgs._fields)
    for kernel in cpu.TRAIN_NETWORKS.values():
        params = tuple(inspect.signature(kernel.py_func).parameters)
        assert params[:4] == ("first", "last", "t0", "t1") and params[4:] == KERNEL_FIELDS


def test_same_seed_same_numbers_and_replicates_independent():
    """Same seed ⇒ same weights and histories; replicates get different initial weights and streams,
    and the initial neurons of a replicate do not depend on the width (common random numbers)."""
    t = tl.make_teacher(3, 2, seed=4)
    kw = dict(steps=5, teacher=t, noise="entry", seed=21)
    r1 = tl.train_ensemble([6, 6, 9], 1.5, 0.2, 0.05, replicate=[0, 1, 0], **kw)
    r2 = tl.train_ensemble([6, 6, 9], 1.5, 0.2, 0.05, replicate=[0, 1, 0], **kw)
    np.testing.assert_array_equal(r1.hidden_flat, r2.hidden_flat)
    np.testing.assert_array_equal(r1.loss, r2.loss)
    W, A = tl.init_weights([6, 6, 9], 3, 1, [0, 1, 0], seed=21)
    assert not np.allclose(W[0], W[1])
    np.testing.assert_array_equal(W[0], W[2][:6])
    np.testing.assert_array_equal(A[0], A[2][:, :6])
    assert not np.array_equal(r1.hidden(0), r1.hidden(1))
    states = tl.stream_states(21, [0, 1, 0])
    np.testing.assert_array_equal(states[0], states[2])
    assert not np.array_equal(states[0], states[1])


def test_noise_spec_and_kind_name_agree():
    """``noise="entry"`` is ``NoiseSpec("entry")``; layers ``None`` is the hidden layer only, ``(0,)``."""
    kw = dict(steps=3, teacher=tl.make_teacher(2, 2, seed=0), seed=5)
    a = tl.train_ensemble(4, 1.5, 0.3, 0.05, noise="entry", **kw)
    b = tl.train_ensemble(4, 1.5, 0.3, 0.05, noise=NoiseSpec("entry", (0,)), **kw)
    np.testing.assert_array_equal(a.hidden_flat, b.hidden_flat)
    np.testing.assert_array_equal(a.second_flat, b.second_flat)
    with pytest.raises(TypeError, match="noise"):
        tl.train_ensemble(4, 1.5, 0.3, 0.05, noise=3, **kw)


@pytest.mark.parametrize("call, err, match", [
    (lambda: tl.grid([], [1.5], [0.1]), ValueError, "widths"),
    (lambda: tl.grid([4], [], [0.1]), ValueError, "alphas"),
    (lambda: tl.grid([4], [1.5], [[0.1, 0.2]]), ValueError, "sigmas"),
    (lambda: tl.grid("4", [1.5], [0.1]), TypeError, "widths"),
    (lambda: tl.stream_states(0, [[1, 2]]), TypeError, "replicates"),
    (lambda: tl.stream_states(0, [0.5]), TypeError, "replicates"),
    (lambda: tl.stream_states(0, [-1]), ValueError, "replicates"),
    (lambda: tl.stream_states(0, [2**32]), ValueError, "replicates"),
])
def test_grid_and_streams_refuse_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()
    assert tl.stream_states(0, [0, 1, 0]).shape == (3, 2)


def test_ensemble_size_weights_and_history_are_bounded_up_front():
    from simulations.noise_injection.ensemble import HISTORY_MAX, NETWORKS_MAX, WEIGHTS_MAX

    teacher = tl.make_teacher(3, 4, seed=0)
    with pytest.raises(ValueError, match="WEIGHTS_MAX"):
        tl.train_ensemble(2**30, 1.5, 0.1, 0.1, steps=1, teacher=teacher)
    with pytest.raises(ValueError, match="WEIGHTS_MAX"):
        tl.init_weights([2**30], 3)
    with pytest.raises(ValueError, match="HISTORY_MAX"):
        tl.train_ensemble(4, 1.5, 0.1, 0.1, steps=HISTORY_MAX, eval_every=1, teacher=teacher)
    with pytest.raises(ValueError, match="NETWORKS_MAX"):
        tl.grid(list(range(1, 2**12 + 1)), [1.5] * 2**12, [0.1], 2)
    with pytest.raises(ValueError, match="n_seeds"):
        tl.grid([4], [1.5], [0.1], NETWORKS_MAX + 1)
    assert WEIGHTS_MAX == 2**31


@pytest.mark.parametrize("call, err, match", [
    (lambda: tl.grid((1.5,), (1.5,), (0.5,)), TypeError, "widths"),
    (lambda: tl.grid((True,), (1.5,), (0.5,)), TypeError, "widths"),
    (lambda: tl.grid(None, (1.5,), (0.5,)), TypeError, "widths"),
    (lambda: tl.grid((0,), (1.5,), (0.5,)), ValueError, "widths"),
    (lambda: tl.grid((4, 8), [1j], (0.5,)), TypeError, "alphas"),
    (lambda: tl.grid((4, 8), None, (0.5,)), TypeError, "alphas"),
    (lambda: tl.grid((4, 8), (0.0,), (0.5,)), ValueError, "alphas"),
    (lambda: tl.grid((4, 8), (1.5,), None), TypeError, "sigmas"),
    (lambda: tl.grid((4, 8), (1.5,), (float("nan"),)), ValueError, "sigmas"),
    (lambda: tl.grid((4, 8), (1.5,), (0.5,), lr_exponent="a"), TypeError, "lr_exponent"),
    (lambda: tl.grid((4, 8), (1.5,), (0.5,), lr_exponent=1j), TypeError, "lr_exponent"),
    (lambda: tl.grid((4, 8), (1.5,), (0.5,), lr_exponent=True), TypeError, "lr_exponent"),
    (lambda: tl.grid((4, 8), (1.5,), (0.5,), lr_exponent=1.0), ValueError, "lr_exponent needs lr"),
    (lambda: tl.grid((4, 8), (1.5,), (0.5,), lr=1.0, lr_exponent=-1e300), ValueError, "lr_exponent"),
    (lambda: tl.grid((4, 8), (1.5,), (0.5,), lr=1.0, lr_exponent=1e300), ValueError, "lr_exponent"),
])
def test_grid_names_the_axis_and_checks_lr_exponent(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_grid_lr_exponent_sets_the_power_law_step_sizes():
    g = tl.grid((4, 16), (1.5,), (0.5,), lr=2.0, lr_exponent=1.75)
    np.testing.assert_allclose(g["lr"], [2.0 * 4 ** -1.75, 2.0 * 16 ** -1.75])


@pytest.mark.parametrize("call, err, match", [
    (lambda: tl.init_weights("abc", 3), TypeError, "widths"),
    (lambda: tl.init_weights(None, 3), TypeError, "widths"),
    (lambda: tl.init_weights((1.5,), 3), TypeError, "widths"),
    (lambda: tl.init_weights((-1,), 3), ValueError, "widths"),
    (lambda: tl.init_weights((4, 8), 3, replicates="a"), TypeError, "replicates"),
    (lambda: tl.init_weights((4, 8), 3, replicates=1.5), TypeError, "replicates"),  # not truncated to 1
    (lambda: tl.init_weights((4, 8), 3, replicates=True), TypeError, "replicates"),
    (lambda: tl.init_weights((4, 8), 3, replicates=[1]), ValueError, "replicates"),
    (lambda: tl.init_weights((4, 8), 3, replicates=-1), ValueError, "replicates"),
    (lambda: tl.init_weights((4, 8), 3, replicates=2**63), ValueError, "replicates"),
    (lambda: tl.init_weights((4, 8), 3, replicates=2**64 - 1), ValueError, "replicates"),
    (lambda: tl.init_weights((4, 8), 3, replicates=10**18), ValueError, "replicates"),
])
def test_init_weights_checks_widths_and_replicates(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_init_weights_replicates_select_the_streams():
    Ws, _ = tl.init_weights((4, 8), 3, replicates=[1, 1])
    np.testing.assert_array_equal(Ws[0], Ws[1][:4])  # equal replicates share their first neurons
    W1, _ = tl.init_weights((4,), 3, replicates=np.uint64(1))
    np.testing.assert_array_equal(W1[0], Ws[0])


_TEACH = tl.make_teacher(3, seed=0)
_KW = dict(steps=5, teacher=_TEACH, batch_size=4)


@pytest.mark.parametrize("call, err, match", [
    (lambda: tl.train_ensemble("a", 1.5, 0.5, 0.01, **_KW), TypeError, "width"),
    (lambda: tl.train_ensemble(True, 1.5, 0.5, 0.01, **_KW), TypeError, "width"),
    (lambda: tl.train_ensemble(float("inf"), 1.5, 0.5, 0.01, **_KW), ValueError, "width"),
    (lambda: tl.train_ensemble(4, 1.5, "a", 0.01, **_KW), TypeError, "sigma"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, "a", **_KW), TypeError, r"\blr\b"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, object(), **_KW), TypeError, r"\blr\b"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, True, **_KW), TypeError, r"\blr\b"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 1j, **_KW), TypeError, r"\blr\b"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 0.01, lr_second="a", **_KW), TypeError, "lr_second"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 0.01, lr_second=1j, **_KW), TypeError, "lr_second"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 0.01, replicate="abc", **_KW), TypeError, "replicate"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 0.01, replicate=object(), **_KW), TypeError, "replicate"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 0.01, eval_data=object(), **_KW), TypeError, "eval_data"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 0.01, eval_data=3, **_KW), TypeError, "eval_data"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 0.01, init="abc", **_KW), TypeError, "init"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 0.01, init=3, **_KW), TypeError, "init"),
    (lambda: tl.train_ensemble(4, 1.5, 0.5, 0.01, **{**_KW, "steps": 2**63}), ValueError, "steps"),
])
def test_train_ensemble_refuses_wrong_kinds_naming_the_argument(call, err, match):
    with pytest.raises(err, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: tl.make_teacher(3, c=169298638), r"\bc\b"),
    (lambda: tl.make_teacher(3, width=np.int64(2**62)), "width"),
    (lambda: tl.make_teacher(10**18), r"\bd\b"),
    (lambda: tl.make_teacher(2**12, width=2**14), "ENTRIES_MAX"),
    (lambda: tl.one_hot(np.arange(10), 2**31), "n_classes"),
    (lambda: tl.one_hot(np.arange(2**13), 2**13), "ENTRIES_MAX"),
    (lambda: tl.teacher_student_data(_TEACH, 2**31), "n_samples"),
    (lambda: tl.teacher_student_data(_TEACH, 2**24), "ENTRIES_MAX"),
])
def test_teacher_data_sizes_are_bounded_before_allocating(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_apply_activation_checks_name_and_z():
    from simulations.noise_injection.data import apply_activation

    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(apply_activation("softplus", z), np.log1p(np.exp(z)))
    for bad, err in ((np.array(["tanh"]), TypeError), (3, TypeError), (None, TypeError), ("bogus", ValueError)):
        with pytest.raises(err, match="name"):
            apply_activation(bad, z)
    for bad, err in (("abc", TypeError), (None, TypeError), (np.array([1 + 2j]), TypeError),
                     (np.array([object()], dtype=object), TypeError), (np.full(3, np.nan), ValueError)):
        with pytest.raises(err, match=r"\bz\b"):
            apply_activation("tanh", bad)


def test_train_ensemble_bounds_the_batch_size():
    from simulations.noise_injection.ensemble import BATCH_SIZE_MAX

    for bad in (BATCH_SIZE_MAX + 1, 10**18):
        with pytest.raises(ValueError, match="batch_size"):
            tl.train_ensemble(4, 1.5, 0.5, 0.01, **{**_KW, "batch_size": bad})


def test_eval_every_is_bounded_by_steps_max():
    from simulations.noise_injection.ensemble import STEPS_MAX

    t = tl.make_teacher(3, 2, seed=0)
    with pytest.raises(ValueError, match="eval_every"):
        tl.train_ensemble(4, 1.5, 0.5, 0.01, steps=5, teacher=t, batch_size=4, eval_every=STEPS_MAX + 1)


@pytest.fixture
def kernel_choice(monkeypatch):
    """Records the ``scalar`` flag of every kernel chosen; ``kernel_choice.force()`` makes every later choice
    the scalar variant."""
    from simulations.noise_injection import cpu, ensemble

    real = cpu.train_networks_for

    class Spy:
        chosen: list = []

        @staticmethod
        def force():
            monkeypatch.setattr(ensemble._cpu, "train_networks_for",
                                lambda kind, noised, online, scalar=True: real(kind, noised, online, True))

        @staticmethod
        def watch():
            def spy(kind, noised, online, scalar=True):
                Spy.chosen.append(scalar)
                return real(kind, noised, online, scalar)

            monkeypatch.setattr(ensemble._cpu, "train_networks_for", spy)

    Spy.chosen = []
    Spy.watch()
    return Spy


@pytest.mark.parametrize("noise", ["neuron", "entry"])
def test_the_variant_without_scalar_draws_gives_the_same_numbers(kernel_choice, noise):
    """α ∉ {1, 2} and no output noise: the kernel compiled without the scalar sampler draws every block as the
    one with it does (same stream use), so forcing the scalar variant changes nothing."""
    kw = dict(steps=6, teacher=tl.make_teacher(3, 2, seed=4), noise=noise, seed=5)
    lean = tl.train_ensemble([5, 7], [1.5, 1.8], 0.2, 0.05, **kw)
    tl.train_ensemble([5, 7], [1.5, 2.0], 0.2, 0.05, **kw)                 # α = 2 needs the scalar draws
    assert kernel_choice.chosen == [False, True]
    kernel_choice.force()
    full = tl.train_ensemble([5, 7], [1.5, 1.8], 0.2, 0.05, **kw)
    np.testing.assert_array_equal(lean.hidden_flat, full.hidden_flat)


def test_elliptical_noise_takes_the_scalar_sampler_only_for_the_output_layer(kernel_choice):
    """The elliptical hidden noise draws R_i and normals, never the scalar SαS sampler: at α = 2 the lean
    variant is chosen and gives the numbers of the scalar one; noising the output layer selects the latter."""
    kw = dict(steps=6, teacher=tl.make_teacher(3, 2, seed=4), seed=5)
    lean = tl.train_ensemble([5, 7], [2.0, 1.0], 0.2, 0.05, noise="elliptical", **kw)
    tl.train_ensemble([5, 7], [2.0, 1.0], 0.2, 0.05, noise=NoiseSpec("elliptical", (0, 1)), **kw)
    assert kernel_choice.chosen == [False, True]
    kernel_choice.force()
    full = tl.train_ensemble([5, 7], [2.0, 1.0], 0.2, 0.05, noise="elliptical", **kw)
    np.testing.assert_array_equal(lean.hidden_flat, full.hidden_flat)
