"""SNIP, GraSP and SynFlow against known answers.

Oracles: finite differences of the numba backend's loss and gradient (SNIP, GraSP), hand-written
products of |W| (SynFlow's R, exact central differences of R, which is linear in each weight),
the conservation law of Tanaka et al. 2020 (Thm. 2) and exact counting.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulations.nn import MLPSpec, Params, get_backend, init_params
from simulations.pruning.algorithms.at_init import SNIP, GraSP, SynFlow, synflow_prune, synflow_scores
from simulations.pruning.algorithms.compute import Compute

BACKEND = get_backend("cpu")


def _net(act="softplus", loss="cross_entropy", bias=True, sizes=(6, 5, 4, 3), seed=0, n=8):
    spec = MLPSpec(sizes, bias=bias, activation=act, loss=loss, dtype="float64")
    p = init_params(spec, seed)
    rng = np.random.default_rng(50 + seed)
    if bias:
        for b in p.biases:
            b[...] = rng.normal(0.0, 0.3, b.shape)
    X = rng.normal(size=(n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return p, X, y


def _masked(p, masks):
    q = p.copy()
    for w, m in zip(q.weights, masks):
        w[~m] = 0.0
    return q


def _masks(p, seed, density=0.75):
    rng = np.random.default_rng(seed)
    return [rng.random(w.shape) < density for w in p.weights]


def _fd_weight_grad(p, X, y, h=1e-6):
    """Central differences of the backend's mean loss, entry by entry."""
    out = []
    for l, w in enumerate(p.weights):
        g = np.zeros(w.shape)
        for idx in np.ndindex(w.shape):
            q = p.copy()
            q.weights[l][idx] += h
            lp = BACKEND.gradient(q.spec, q.flat, X, y)[0]
            q.weights[l][idx] -= 2 * h
            lm = BACKEND.gradient(q.spec, q.flat, X, y)[0]
            g[idx] = (lp - lm) / (2 * h)
        out.append(g)
    return out


# ---------------------------------------------------------------- SNIP
def test_snip_matches_finite_difference_sensitivity():
    p, X, y = _net()
    masks = _masks(p, 1)
    q = _masked(p, masks)
    g = _fd_weight_grad(q, X, y)  # error ≈ h² ℓ''' + 1e-16/h ≈ 1e-10
    raw = [np.abs(gl * w) for gl, w in zip(g, q.weights)]
    total = sum(r.sum() for r in raw)
    s = SNIP().scores(p, (X, y), masks)
    for a, b, m in zip(s, raw, masks):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b / total, rtol=0, atol=1e-8)
        assert np.all(a[~m] == 0.0)
    assert sum(a.sum() for a in s) == pytest.approx(1.0, rel=1e-12)


def test_snip_sums_the_gradients_of_a_list_of_batches():
    p, X, y = _net(n=10)
    g1 = [Params(p.spec, BACKEND.gradient(p.spec, p.flat, X[:4], y[:4])[1]).weights,
          Params(p.spec, BACKEND.gradient(p.spec, p.flat, X[4:], y[4:])[1]).weights]
    raw = [np.abs((a + b) * w) for a, b, w in zip(g1[0], g1[1], p.weights)]
    total = sum(r.sum() for r in raw)
    s = SNIP().scores(p, [(X[:4], y[:4]), (X[4:], y[4:])], None)
    for a, b in zip(s, raw):
        np.testing.assert_allclose(a, b / total, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- GraSP
def _grad_T(p, X, y, T):
    """Weight gradient of ℓ(z_L / T) by the chain rule on the backend's gradient of the scaled net."""
    q = p.copy()
    q.weights[-1][...] /= T
    if q.biases[-1] is not None:
        q.biases[-1][...] /= T
    G = Params(q.spec, BACKEND.gradient(q.spec, q.flat, X, y)[1])
    return [w.copy() / (T if l == len(G.weights) - 1 else 1.0) for l, w in enumerate(G.weights)]


def _fd_hg(p, X, y, T, masks, h=1e-5):
    """H (g ⊙ M) by central differences of the gradient along the unit direction g ⊙ M."""
    q = _masked(p, masks)
    v = [gl * m for gl, m in zip(_grad_T(q, X, y, T), masks)]
    nv = math.sqrt(sum(float((a * a).sum()) for a in v))
    qp, qm = q.copy(), q.copy()
    for wp, wm, a in zip(qp.weights, qm.weights, v):
        wp += h * a / nv
        wm -= h * a / nv
    gp, gm = _grad_T(qp, X, y, T), _grad_T(qm, X, y, T)
    return q, [nv * (a - b) / (2 * h) for a, b in zip(gp, gm)]


# Central differences along a unit direction with h = 1e-5: error ≈ h²|∂³ℓ| + 1e-16/h ≈ 1e-11 in
# units of ‖g‖·‖∂²ℓ‖; the tolerance 1e-6 of the largest entry catches any wrong term.
@pytest.mark.parametrize("T", [1.0, 200.0])
@pytest.mark.parametrize("act,loss,bias", [("softplus", "cross_entropy", True), ("tanh", "squared", False)])
def test_grasp_matches_finite_difference_hessian_gradient(T, act, loss, bias):
    p, X, y = _net(act, loss, bias, seed=2)
    masks = _masks(p, 3)
    q, hg = _fd_hg(p, X, y, T, masks)
    ref = [w * h for w, h in zip(q.weights, hg)]  # kept score: +θ ⊙ Hg (the removal score is −θ ⊙ Hg)
    s = GraSP(temperature=T).scores(p, (X, y), masks)
    scale = max(np.abs(r).max() for r in ref)
    assert scale > 0
    for a, b in zip(s, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * scale)


def test_grasp_removes_the_largest_minus_theta_hg():
    """The authors' rule (pruner/GraSP.py): remove the top entries of −θ ⊙ Hg."""
    p, X, y = _net("softplus", "cross_entropy", True, seed=4)
    full = [np.ones(w.shape, bool) for w in p.weights]
    q, hg = _fd_hg(p, X, y, 200.0, full)
    removal = np.concatenate([(-w * h).ravel() for w, h in zip(q.weights, hg)])
    k = int(math.floor(0.5 * removal.size + 1e-9))
    new = GraSP().prune(p, 0.5, data=(X, y))
    removed = ~np.concatenate([m.ravel() for m in new])
    assert removed.sum() == k
    np.testing.assert_array_equal(np.sort(np.flatnonzero(removed)), np.sort(np.argsort(-removal)[:k]))


# ---------------------------------------------------------------- SynFlow
def _R(p, masks=None):
    """1ᵀ(|W_L|(…(|W_1| 1 + |b_1|)…) + |b_L|) by plain products (test-side)."""
    a = np.ones(p.spec.sizes[0])
    for l, w in enumerate(p.weights):
        w = np.abs(w if masks is None else w * masks[l])
        a = w @ a + (0.0 if p.biases[l] is None else np.abs(p.biases[l]))
    return float(a.sum())


def test_synflow_conservation_bias_free():
    p, _, _ = _net("relu", bias=False, sizes=(7, 6, 5, 4, 3), seed=5)
    s, shift, log_R = synflow_scores(p)
    R = _R(p)
    assert shift == 0.0
    assert log_R == pytest.approx(math.log(R), rel=1e-13)
    for a in s:  # Tanaka et al. Thm. 2: every layer's scores sum to R
        assert a.sum() == pytest.approx(R, rel=1e-12)


def test_synflow_matches_exact_differences_of_R_with_biases():
    p, _, _ = _net("tanh", bias=True, seed=6)
    masks = _masks(p, 7)
    s = SynFlow().scores(p, None, masks)
    for l, w in enumerate(p.weights):
        for idx in np.ndindex(w.shape):  # R is linear in |W_ij|: the central difference is exact
            if not masks[l][idx]:
                assert s[l][idx] == 0.0
                continue
            q = p.copy()
            q.weights[l][idx] = abs(w[idx]) + 0.5
            rp = _R(q, masks)
            q.weights[l][idx] = abs(w[idx]) - 0.5 if abs(w[idx]) > 0.5 else 0.0
            rm = _R(q, masks)
            d = (rp - rm) / (0.5 + min(0.5, abs(w[idx])))
            assert s[l][idx] == pytest.approx(abs(w[idx]) * d, rel=1e-10, abs=1e-14)


def test_synflow_deep_net_does_not_overflow():
    """300 layers of width 24 with N(0,1) weights: R ≈ 10^400 overflows float64."""
    sizes = (24,) * 301
    spec = MLPSpec(sizes, bias=False, init="normal", dtype="float64")
    p = init_params(spec, 0)
    for w in p.weights:
        w *= math.sqrt(24.0)  # N(0, 1)
    log_R_ref, a = 0.0, np.ones(24)
    for w in p.weights:  # test-side: renormalise after every product
        a = np.abs(w) @ a
        t = a.sum()
        log_R_ref += math.log(t)
        a /= t
    assert log_R_ref > 800
    s, shift, log_R = synflow_scores(p)
    assert all(np.isfinite(x).all() for x in s)
    assert log_R == pytest.approx(log_R_ref, rel=1e-12)
    assert shift > 0
    for x in s:  # conservation survives the rescaling: every layer sums to R
        assert math.log(x.sum()) + shift == pytest.approx(log_R_ref, rel=1e-12)


def test_synflow_float32_params_and_score_based_prune():
    p, _, _ = _net("relu", bias=True)
    p32 = p.astype("float32")
    s32, s64 = SynFlow().scores(p32), SynFlow().scores(p32.astype("float64"))
    for a, b in zip(s32, s64):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    masks = SynFlow().prune(p32, 0.5)
    assert sum(int((~m).sum()) for m in masks) == 31  # floor(0.5 · 62)


def test_float32_snip_grasp():
    p, X, y = _net("relu", "cross_entropy", True)
    p32 = p.astype("float32")
    for algo in (SNIP(), GraSP()):
        a32, a64 = algo.scores(p32, (X, y)), algo.scores(p32.astype("float64"), (X, y))
        for a, b in zip(a32, a64):
            assert a.dtype == np.float64
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
        masks = algo.prune(p32, 0.75, data=(X, y), scope="layer")
        assert [int((~m).sum()) for m in masks] == [22, 15, 9]


# ---------------------------------------------------------------- iterative SynFlow
def test_synflow_prune_exact_sparsity_and_no_revival():
    p, _, _ = _net("relu", bias=True, sizes=(10, 12, 8, 4), seed=8)
    start = _masks(p, 9, 0.9)
    n = sum(m.size for m in start)  # 120 + 96 + 32 = 248
    for s, scope in ((0.9, "global"), (0.6, "layer")):
        out = synflow_prune(p, s, iterations=7, masks=start, scope=scope)
        assert all(not (o & ~m).any() for o, m in zip(out, start))
        if scope == "global":
            assert sum(int(o.sum()) for o in out) == n - math.floor(s * n)
        else:
            assert [int(o.sum()) for o in out] == [m.size - math.floor(s * m.size) for m in start]


def test_synflow_prune_schedule():
    """Two rounds to 0.99 = one round to 1 − 0.01^{1/2} = 0.9, then one more to 0.99 (density 0.1 → 0.01)."""
    p, _, _ = _net("relu", bias=False, sizes=(20, 20, 20, 5), seed=10)
    two = synflow_prune(p, 0.99, iterations=2)
    first = synflow_prune(p, 0.9, iterations=1)
    assert sum(int(m.sum()) for m in first) == 900 - 810
    again = synflow_prune(p, 0.99, iterations=1, masks=first)
    for a, b in zip(two, again):
        np.testing.assert_array_equal(a, b)
    c = Compute()
    synflow_prune(p, 0.99, iterations=2, compute=c)
    # MACs of one example forward + backward (3 f) on the full net, then on the 90 survivors
    assert c.macs == 3 * 900 + 3 * 90


def test_synflow_avoids_the_layer_collapse_of_magnitude():
    """A middle layer 1000× smaller: one-shot global magnitude at 90 % removes it entirely."""
    spec = MLPSpec((20, 50, 50, 5), bias=False, dtype="float64")
    p = init_params(spec, 11)
    p.weights[1][...] *= 1e-3
    mag = [np.abs(w) for w in p.weights]
    flat = np.concatenate([m.ravel() for m in mag])
    thr = np.sort(flat)[int(0.9 * flat.size) - 1]
    assert (mag[1] <= thr).all()  # magnitude collapses layer 1 (2500 of the 3375 removed weights)
    out = synflow_prune(p, 0.9, iterations=100)
    assert sum(int((~m).sum()) for m in out) == int(0.9 * flat.size)
    assert all(m.any() for m in out)
    assert _R(p, out) > 0.0  # an input–output path survives


# ---------------------------------------------------------------- compute and validation
def test_compute_counts():
    p, X, y = _net()
    f = 30 + 20 + 12 + 5 + 4 + 3  # MACs of one example's forward pass with biases
    c = Compute()
    SNIP(compute=c).scores(p, (X, y))
    assert c.macs == 3 * 8 * f
    c2 = Compute()
    GraSP().scores(p, (X, y), compute=c2)
    assert c2.macs == 9 * 8 * f
    c3 = Compute()
    SynFlow(compute=c3).prune(p, 0.5)
    assert c3.macs == 3 * f


def test_validation():
    p, X, y = _net()
    with pytest.raises(TypeError, match="params"):
        SNIP().scores(p.flat, (X, y))
    with pytest.raises(ValueError, match="data"):
        GraSP().scores(p, None)
    with pytest.raises(TypeError, match="data"):
        SNIP().scores(p, X)
    with pytest.raises(ValueError, match="y"):
        SNIP().scores(p, (X, y[:-1]))
    with pytest.raises(ValueError, match="temperature"):
        GraSP(temperature=0.0)
    with pytest.raises(ValueError, match="scope"):
        SNIP(scope="all")
    with pytest.raises(TypeError, match="compute"):
        SNIP(compute={})
    with pytest.raises(ValueError, match="masks"):
        SynFlow().scores(p, None, [np.ones((2, 2), bool)] * 3)
    with pytest.raises(ValueError, match="sparsity"):
        synflow_prune(p, 1.0)
    with pytest.raises(ValueError, match="iterations"):
        synflow_prune(p, 0.5, iterations=0)
    with pytest.raises(TypeError, match="iterations"):
        synflow_prune(p, 0.5, iterations=2.5)
    with pytest.raises(ValueError, match="layers"):
        synflow_prune(p, 0.5, layers=[])
    with pytest.raises(ValueError, match="layers"):
        synflow_prune(p, 0.5, layers=[3])
    with pytest.raises(ValueError, match="scope"):
        synflow_prune(p, 0.5, scope="x")
    with pytest.raises(TypeError, match="compute"):
        synflow_prune(p, 0.5, compute=1)
