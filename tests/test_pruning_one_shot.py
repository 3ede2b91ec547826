"""One-shot pruning: exact selections on hand-built cases, the fixed-error mode, validation.

Oracles: masks written out by hand; a direct (sort + sum) computation of the
relative error in float64, independent of simulations.compressibility.api;
numpy's SVD; a straightforward numpy forward pass.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulations.pruning import magnitude_prune, node_prune, prune, random_prune, spectral_prune

# ---------------------------------------------------------------- hand-built cases

W0 = np.array([[0.1, -0.9, 0.5], [0.3, 0.7, -0.2]], dtype=np.float32)  # (2, 3)
W1 = np.array([[5.0, -4.0], [3.0, 2.0]], dtype=np.float32)  # (2, 2)


def test_layerwise_selects_expected_entries():
    res = magnitude_prune([W0, W1], ratio=0.4, scope="layer")
    # W0: ⌊0.4·6⌋ = 2 smallest |w| are 0.1 (0,0) and 0.2 (1,2); W1: ⌊1.6⌋ = 1 smallest is 2 (1,1)
    exp0 = np.array([[False, True, True], [True, True, False]])
    exp1 = np.array([[True, True], [True, False]])
    np.testing.assert_array_equal(res.masks[0], exp0)
    np.testing.assert_array_equal(res.masks[1], exp1)
    np.testing.assert_array_equal(res.weights[0], np.where(exp0, W0, 0))
    assert res.weights[0].dtype == np.float32
    assert res.remaining == [4, 3] and res.total == [6, 4]


def test_global_selects_expected_entries():
    res = magnitude_prune([W0, W1], ratio=0.4, scope="global")
    # pooled 10 entries, remove ⌊4⌋: 0.1, 0.2, 0.3, 0.5 — all in W0
    exp0 = np.array([[False, True, False], [False, True, False]])
    np.testing.assert_array_equal(res.masks[0], exp0)
    assert res.masks[1].all()
    assert res.remaining == [2, 4]
    assert res.compression_ratio == pytest.approx(10 / 6)


def test_skip_layers_and_negative_index():
    res = magnitude_prune([W0, W1], ratio=0.4, scope="global", skip_layers=[-1])
    # only W0 pooled: ⌊2.4⌋ = 2 removed
    assert res.pruned_layers == [0]
    np.testing.assert_array_equal(res.masks[0], np.array([[False, True, True], [True, True, False]]))
    assert res.masks[1].all()


def test_median_centred_fill():
    w = np.array([[10.0, 12.0, 12.5, 14.0, 40.0]], dtype=np.float32)  # median 12.5
    res = magnitude_prune([w], ratio=0.6, center=True)  # |w − 12.5| = 2.5, 0.5, 0, 1.5, 27.5 → drop 3
    np.testing.assert_array_equal(res.masks[0], [[True, False, False, False, True]])
    np.testing.assert_allclose(res.weights[0], [[10.0, 12.5, 12.5, 12.5, 40.0]])
    res0 = magnitude_prune([w], ratio=0.6, center=True, fill="zero")
    np.testing.assert_allclose(res0.weights[0], [[10.0, 0, 0, 0, 40.0]])
    with pytest.raises(ValueError, match="fill"):
        magnitude_prune([w], ratio=0.6, fill="median")


def test_zero_ratio_keeps_everything():
    res = prune([W0, W1], "magnitude", ratio=0.0)
    assert all(m.all() for m in res.masks) and res.sparsity == 0.0


# ---------------------------------------------------------------- fixed-error mode


def _direct_err(x, removed_idx):
    x = np.asarray(x, dtype=np.float64).ravel()
    return np.sqrt(np.sum(x[removed_idx] ** 2) / np.sum(x**2))


def _check_maximal(values, mask_flat, eps):
    """Removed set meets ε, and removing the next-smallest kept value would exceed it."""
    v = np.abs(np.asarray(values, dtype=np.float64).ravel())
    removed = ~mask_flat
    assert _direct_err(v, removed) <= eps + 1e-12
    kept_vals = np.sort(v[mask_flat])
    if kept_vals.size:
        worse = removed.copy()
        worse[np.flatnonzero(mask_flat)[np.argmin(v[mask_flat])]] = True
        assert _direct_err(v, worse) > eps - 1e-12
    # and the removed ones are the smallest (every removed ≤ every kept)
    if removed.any() and mask_flat.any():
        assert v[removed].max() <= v[mask_flat].min()


heavy = st.integers(0, 2**31 - 1).map(lambda s: np.random.default_rng(s))


@given(rng=heavy, eps=st.floats(0.01, 0.99), scope=st.sampled_from(["layer", "global"]))
def test_fixed_error_meets_eps_and_is_maximal(rng, eps, scope):
    ws = [rng.standard_t(1.5, size=(7, 5)).astype(np.float32), rng.standard_t(1.5, size=(3, 7)).astype(np.float32)]
    res = magnitude_prune(ws, eps=eps, scope=scope)
    if scope == "layer":
        for i, (w, m) in enumerate(zip(ws, res.masks)):
            _check_maximal(w, m.ravel(), eps)
            assert res.rel_error[i] <= eps + 1e-12
    else:
        pooled = np.concatenate([w.ravel() for w in ws])
        pm = np.concatenate([m.ravel() for m in res.masks])
        _check_maximal(pooled, pm, eps)


@given(rng=heavy, eps=st.floats(0.01, 0.99))
def test_fixed_error_centred(rng, eps):
    w = (rng.standard_t(2.0, size=(6, 9)) + 3.0).astype(np.float32)
    res = magnitude_prune([w], eps=eps, center=True)
    x = w.astype(np.float64) - np.median(w.astype(np.float64))
    _check_maximal(x, res.masks[0].ravel(), eps)
    # the reconstruction (median fill) has exactly that error relative to the centred norm
    err = np.linalg.norm(res.weights[0].astype(np.float64) - w) / np.linalg.norm(x)
    assert err <= eps + 1e-6


@given(rng=heavy, eps=st.floats(0.01, 0.99))
def test_node_fixed_error(rng, eps):
    ws = [rng.standard_t(1.5, size=(8, 5)).astype(np.float32), rng.normal(size=(3, 8)).astype(np.float32)]
    res = node_prune(ws, eps=eps)
    norms = np.linalg.norm(ws[0].astype(np.float64), axis=1)
    kept_rows = res.masks[0].all(axis=1)
    _check_maximal(norms, kept_rows, eps)
    # outgoing columns of the removed neurons are masked too
    np.testing.assert_array_equal(res.masks[1].all(axis=0), kept_rows)


@given(rng=heavy, eps=st.floats(0.01, 0.99))
def test_spectral_fixed_error(rng, eps):
    w = rng.normal(size=(9, 6)).astype(np.float32)
    res = spectral_prune([w], eps=eps)
    s = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    k = res.ranks[0]
    tail = lambda k: np.sqrt(np.sum(s[k:] ** 2) / np.sum(s**2))  # noqa: E731
    assert tail(k) <= eps + 1e-12
    if k > 0:
        assert tail(k - 1) > eps - 1e-12
    err = np.linalg.norm(res.weights[0].astype(np.float64) - w) / np.linalg.norm(w)
    assert err == pytest.approx(tail(k), abs=1e-5)


@given(rng=heavy, eps=st.floats(0.01, 0.99))
def test_random_fixed_error_is_a_maximal_prefix(rng, eps):
    w = rng.normal(size=(5, 6)).astype(np.float32)
    seed = int(rng.integers(1 << 30))
    res = random_prune([w], eps=eps, seed=seed)
    order = np.random.default_rng(seed).permutation(w.size)  # the documented order
    m = w.size - res.remaining[0]
    x = w.astype(np.float64).ravel()
    assert _direct_err(x, order[:m]) <= eps + 1e-12
    if m < w.size:
        assert _direct_err(x, order[: m + 1]) > eps - 1e-12
    np.testing.assert_array_equal(~res.masks[0].ravel()[order[:m]], True)


# ---------------------------------------------------------------- node / spectral / random details


def _forward(ws, x):
    a = x
    for i, w in enumerate(ws):
        a = a @ w.T
        if i < len(ws) - 1:
            a = np.maximum(a, 0.0)
    return a


def test_node_pruning_rows_and_columns():
    rng = np.random.default_rng(3)
    ws = [rng.normal(size=(6, 4)), rng.normal(size=(5, 6)), rng.normal(size=(2, 5))]
    ws = [w.astype(np.float32) for w in ws]
    res = node_prune(ws, ratio=0.5)
    for layer in (0, 1):
        norms = np.linalg.norm(ws[layer], axis=1)
        n_drop = int(0.5 * norms.size)
        drop = np.argsort(norms)[:n_drop]
        assert set(np.flatnonzero(~res.masks[layer].any(axis=1))) == set(drop)
        assert not res.masks[layer + 1][:, drop].any()
    assert res.pruned_layers == [0, 1]  # the output layer is never node-pruned
    # removing the outgoing columns too does not change the bias-free ReLU network's output
    res_rows = node_prune(ws, ratio=0.5, prune_outgoing=False)
    x = rng.normal(size=(10, 4)).astype(np.float32)
    np.testing.assert_allclose(_forward(res.weights, x), _forward(res_rows.weights, x), rtol=1e-6, atol=1e-6)
    assert res.n_remaining < res_rows.n_remaining
    # outgoing score = column norms of the next layer
    res_o = node_prune(ws, ratio=0.5, score="outgoing", skip_layers=[1])
    drop_o = np.argsort(np.linalg.norm(ws[1], axis=0))[:3]
    assert set(np.flatnonzero(~res_o.masks[0].all(axis=1))) == set(drop_o)
    assert res_o.pruned_layers == [0]


def test_spectral_ratio_against_numpy_svd():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 4)).astype(np.float32)
    res = spectral_prune([w], ratio=0.5)
    u, s, vh = np.linalg.svd(w.astype(np.float64), full_matrices=False)
    ref = (u[:, :2] * s[:2]) @ vh[:2]
    np.testing.assert_allclose(res.weights[0], ref, rtol=1e-5, atol=1e-5)
    assert res.ranks == [2] and res.remaining == [2 * (6 + 4)]
    a, b = res.factors[0]
    np.testing.assert_allclose(a @ b, ref, rtol=1e-5, atol=1e-5)
    assert res.masks is None
    # centred: the per-column medians are added back
    resc = spectral_prune([w], ratio=0.0, center=True)
    np.testing.assert_allclose(resc.weights[0], w, rtol=1e-5, atol=1e-5)


def test_random_exact_count_and_seed():
    rng = np.random.default_rng(1)
    ws = [rng.normal(size=(10, 8)).astype(np.float32), rng.normal(size=(4, 10)).astype(np.float32)]
    r1 = random_prune(ws, ratio=0.75, seed=7)
    r2 = random_prune(ws, ratio=0.75, seed=7)
    r3 = random_prune(ws, ratio=0.75, seed=8)
    assert r1.remaining == [80 - 60, 40 - 30]
    assert all(np.array_equal(a, b) for a, b in zip(r1.masks, r2.masks))
    assert not all(np.array_equal(a, b) for a, b in zip(r1.masks, r3.masks))
    g = random_prune(ws, ratio=0.75, scope="global", seed=7)
    assert g.n_remaining == 120 - 90


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("method", ["magnitude", "random", "node", "spectral"])
@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_ratio(method, bad):
    with pytest.raises(ValueError, match="ratio"):
        prune([W0, W1], method, ratio=bad)


@given(bad=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0)), method=st.sampled_from(["magnitude", "random", "node", "spectral"]))
def test_bad_eps_hypothesis(bad, method):
    with pytest.raises(ValueError, match="eps"):
        prune([W0, W1], method, eps=bad)


@given(bad=st.one_of(st.floats(max_value=-1e-12, allow_nan=False), st.floats(min_value=1.0, allow_nan=False)))
def test_bad_ratio_hypothesis(bad):
    with pytest.raises(ValueError, match="ratio"):
        magnitude_prune([W0, W1], ratio=bad)


def test_ratio_xor_eps():
    with pytest.raises(ValueError, match="ratio"):
        magnitude_prune([W0, W1])
    with pytest.raises(ValueError, match="eps"):
        magnitude_prune([W0, W1], ratio=0.5, eps=0.1)


def test_unknown_method_and_options():
    with pytest.raises(ValueError, match="method"):
        prune([W0, W1], "lottery", ratio=0.5)
    with pytest.raises(ValueError, match="scope"):
        magnitude_prune([W0, W1], ratio=0.5, scope="network")
    with pytest.raises(ValueError, match="score"):
        node_prune([W0, W1], ratio=0.5, score="gradient")


@given(layer=st.one_of(st.integers(min_value=2), st.integers(max_value=-3)), method=st.sampled_from(["magnitude", "random", "node", "spectral"]))
def test_nonexistent_layer(layer, method):
    with pytest.raises(ValueError, match="skip_layers"):
        prune([W0, W1], method, ratio=0.5, skip_layers=[layer])


def test_bad_weights():
    with pytest.raises(ValueError, match="weights"):
        magnitude_prune([W0, W0], ratio=0.5)  # (2,3) then (2,3): shapes do not chain
    with pytest.raises(ValueError, match="weights"):
        magnitude_prune([np.ones(3)], ratio=0.5)
    with pytest.raises(ValueError, match="weights"):
        magnitude_prune([np.array([[np.nan]])], ratio=0.5)
    with pytest.raises(TypeError, match="weights"):
        magnitude_prune("W", ratio=0.5)


# ---------------------------------------------------------------- extreme scales, flags

def _rel_oracle(x, removed):
    """‖x[removed]‖/‖x‖ from a vector already of order 1 (a plain float64 sum of squares)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    return float(np.sqrt(np.sum(x[np.ravel(removed)] ** 2) / np.sum(x**2)))


@pytest.mark.parametrize("scale", [1e200, 1e-200])
@pytest.mark.parametrize("method, opts", [
    ("magnitude", dict(ratio=0.5)), ("magnitude", dict(ratio=0.5, scope="global")),
    ("magnitude", dict(ratio=0.5, center=True)), ("magnitude", dict(eps=0.3)),
    ("random", dict(ratio=0.5, seed=1)), ("random", dict(eps=0.3, seed=1)),
    ("node", dict(ratio=0.5)), ("node", dict(eps=0.5, score="outgoing")),
])
def test_masked_rel_error_at_extreme_scales(scale, method, opts):
    rng = np.random.default_rng(0)
    base = [rng.normal(size=(6, 5)), rng.normal(size=(3, 6))]
    big = [w * scale for w in base]
    res = prune(big, method, **opts)
    ref = prune(base, method, **opts)
    for i, w in enumerate(big):
        x = w / scale  # the exact vector, back at order 1
        if opts.get("center"):
            x = x - np.median(x)
        assert np.isfinite(res.rel_error[i])
        assert res.rel_error[i] == pytest.approx(_rel_oracle(x, ~res.masks[i]), rel=1e-12, abs=1e-300)
        np.testing.assert_array_equal(res.masks[i], ref.masks[i])  # the selection is scale free too


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_spectral_rel_error_at_extreme_scales(scale):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(6, 5))
    res = spectral_prune([w * scale], ratio=0.4)
    s = np.linalg.svd(w, compute_uv=False)  # singular values of the rescaled matrix
    k = res.ranks[0]
    assert k == 3
    assert res.rel_error[0] == pytest.approx(float(np.sqrt(np.sum(s[k:] ** 2) / np.sum(s**2))), rel=1e-10)
    np.testing.assert_allclose(res.weights[0] / scale, spectral_prune([w], ratio=0.4).weights[0], rtol=1e-10,
                               atol=1e-12)


def test_weight_magnitude_limit():
    from simulations.pruning.one_shot import WEIGHT_ABS_MAX

    w = np.array([[1.0, -2.0 * WEIGHT_ABS_MAX]])
    for method in ("magnitude", "random", "node", "spectral"):
        with pytest.raises(ValueError, match=r"weights\[0\]"):
            prune([w], method, ratio=0.5)


@pytest.mark.parametrize("fn, flag", [
    (lambda v: magnitude_prune([W0, W1], ratio=0.5, center=v), "center"),
    (lambda v: spectral_prune([W0, W1], ratio=0.5, center=v), "center"),
    (lambda v: node_prune([W0, W1], ratio=0.5, prune_outgoing=v), "prune_outgoing"),
])
@pytest.mark.parametrize("bad", [1, 0, "yes", np.array([True]), None])
def test_flags_must_be_bools(fn, flag, bad):
    with pytest.raises(TypeError, match=flag):
        fn(bad)
    fn(np.True_)  # numpy bools are flags too


@pytest.mark.parametrize("fn, param", [
    (lambda: magnitude_prune([W0, W1], ratio=0.5, scope=np.array(["layer"])), "scope"),
    (lambda: magnitude_prune([W0, W1], ratio=0.5, center=True, fill="mean"), "fill"),
    (lambda: random_prune([W0, W1], ratio=0.5, scope="layers"), "scope"),
    (lambda: prune([W0, W1], np.array(["magnitude"]), ratio=0.5), "method"),
])
def test_string_options(fn, param):
    with pytest.raises((TypeError, ValueError), match=param):
        fn()


# ---------------------------------------------------------------- removal_count


def test_removal_count_against_direct_sums():
    from simulations.pruning.one_shot import removal_count

    v = np.array([0.1, -0.2, 0.3, 2.0, 0.05])
    total = float(np.sum(v**2))
    for eps in (0.05, 0.1, 0.2, 0.5, 0.99):
        m = max(j for j in range(v.size + 1) if np.sum(v[:j] ** 2) <= eps**2 * total)
        assert removal_count(v, eps) == m
    assert removal_count(np.zeros(4), 0.1) == 4           # a zero vector is removable entirely
    assert removal_count(v.astype(np.float32) * 1e30, 0.2) == removal_count(v, 0.2)


@pytest.mark.parametrize("values, eps, exc, param", [
    ("abc", 0.1, TypeError, "values_in_order"),
    (None, 0.1, TypeError, "values_in_order"),
    ({"a": 1}, 0.1, TypeError, "values_in_order"),
    (np.array([object(), 1.0], dtype=object), 0.1, TypeError, "values_in_order"),
    (np.array(["a", "b"]), 0.1, TypeError, "values_in_order"),
    (np.array([1 + 2j, 3j]), 0.1, TypeError, "values_in_order"),
    (np.array([1.0, np.nan]), 0.1, ValueError, "values_in_order"),
    (np.ones(3), "a", TypeError, "eps"),
    (np.ones(3), None, TypeError, "eps"),
    (np.ones(3), True, TypeError, "eps"),
    (np.ones(3), 1j, TypeError, "eps"),
    (np.ones(3), [1.0], TypeError, "eps"),
    (np.ones(3), np.array([1.0, 2.0]), TypeError, "eps"),
    (np.ones(3), 1.0, ValueError, "eps"),
])
def test_removal_count_validation(values, eps, exc, param):
    from simulations.pruning.one_shot import removal_count

    with pytest.raises(exc, match=param):
        removal_count(values, eps)
