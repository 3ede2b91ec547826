"""The float64 reference autodiff against independent oracles.

Oracles: the numba training backend's gradient (``get_backend("cpu").gradient``, a separate
implementation) in float64, its per-example calls, and central finite differences of it for the
Hessian-vector products.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from simulations.nn import MLPSpec, Params, get_backend, init_params
from simulations.pruning.algorithms.autodiff import gradients, hvp, per_example_terms

BACKEND = get_backend("cpu")
CASES = list(itertools.product(("relu", "tanh", "softplus", "identity"), ("cross_entropy", "squared"), (True, False)))


def _net(act="tanh", loss="cross_entropy", bias=True, sizes=(6, 5, 4, 3), seed=0, n=7):
    spec = MLPSpec(sizes, bias=bias, activation=act, loss=loss, dtype="float64")
    p = init_params(spec, seed)
    rng = np.random.default_rng(100 + seed)
    if bias:  # non-zero biases so that their role is tested
        for b in p.biases:
            b[...] = rng.normal(0.0, 0.3, b.shape)
    X = rng.normal(size=(n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return spec, p, X, y


def _random_masks(spec, seed, density=0.7):
    rng = np.random.default_rng(seed)
    return [rng.random(s) < density for s in spec.weight_shapes]


def _effective(p, masks):
    q = p.copy()
    if masks is not None:
        for w, m in zip(q.weights, masks):
            w[~m] = 0.0
    return q


def _oracle(p, X, y):
    """(loss, dW list, db list or None) from the numba backend's flat gradient."""
    loss, g = BACKEND.gradient(p.spec, p.flat, X, y)
    G = Params(p.spec, g)
    return loss, [w.copy() for w in G.weights], (None if not p.spec.bias else [b.copy() for b in G.biases])


# both are float64 sums of a few dozen terms of size O(1): agreement to 1e-12 absolute is far above
# the rounding of either (≈ 1e-15) and far below any real discrepancy (a wrong term is O(0.01-1))
ATOL = 1e-12


@pytest.mark.parametrize("act,loss,bias", CASES)
@pytest.mark.parametrize("masked", [False, True])
def test_gradients_match_backend(act, loss, bias, masked):
    spec, p, X, y = _net(act, loss, bias)
    masks = _random_masks(spec, 3) if masked else None
    L, dW, db = gradients(p, X, y, masks)
    L0, dW0, db0 = _oracle(_effective(p, masks), X, y)
    assert L == pytest.approx(L0, abs=ATOL)
    for a, b in zip(dW, dW0):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)
    if bias:
        for a, b in zip(db, db0):
            np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)
    else:
        assert db is None
    if masked:  # derivative w.r.t. the effective weight: pruned entries keep a (non-zero) gradient
        assert any(np.abs(d[~m]).max() > 1e-6 for d, m in zip(dW, masks) if (~m).any())


def test_chunked_equals_whole_batch():
    spec, p, X, y = _net("softplus", "cross_entropy", True, n=11)
    L1, dW1, db1 = gradients(p, X, y)
    L2, dW2, db2 = gradients(p, X, y, chunk=3)
    assert L1 == pytest.approx(L2, abs=1e-14)
    for a, b in zip(dW1 + db1, dW2 + db2):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)


@pytest.mark.parametrize("act,loss,bias", [("relu", "cross_entropy", True), ("tanh", "squared", False),
                                           ("softplus", "cross_entropy", False)])
def test_per_example_terms_match_per_example_backend_calls(act, loss, bias):
    spec, p, X, y = _net(act, loss, bias, n=5)
    masks = _random_masks(spec, 4)
    acts, deltas = per_example_terms(p, X, y, masks)
    assert [a.shape for a in acts] == [(5, s[1]) for s in spec.weight_shapes]
    assert [d.shape for d in deltas] == [(5, s[0]) for s in spec.weight_shapes]
    np.testing.assert_array_equal(acts[0], X)
    q = _effective(p, masks)
    for i in range(5):  # example i's own loss: a batch of one
        _, dW0, db0 = _oracle(q, X[i:i + 1], y[i:i + 1])
        for l in range(spec.n_layers):
            np.testing.assert_allclose(np.outer(deltas[l][i], acts[l][i]), dW0[l], rtol=0, atol=ATOL)
            if bias:
                np.testing.assert_allclose(deltas[l][i], db0[l], rtol=0, atol=ATOL)
    _, dW0, _ = _oracle(q, X, y)
    for l in range(spec.n_layers):
        np.testing.assert_allclose(deltas[l].T @ acts[l] / 5, dW0[l], rtol=0, atol=ATOL)


def _fd_hvp(p, X, y, V, masks, h):
    """Central difference of the backend's weight gradient along V at the effective weights."""
    q = _effective(p, masks)
    qp, qm = q.copy(), q.copy()
    for wp, wm, v in zip(qp.weights, qm.weights, V):
        wp += h * v
        wm -= h * v
    _, gp, _ = _oracle(qp, X, y)
    _, gm, _ = _oracle(qm, X, y)
    return [(a - b) / (2 * h) for a, b in zip(gp, gm)]


def _hidden_preactivations(p, masks, X):
    """Plain numpy forward pass (test-side) giving every hidden z_l."""
    a, out = X, []
    for l, (w, m) in enumerate(zip(p.weights, masks)):
        z = a @ (w * m).T + (0.0 if p.biases[l] is None else p.biases[l])
        if l < len(masks) - 1:
            out.append(z)
            a = {"relu": lambda t: np.maximum(t, 0), "tanh": np.tanh, "softplus": lambda t: np.logaddexp(0, t),
                 "identity": lambda t: t}[p.spec.activation](z)
    return out


def _smooth_point_masks(p, X, seed):
    """Random masks under which no hidden z is within 1e-3 of 0: a pruned bias-free ReLU net has exact
    zeros (a unit whose kept inputs are all 0), a kink the central difference cannot straddle."""
    for k in range(100):
        masks = _random_masks(p.spec, seed + k)
        if min(np.abs(z).min() for z in _hidden_preactivations(p, masks, X)) > 1e-3:
            return masks
    raise AssertionError("no smooth mask found")


# Central differences with h = 1e-5: truncation error h²/6·|∂³ℓ| ≈ 1e-11 for these O(1) nets and
# rounding ≈ 1e-16/h ≈ 1e-11; tolerance 1e-7 (abs, entries of H·v are O(0.01-1)) leaves a margin
# of 10^4 yet catches any wrong term. ReLU: the loss is piecewise quadratic in the last-layer
# weights and the FD is exact unless some |z| < h·|R z| (probability ~1e-5 per unit here; the
# seeds are fixed).
@pytest.mark.parametrize("act,loss,bias", CASES)
@pytest.mark.parametrize("masked", [False, True])
def test_hvp_matches_finite_differences(act, loss, bias, masked):
    spec, p, X, y = _net(act, loss, bias, sizes=(5, 4, 4, 3), seed=1, n=6)
    masks = _smooth_point_masks(p, X, 5) if masked else None
    rng = np.random.default_rng(9)
    V = [rng.normal(size=s) for s in spec.weight_shapes]
    Hv = hvp(p, X, y, V, masks)
    ref = _fd_hvp(p, X, y, V, masks, 1e-5)
    for a, b in zip(Hv, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)
    assert max(np.abs(a).max() for a in Hv) > 1e-3  # not trivially zero


def test_hvp_is_symmetric_and_linear_and_chunk_invariant():
    spec, p, X, y = _net("tanh", "cross_entropy", True, n=9)
    rng = np.random.default_rng(2)
    U = [rng.normal(size=s) for s in spec.weight_shapes]
    V = [rng.normal(size=s) for s in spec.weight_shapes]
    HU, HV = hvp(p, X, y, U), hvp(p, X, y, V)
    uHv = sum(float((u * h).sum()) for u, h in zip(U, HV))
    vHu = sum(float((v * h).sum()) for v, h in zip(V, HU))
    assert uHv == pytest.approx(vHu, rel=1e-10, abs=1e-12)
    H2 = hvp(p, X, y, [2 * u - 3 * v for u, v in zip(U, V)], chunk=4)
    for a, b, c in zip(H2, HU, HV):
        np.testing.assert_allclose(a, 2 * b - 3 * c, rtol=0, atol=1e-12)


def test_hvp_identity_squared_closed_form():
    """Linear one-layer net, squared loss: ℓ = (1/2n)‖XWᵀ − Y‖², so H·V = V XᵀX / n exactly."""
    spec = MLPSpec((4, 3), bias=False, activation="identity", loss="squared", dtype="float64")
    p = init_params(spec, 0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 4))
    y = rng.integers(0, 3, 8)
    V = [rng.normal(size=(3, 4))]
    np.testing.assert_allclose(hvp(p, X, y, V)[0], V[0] @ X.T @ X / 8, rtol=1e-13, atol=1e-14)


def test_float32_params_are_promoted():
    spec, p, X, y = _net("relu", "cross_entropy", True)
    p32 = p.astype("float32")
    L, dW, db = gradients(p32, X.astype(np.float32), y)
    L64, dW64, db64 = gradients(p32.astype("float64"), X.astype(np.float32).astype(np.float64), y)
    assert L == L64
    for a, b in zip(dW + db, dW64 + db64):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    acts, deltas = per_example_terms(p32, X, y)
    assert all(a.dtype == np.float64 for a in acts + deltas)
    assert all(h.dtype == np.float64 for h in hvp(p32, X, y, dW))


def test_validation_names_the_parameter():
    spec, p, X, y = _net()
    with pytest.raises(TypeError, match="params"):
        gradients(p.flat, X, y)
    with pytest.raises(ValueError, match="X"):
        gradients(p, X[:, :3], y)
    with pytest.raises(ValueError, match="X"):
        gradients(p, np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="X"):
        gradients(p, X[:0], y[:0])
    with pytest.raises(ValueError, match="y"):
        gradients(p, X, y[:-1])
    with pytest.raises(ValueError, match="y"):
        gradients(p, X, np.full_like(y, 3))
    with pytest.raises(TypeError, match="y"):
        gradients(p, X, y + 0.5)
    with pytest.raises(ValueError, match="masks"):
        gradients(p, X, y, [np.ones((5, 6), bool)])
    with pytest.raises(ValueError, match="masks"):
        gradients(p, X, y, [np.ones((6, 5), bool)] + [np.ones(s, bool) for s in spec.weight_shapes[1:]])
    with pytest.raises(TypeError, match="chunk"):
        gradients(p, X, y, chunk=2.5)
    with pytest.raises(ValueError, match="chunk"):
        gradients(p, X, y, chunk=0)
    with pytest.raises(TypeError, match="params"):
        per_example_terms(None, X, y)
    with pytest.raises(TypeError, match="v"):
        hvp(p, X, y, np.zeros(3))
    with pytest.raises(ValueError, match="v"):
        hvp(p, X, y, [np.zeros(s) for s in spec.weight_shapes[:-1]])
    with pytest.raises(ValueError, match=r"v\[1\]"):
        hvp(p, X, y, [np.zeros(s) for s in spec.weight_shapes[:1]] + [np.zeros((2, 2)), np.zeros((3, 4))])
    with pytest.raises(ValueError, match=r"v\[0\]"):
        hvp(p, X, y, [np.full(s, np.inf) for s in spec.weight_shapes])
