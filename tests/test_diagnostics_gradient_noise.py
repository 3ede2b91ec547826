"""Gradient-noise tail index (simulations.diagnostics.gradient_noise) against independent oracles.

* Softmax regression (one linear layer, cross-entropy, float64): the per-minibatch gradients are written
  out here in numpy, (softmax(XWᵀ + b) − onehot)ᵀX / B, so the noise sample g_p − ḡ is known exactly;
  the estimate must equal Cor. 2.4 evaluated on that stored sample with m found by brute force.
* A two-hidden-layer network: the stored sample is built from the backend's per-minibatch gradients
  (checked against finite differences in tests/test_nn_grad.py) and the estimate compared the same way,
  pooled and per layer (weights only), with biases, dead units (exact zeros) and both zero conventions.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulations._core.seeding import generator
from simulations.diagnostics import gradient_noise_tail_index
from simulations.nn import MLPSpec, Params, get_backend, init_params


def brute_m(n: int) -> int:
    return max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)


def cor24(x: np.ndarray, m: int, eps: float = 0.0) -> float:
    """Mohammadi et al. (2015) Cor. 2.4 on a stored scalar sample (len divisible by m)."""
    y = np.abs(x.reshape(-1, m).sum(axis=1))
    ax = np.abs(x)
    if eps > 0:
        return 1.0 / ((np.log(y + eps).mean() - np.log(ax + eps).mean()) / math.log(m))
    return 1.0 / ((np.log(y[y > 0]).mean() - np.log(ax[ax > 0]).mean()) / math.log(m))


def softmax_minibatch_grads(W, b, X, y, B):
    """Per-minibatch gradients of the mean cross-entropy of z = XWᵀ + b, flat as [W row-major, b]."""
    out, losses = [], []
    for p in range(X.shape[0] // B):
        xb, yb = X[p * B:(p + 1) * B], y[p * B:(p + 1) * B]
        z = xb @ W.T + b
        z = z - z.max(axis=1, keepdims=True)
        pr = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        losses.append(-np.mean(np.log(pr[np.arange(B), yb])))
        d = pr.copy()
        d[np.arange(B), yb] -= 1.0
        out.append(np.concatenate([(d.T @ xb / B).ravel(), d.mean(axis=0)]))
    return np.array(out), np.array(losses)


@pytest.fixture(scope="module")
def softmax_case():
    rng = np.random.default_rng(0)
    d, k, n, B = 7, 4, 120, 8
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    spec = MLPSpec((d, k), activation="identity", loss="cross_entropy", dtype="float64")
    params = init_params(spec, seed=3)
    return spec, params, X, y, B


def test_softmax_regression_noise_is_the_numpy_noise(softmax_case):
    spec, params, X, y, B = softmax_case
    W, b = params.weights[0], params.biases[0]
    G, losses = softmax_minibatch_grads(W, b, X, y, B)
    U = G - G.mean(axis=0)  # the noise vectors, exactly
    sample = U.ravel()  # minibatch-major, coordinates in the flat layout order
    m = brute_m(sample.size)
    res = gradient_noise_tail_index(params, X, y, batch_size=B, n_eval=None)
    assert res["status"] == "ok"
    assert (res["N"], res["m"], res["n_batches"], res["n_eval"]) == (sample.size, m, 15, 120)
    assert res["alpha"] == pytest.approx(cor24(sample, m), rel=1e-10)
    w_sample = U[:, : W.size].ravel()  # per-layer variant: the weight coordinates only
    assert res["m_layers"] == [brute_m(w_sample.size)]
    assert res["alpha_layers"][0] == pytest.approx(cor24(w_sample, brute_m(w_sample.size)), rel=1e-10)
    assert res["loss"] == pytest.approx(losses.mean(), rel=1e-12)
    assert res["noise_norm"] == pytest.approx(np.linalg.norm(U, axis=1).mean(), rel=1e-12)
    assert res["zero_fraction"] == 0.0


def test_subset_rows_follow_the_documented_rule(softmax_case):
    spec, params, X, y, B = softmax_case
    # documented: a random subset of n_eval rows from seeding.generator(seed, "gradient_noise"), in that
    # order, cut to a multiple of B
    n_eval = 61
    rows = generator(5, "gradient_noise").choice(X.shape[0], n_eval, replace=False)[: (n_eval // B) * B]
    G, _ = softmax_minibatch_grads(params.weights[0], params.biases[0], X[rows], y[rows], B)
    sample = (G - G.mean(axis=0)).ravel()
    res = gradient_noise_tail_index(params, X, y, batch_size=B, n_eval=n_eval, seed=5)
    assert res["n_eval"] == 56 and res["n_batches"] == 7
    assert res["alpha"] == pytest.approx(cor24(sample, brute_m(sample.size)), rel=1e-10)
    again = gradient_noise_tail_index(params, X, y, batch_size=B, n_eval=n_eval, seed=5)
    assert again["alpha"] == res["alpha"]
    other = gradient_noise_tail_index(params, X, y, batch_size=B, n_eval=n_eval, seed=6)
    assert other["alpha"] != res["alpha"]


def _mlp_case(dead: bool):
    rng = np.random.default_rng(1)
    spec = MLPSpec((6, 9, 5, 3), activation="relu", dtype="float64", bias=True)
    params = init_params(spec, seed=2)
    if dead:  # hidden units 0 and 4 of layer 1 never fire: exact zeros in the gradient noise
        params.weights[0][[0, 4]] = -1.0
        params.biases[0][[0, 4]] = -100.0
    X = rng.standard_normal((90, 6))
    y = rng.integers(0, 3, 90)
    return spec, params, X, y


def _stored_noise(spec, params, X, y, B):
    be = get_backend("cpu")
    G = np.array([be.gradient(spec, params.flat, X[p * B:(p + 1) * B], y[p * B:(p + 1) * B])[1]
                  for p in range(X.shape[0] // B)])
    return G - G.mean(axis=0)


@pytest.mark.parametrize("dead", [False, True])
@pytest.mark.parametrize("cache_bytes", [0, 2**20])
def test_mlp_pooled_and_per_layer_equal_the_stored_sample(dead, cache_bytes):
    spec, params, X, y = _mlp_case(dead)
    B = 9
    U = _stored_noise(spec, params, X, y, B)
    res = gradient_noise_tail_index(params, X, y, batch_size=B, n_eval=None, cache_bytes=cache_bytes)
    assert res["gradient_calls"] == (10 if cache_bytes else 20)
    sample = U.ravel()
    assert res["alpha"] == pytest.approx(cor24(sample, brute_m(sample.size)), rel=1e-10)
    assert res["zero_fraction"] == pytest.approx(np.mean(sample == 0.0), abs=0)
    if dead:
        assert res["zero_fraction"] > 0.05
    off = spec.offsets
    for l in range(spec.n_layers):
        w = U[:, off[l, 0]:off[l, 1]].ravel()
        assert res["m_layers"][l] == brute_m(w.size) and res["N_layers"][l] == w.size
        assert res["alpha_layers"][l] == pytest.approx(cor24(w, brute_m(w.size)), rel=1e-10)


def test_eps_form_matches_the_papers_code_formula():
    spec, params, X, y = _mlp_case(dead=True)
    B, eps = 9, float(np.spacing(1))
    sample = _stored_noise(spec, params, X, y, B).ravel()
    res = gradient_noise_tail_index(params, X, y, batch_size=B, n_eval=None, eps=eps)
    assert res["alpha"] == pytest.approx(cor24(sample, brute_m(sample.size), eps), rel=1e-10)
    excl = gradient_noise_tail_index(params, X, y, batch_size=B, n_eval=None)
    assert res["alpha"] < excl["alpha"]  # the zeros' ln(eps) = -36 pull the estimate down


def test_float32_network_agrees_with_its_float64_copy():
    spec, params, X, y = _mlp_case(dead=False)
    p32 = params.astype("float32")
    r64 = gradient_noise_tail_index(params, X, y, batch_size=9, n_eval=None)
    r32 = gradient_noise_tail_index(p32, X.astype(np.float32), y, batch_size=9, n_eval=None)
    assert r32["alpha"] == pytest.approx(r64["alpha"], rel=1e-4)


def test_undefined_estimate_has_a_status():
    # identical minibatches: every noise coordinate is exactly zero
    spec = MLPSpec((3, 2), activation="identity", dtype="float64")
    params = init_params(spec, 0)
    X = np.tile(np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]), (4, 1))
    y = np.tile([0, 1], 4)
    res = gradient_noise_tail_index(params, X, y, batch_size=2, n_eval=None)
    assert res["status"] == "undefined" and math.isnan(res["alpha"]) and "pooled" in res["note"]
    assert res["zero_fraction"] == 1.0


def test_arguments_are_checked(softmax_case):
    spec, params, X, y, B = softmax_case
    n = X.shape[0]
    cases = [
        (dict(batch_size=n // 2 + 1), ValueError, "batch_size"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(batch_size=2.5), TypeError, "batch_size"),
        (dict(batch_size=B, n_eval=2 * B - 1), ValueError, "n_eval"),
        (dict(batch_size=B, eps=-1.0), ValueError, "eps"),
        (dict(batch_size=B, eps=2.0), ValueError, "eps"),
        (dict(batch_size=B, cache_bytes=-1), ValueError, "cache_bytes"),
        (dict(batch_size=B, per_layer=1), TypeError, "per_layer"),
        (dict(batch_size=B, seed=-1), ValueError, "seed"),
        (dict(batch_size=B, backend="tpu"), ValueError, "tpu"),
    ]
    for kw, exc, word in cases:
        with pytest.raises(exc, match=word):
            gradient_noise_tail_index(params, X, y, **kw)
    with pytest.raises(TypeError, match="params"):
        gradient_noise_tail_index(params.flat, X, y, batch_size=B)
    with pytest.raises(ValueError, match="X"):
        gradient_noise_tail_index(params, X[:, :3], y, batch_size=B)
    with pytest.raises(ValueError, match="y"):
        gradient_noise_tail_index(params, X, y + 10, batch_size=B)
    with pytest.raises(ValueError, match="X"):
        gradient_noise_tail_index(params, np.full_like(X, np.nan), y, batch_size=B)
    assert isinstance(params, Params)
    # n_eval above n is capped at n: all rows, in the seeded random order
    capped = gradient_noise_tail_index(params, X, y, batch_size=B, n_eval=10 * n, seed=1)
    assert capped["n_eval"] == n and capped["alpha"] == gradient_noise_tail_index(
        params, X, y, batch_size=B, n_eval=n, seed=1)["alpha"]


def test_noise_controls_on_the_stored_sample():
    from simulations.diagnostics.study import CONTROL_BYTES_MAX, noise_controls
    from simulations.tail_index import hill

    spec, params, X, y = _mlp_case(dead=True)
    sample = _stored_noise(spec, params, X, y, 9).ravel()
    ctl = noise_controls(params, X, y, batch_size=9, n_eval=None)
    streamed = gradient_noise_tail_index(params, X, y, batch_size=9, n_eval=None)
    assert ctl["alpha"] == pytest.approx(streamed["alpha"], rel=1e-12)
    assert ctl["alpha_eps"] == pytest.approx(cor24(sample, brute_m(sample.size), float(np.spacing(1))), rel=1e-10)
    assert ctl["hill"] == pytest.approx(hill(np.abs(sample[sample != 0])), rel=1e-12)
    assert ctl["zero_fraction"] == pytest.approx(np.mean(sample == 0.0))
    assert all(np.isfinite([ctl["alpha_shuffled"], ctl["alpha_gaussian"]]))
    big = MLPSpec((6, 4096, 3), dtype="float64")
    with pytest.raises(ValueError, match="CONTROL_BYTES_MAX"):
        noise_controls(init_params(big, 0), np.ones((4096, 6)), np.zeros(4096, int), batch_size=1, n_eval=None)
    assert CONTROL_BYTES_MAX == 2**28
