"""Gradual magnitude pruning, SET and RigL on the segmented driver.

Oracles: a brute-force drop/grow (Python sorts of (score, position) pairs); the counts
⌊f(t)·nnz_l⌋ with f(t) = α/2 (1 + cos(π t/T_end)) and ⌊s_t·n_l⌋ with Zhu & Gupta's cubic s_t
written out here; recorded inputs of every update (via a wrapper of ``drop_grow``) checked
against the brute force and against the mask invariants (density per layer unchanged, growth
only into inactive positions, masked weights exactly 0); determinism under a fixed seed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulations.nn import SGD, MLPSpec, gaussian_mixture
from simulations.pruning.algorithms import dynamic
from simulations.pruning.algorithms.dynamic import drop_grow, rigl_train, set_train
from simulations.pruning.algorithms.gradual import gmp

SPEC = MLPSpec((6, 12, 10, 3), dtype="float64")
DATA = gaussian_mixture(120, dim=6, n_classes=3, n_test=30, seed=1)
OPT = SGD(lr=0.05, momentum=0.9)


def _brute(w, mask, k, g):
    """Reference drop/grow: sort (|w|, position) of the active, (−g, position) of the inactive-after-drop."""
    w, g, m = w.ravel(), g.ravel(), mask.ravel().copy()
    act = sorted((abs(float(w[j])), j) for j in range(m.size) if m[j])
    for _, j in act[:k]:
        m[j] = False
    ina = sorted((-float(g[j]), j) for j in range(m.size) if not m[j])
    for _, j in ina[:k]:
        m[j] = True
    return m.reshape(mask.shape)


@pytest.mark.parametrize("seed", range(6))
def test_drop_grow_brute_force(seed):
    rng = np.random.default_rng(seed)
    shape = (7, 9)
    mask = rng.random(shape) < 0.5
    w = np.round(rng.normal(size=shape), 1) * mask  # rounding makes ties
    g = np.round(rng.normal(size=shape), 1)
    k = int(rng.integers(0, mask.sum() + 1))
    new, born = drop_grow(w, mask, k, np.abs(g))
    assert np.array_equal(new, _brute(w, mask, k, np.abs(g)))
    assert new.sum() == mask.sum()
    assert np.array_equal(born, new & ~mask)


def _recording(monkeypatch):
    calls = []
    real = dynamic.drop_grow

    def rec(weights, mask, k, scores):
        out = real(weights, mask, k, scores)
        calls.append(dict(w=np.array(weights), mask=np.array(mask), k=k, scores=np.array(scores), new=out[0]))
        return out

    monkeypatch.setattr(dynamic, "drop_grow", rec)
    return calls


def test_rigl_updates(monkeypatch):
    calls = _recording(monkeypatch)
    T, dT, alpha = 240, 20, 0.3
    r = rigl_train(SPEC, DATA, sparsity=0.8, steps=T, update_every=dT, drop_fraction=alpha, optimizer=OPT,
                   batch_size=12, seed=0)
    t_end = int(0.75 * T)  # 180: updates at 20, 40, ..., 160
    steps = list(range(dT, t_end, dT))
    assert [e["step"] for e in r.history] == steps
    dens0 = r.config["densities"]
    sizes = [o * i for o, i in spec_shapes()]
    n_sparse = sum(1 for d in dens0 if d < 1)
    assert len(calls) == len(steps) * n_sparse
    n_dense_grad = 0  # gradient entries at pruned positions (zero for a masked gradient)
    for j, e in enumerate(r.history):
        f = alpha / 2 * (1 + math.cos(math.pi * e["step"] / t_end))
        assert e["drop_fraction"] == pytest.approx(f, abs=1e-15)
        for c in calls[j * n_sparse:(j + 1) * n_sparse]:
            nnz = int(c["mask"].sum())
            assert c["k"] == math.floor(f * nnz)
            assert c["new"].sum() == nnz  # per-layer density unchanged
            assert np.all(c["w"][~c["mask"]] == 0)  # the update sees masked weights
            n_dense_grad += np.count_nonzero(c["scores"][~c["mask"]])
            assert np.array_equal(c["new"], _brute(c["w"], c["mask"], c["k"], c["scores"]))
        assert e["layer_dropped"] == e["layer_grown"]
        assert sum(e["layer_dropped"]) == e["n_dropped"]
    assert r.history[0]["n_dropped"] > 0
    assert n_dense_grad > 0
    final_counts = [int(m.sum()) for m in r.masks]
    assert final_counts == [int(round(d * n)) for d, n in zip(dens0, sizes)]
    assert r.sparsity == pytest.approx(0.8, abs=1 / sum(sizes))
    for i in range(SPEC.n_layers):
        assert np.all(r.params.weights[i][~r.masks[i]] == 0)
    assert r.compute.parts["dense_grad"] > 0 and r.compute.steps == T


def spec_shapes():
    return SPEC.weight_shapes


def test_grown_weights_start_at_zero(monkeypatch):
    """Updates at every step with a tiny rate: a grown weight is still ≈ 0 at the next update, a kept one unchanged."""
    seen = {}
    real = dynamic.sparse_train

    def wrap(spec, data, update, **kw):
        def upd(step, params, velocity, masks, grad_fn):
            out = update(step, params, velocity, masks, grad_fn)
            seen[step] = (params.copy(), [m.copy() for m in masks], out.masks)
            return out
        return real(spec, data, upd, **kw)

    monkeypatch.setattr(dynamic, "sparse_train", wrap)
    rigl_train(SPEC, DATA, sparsity=0.7, steps=8, update_every=1, end_fraction=1.0,
               optimizer=SGD(lr=1e-300, momentum=0.9), batch_size=12, seed=1)
    n_born = 0
    for t in sorted(seen)[:-1]:
        p_now, before, after = seen[t]
        p_next = seen[t + 1][0]
        for i in range(SPEC.n_layers):
            born = after[i] & ~before[i]
            kept = after[i] & before[i]
            n_born += int(born.sum())
            # one step of size ≤ 1e-300·|g| from 0 (a grown weight that kept its old value would be O(0.1))
            assert np.all(np.abs(p_next.weights[i][born]) < 1e-290)
            np.testing.assert_allclose(p_next.weights[i][kept], p_now.weights[i][kept], rtol=1e-15, atol=1e-290)
            assert np.all(p_next.weights[i][~after[i]] == 0)
    assert n_born > 0


def test_set_regrows_only_inactive(monkeypatch):
    calls = _recording(monkeypatch)
    r = set_train(SPEC, DATA, sparsity=0.6, steps=100, update_every=10, drop_fraction=0.3, optimizer=OPT,
                  batch_size=12, seed=2)
    assert [e["step"] for e in r.history] == list(range(10, 100, 10))
    assert "dense_grad" not in r.compute.parts
    for c in calls:
        k, m, new = c["k"], c["mask"], c["new"]
        assert k == math.floor(0.3 * m.sum())
        grown = new & ~m
        assert np.all(~m[grown]) and grown.sum() <= k and new.sum() == m.sum()
        assert np.array_equal(new, _brute(c["w"], m, k, c["scores"]))
        assert np.all((c["scores"] >= 0) & (c["scores"] < 1))  # uniform scores: random regrowth


def test_determinism():
    a = rigl_train(SPEC, DATA, sparsity=0.8, steps=80, update_every=10, optimizer=OPT, batch_size=12, seed=5)
    b = rigl_train(SPEC, DATA, sparsity=0.8, steps=80, update_every=10, optimizer=OPT, batch_size=12, seed=5)
    c = rigl_train(SPEC, DATA, sparsity=0.8, steps=80, update_every=10, optimizer=OPT, batch_size=12, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a.masks, b.masks))
    assert np.array_equal(a.params.flat, b.params.flat)
    assert not all(np.array_equal(x, y) for x, y in zip(a.masks, c.masks))
    s1 = set_train(SPEC, DATA, sparsity=0.8, steps=60, update_every=10, optimizer=OPT, batch_size=12, seed=5)
    s2 = set_train(SPEC, DATA, sparsity=0.8, steps=60, update_every=10, optimizer=OPT, batch_size=12, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(s1.masks, s2.masks))
    g1 = gmp(SPEC, DATA, final_sparsity=0.9, steps=60, frequency=10, optimizer=OPT, batch_size=12, seed=5)
    g2 = gmp(SPEC, DATA, final_sparsity=0.9, steps=60, frequency=10, optimizer=OPT, batch_size=12, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(g1.masks, g2.masks))


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_gmp_follows_cubic_schedule(scope):
    sf, t0, t1, dt = 0.9, 10, 70, 15  # steps 10, 25, 40, 55, 70
    r = gmp(SPEC, DATA, final_sparsity=sf, steps=100, start_step=t0, end_step=t1, frequency=dt, scope=scope,
            layers=[0, 1], optimizer=OPT, batch_size=12, seed=0)
    want_steps = [10, 25, 40, 55, 70]
    assert [e["step"] for e in r.history] == want_steps
    sizes = [o * i for o, i in SPEC.weight_shapes]
    for e in r.history:
        s = sf * (1 - (1 - (e["step"] - t0) / (t1 - t0)) ** 3)
        assert e["target"] == pytest.approx(s, abs=1e-12)
        kept = [d * n for d, n in zip(e["layer_density"], sizes)]
        if scope == "layer":
            for j in (0, 1):
                assert round(kept[j]) == sizes[j] - math.floor(s * sizes[j] + 1e-9)
        else:
            n01 = sizes[0] + sizes[1]
            assert round(kept[0] + kept[1]) == n01 - math.floor(s * n01 + 1e-9)
        assert e["layer_density"][2] == 1.0  # not pruned
    last = r.history[-1]
    assert last["target"] == sf
    pruned01 = sum(sizes[j] - int(r.masks[j].sum()) for j in (0, 1))
    assert pruned01 == (sum(math.floor(sf * sizes[j] + 1e-9) for j in (0, 1)) if scope == "layer"
                        else math.floor(sf * (sizes[0] + sizes[1]) + 1e-9))
    for i in range(SPEC.n_layers):
        assert np.all(r.params.weights[i][~r.masks[i]] == 0)
    # masks only shrink: a later mask is contained in an earlier one
    assert r.compute.steps == 100 and r.compute.parts["train"] > 0


def test_gmp_prunes_smallest_magnitudes(monkeypatch):
    from simulations.pruning.algorithms import gradual

    calls = []
    real = gradual.prune_step

    def rec(scores, masks, n_remove, scope, layers):
        out = real(scores, masks, n_remove, scope, layers)
        calls.append((scores, masks, out))
        return out

    monkeypatch.setattr(gradual, "prune_step", rec)
    gmp(SPEC, DATA, final_sparsity=0.8, steps=50, start_step=0, end_step=40, frequency=10, optimizer=OPT,
        batch_size=12, seed=1)
    assert len(calls) == 5
    for scores, old, new in calls:
        for s, m0, m1 in zip(scores, old, new):
            assert np.all(m1 <= m0)  # never revived
            removed, kept = s[m0 & ~m1], s[m1]
            if removed.size and kept.size:
                assert removed.max() <= kept.min()


@pytest.mark.parametrize("fn, kw, name", [
    (rigl_train, dict(sparsity=1.0), "sparsity"),
    (rigl_train, dict(drop_fraction=-0.1), "drop_fraction"),
    (rigl_train, dict(update_every=0), "update_every"),
    (rigl_train, dict(end_fraction=0.0), "end_fraction"),
    (rigl_train, dict(anneal="linear"), "anneal"),
    (set_train, dict(distribution="normal"), "distribution"),
    (set_train, dict(dense_layers=[5]), "dense_layers"),
    (set_train, dict(params=3), "params"),
    (set_train, dict(steps=0), "steps"),
    (gmp, dict(final_sparsity=1.0), "final_sparsity"),
    (gmp, dict(initial_sparsity=0.95), "initial_sparsity"),
    (gmp, dict(start_step=30), "start_step"),
    (gmp, dict(start_step=10, end_step=5), "end_step"),
    (gmp, dict(frequency=0), "frequency"),
    (gmp, dict(scope="net"), "scope"),
    (gmp, dict(layers=[7]), "layers"),
    (gmp, dict(power=0), "power"),
])
def test_validation(fn, kw, name):
    args = dict(steps=20, batch_size=12)
    args.update(kw)
    with pytest.raises((TypeError, ValueError), match=name):
        fn(SPEC, DATA, **args)


def test_drop_grow_validation():
    m = np.ones((2, 3), bool)
    with pytest.raises(ValueError, match="k"):
        drop_grow(np.zeros((2, 3)), m, 7, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="grow_scores"):
        drop_grow(np.zeros((2, 3)), m, 1, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="weights"):
        drop_grow(np.full((2, 3), np.nan), m, 1, np.zeros((2, 3)))


def test_lenet_mnist_float32(data_dir):
    """LeNet-300-100 in float32 on an MNIST subset: every method runs and keeps its sparsity."""
    from simulations.nn import load_mnist

    d = load_mnist(root=data_dir)
    data = (d.X_train[:3000], d.y_train[:3000], d.X_test[:500], d.y_test[:500])
    spec = MLPSpec((784, 300, 100, 10))
    for fn, kw in ((rigl_train, dict(sparsity=0.9)), (set_train, dict(sparsity=0.9)),
                   (gmp, dict(final_sparsity=0.9, end_step=30, frequency=10))):
        r = fn(spec, data, steps=40, update_every=10, optimizer=OPT, batch_size=64, seed=0, **kw) if fn is not gmp \
            else fn(spec, data, steps=40, optimizer=OPT, batch_size=64, seed=0, **kw)
        assert r.params.flat.dtype == np.float32 and r.status == "completed"
        assert r.sparsity == pytest.approx(0.9, abs=1e-5)
        assert r.test_acc > 0.25  # 40 steps: well above chance (0.1), not converged
