"""IMP, rewinding and masked training on tiny networks.

Oracles: a straightforward numpy forward/backward pass of a bias-free ReLU MLP
with mean softmax cross-entropy (written here, independent of the core);
exact array equality for rewinding (θ_k is re-derived by an independent call of
simulations.nn.train); hand-computed Zhou et al. scores.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

nn = pytest.importorskip("simulations.nn")
from simulations.nn import (
    SGD,
    Mask,
    MLPSpec,
    NoiseConfig,
    StopRules,
    init_params,
    train,  # noqa: E402
)
from simulations.pruning.iterative import imp, mask_scores, prune_step  # noqa: E402

SPEC = MLPSpec((6, 10, 8, 3), bias=False)


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32) + (X[:, 1] > 0.5).astype(np.int32)
    Xt = rng.normal(size=(32, 6)).astype(np.float32)
    yt = (Xt[:, 0] > 0).astype(np.int32) + (Xt[:, 1] > 0.5).astype(np.int32)
    return nn.Dataset(X, y, Xt, yt, 3, "toy")


def _random_masks(spec, density, seed):
    rng = np.random.default_rng(seed)
    return [rng.random(s) < density for s in spec.weight_shapes]


# ---------------------------------------------------------------- reference forward/backward


def _ref_grad(ws, X, y):
    """Mean CE gradient of a bias-free ReLU MLP (float64 reference)."""
    acts = [X.astype(np.float64)]
    for i, w in enumerate(ws):
        z = acts[-1] @ w.T
        acts.append(np.maximum(z, 0) if i < len(ws) - 1 else z)
    z = acts[-1]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = p
    delta[np.arange(len(y)), y] -= 1.0
    delta /= len(y)
    grads = [None] * len(ws)
    for i in range(len(ws) - 1, -1, -1):
        grads[i] = delta.T @ acts[i]
        if i > 0:
            delta = (delta @ ws[i]) * (acts[i] > 0)
    return grads


def test_mask_honoured_in_forward_and_update():
    """One full-batch SGD step from θ with huge values at masked positions equals the reference
    θ₁ = M ⊙ (M⊙θ₀ − η ∇L(M⊙θ₀)): the forward pass sees only kept weights."""
    data = _data()
    masks = _random_masks(SPEC, 0.6, 1)
    p0 = init_params(SPEC, 0)
    for w, m in zip(p0.weights, masks):
        w[~m] = 1e3  # would dominate the loss if the forward pass used them
    mask = Mask.from_layers(SPEC, masks)
    res = train(SPEC, data, params=p0, mask=mask, optimizer=SGD(lr=0.1), batch_size=48,
                stop=StopRules(max_steps=1), seed=0)
    w0 = [np.where(m, w, 0.0).astype(np.float64) for w, m in zip(p0.weights, masks)]
    g = _ref_grad(w0, data.X_train, data.y_train)
    for l, (w, gl, m) in enumerate(zip(w0, g, masks)):
        expect = np.where(m, w - 0.1 * gl, 0.0)
        np.testing.assert_allclose(res.params.weights[l], expect, rtol=1e-4, atol=1e-5)
        assert np.all(res.params.weights[l][~m] == 0.0)


def test_pruned_weights_stay_exactly_zero_with_momentum_decay_noise():
    data = _data()
    masks = _random_masks(SPEC, 0.3, 2)
    mask = Mask.from_layers(SPEC, masks)
    seen = []

    def cb(entry):
        seen.append([np.array(w)[~m].copy() for w, m in zip(entry["params"].weights, masks)])

    p0 = init_params(SPEC, 3)
    res = train(SPEC, data, params=p0, mask=mask,
                optimizer=SGD(lr=0.05, momentum=0.9, weight_decay=1e-2),
                noise=NoiseConfig(alpha=1.5, sigma=0.5, kind="entry"),
                batch_size=8, stop=StopRules(max_steps=40), eval_every=10, callback=cb, seed=4)
    assert res.status != "diverged"
    assert len(seen) >= 4
    for snap in seen:
        for vals in snap:
            assert np.all(vals == 0.0)
    for w, m, w0 in zip(res.params.weights, masks, p0.weights):
        assert np.all(w[~m] == 0.0)
        assert not np.allclose(w[m], w0[m])  # the kept weights did train


# ---------------------------------------------------------------- IMP


def _imp(**kw):
    base = dict(steps=30, optimizer=SGD(lr=0.1, momentum=0.5), batch_size=8, seed=0, train_seed=11)
    base.update(kw)
    return imp(SPEC, _data(), **base)


def test_weight_rewinding_restores_theta_k_exactly():
    theta0 = init_params(SPEC, 5)
    k = 7
    res = _imp(params=theta0, rewind="iteration", rewind_step=k, targets=(0.5, 0.75))
    # independent: the same dense run, stopped after k steps
    ref = train(SPEC, _data(), params=theta0, optimizer=SGD(lr=0.1, momentum=0.5), batch_size=8,
                stop=StopRules(max_steps=k), seed=11)
    np.testing.assert_array_equal(res.rewind_point.flat, ref.params.flat)
    for r in res.rounds[1:]:
        mask = Mask.from_layers(SPEC, r.masks)
        expect = mask.apply(ref.params.copy())
        np.testing.assert_array_equal(r.start_params.flat, expect.flat)
        assert r.steps == 30 - k


def test_rewind_to_init_and_lr_rewinding():
    theta0 = init_params(SPEC, 6)
    res = _imp(params=theta0, rewind="init", targets=(0.5,))
    mask = Mask.from_layers(SPEC, res.rounds[1].masks)
    np.testing.assert_array_equal(res.rounds[1].start_params.flat, mask.apply(theta0.copy()).flat)
    res_lr = _imp(params=theta0, rewind="lr", rewind_step=5, targets=(0.5, 0.8))
    for prev, cur in zip(res_lr.rounds[:-1], res_lr.rounds[1:]):
        m = Mask.from_layers(SPEC, cur.masks)
        np.testing.assert_array_equal(cur.start_params.flat, m.apply(prev.params.copy()).flat)


def test_imp_sparsity_schedule_and_nesting():
    res = _imp(prune_fraction=0.5, rounds=3, rewind="finetune")
    n = sum(o * i for o, i in SPEC.weight_shapes)  # 60 + 80 + 24 = 164
    expect_alive = [n, n - int(0.5 * n), n - int(np.floor(0.75 * n + 1e-9)), n - int(np.floor(0.875 * n + 1e-9))]
    assert [r.remaining for r in res.rounds] == expect_alive
    for a, b in zip(res.rounds[:-1], res.rounds[1:]):
        for ma, mb in zip(a.masks, b.masks):
            assert not np.any(mb & ~ma)  # a pruned weight is never revived
    # the final parameters respect the masks exactly
    for r in res.rounds:
        for w, m in zip(r.params.weights, r.masks):
            assert np.all(np.asarray(w)[~m] == 0.0)


def test_layerwise_scope_and_skip():
    res = _imp(targets=(0.5,), scope="layer", skip_layers=[-1], rewind="init")
    m = res.rounds[1].masks
    assert m[2].all()
    assert m[0].sum() == 30 and m[1].sum() == 40


def test_controls():
    theta0 = init_params(SPEC, 8)
    res = _imp(params=theta0, rewind="init", targets=(0.5,), control="reshuffle")
    r = res.rounds[1]
    for l in range(SPEC.n_layers):
        kept0 = np.sort(np.asarray(theta0.weights[l])[r.masks[l]])
        kept1 = np.sort(np.asarray(r.start_params.weights[l])[r.masks[l]])
        np.testing.assert_array_equal(kept0, kept1)  # same values, permuted
    assert not np.array_equal(r.start_params.flat, Mask.from_layers(SPEC, r.masks).apply(theta0.copy()).flat)
    res2 = _imp(params=theta0, rewind="init", targets=(0.5,), control="reinit")
    assert not np.array_equal(res2.rounds[1].start_params.flat,
                              Mask.from_layers(SPEC, res2.rounds[1].masks).apply(theta0.copy()).flat)


def test_mask_scores_and_prune_step_by_hand():
    wf = [np.array([[1.0, -3.0], [0.5, 2.0]])]
    wi = [np.array([[2.0, 1.0], [-0.5, 0.0]])]
    np.testing.assert_allclose(mask_scores(wf, wi, "large_final")[0], [[1, 3], [0.5, 2]])
    np.testing.assert_allclose(mask_scores(wf, wi, "magnitude_increase")[0], [[-1, 2], [0, 2]])
    np.testing.assert_allclose(mask_scores(wf, wi, "movement")[0], [[1, 4], [1, 2]])
    m0 = [np.array([[True, True], [False, True]])]
    s = mask_scores(wf, wi, "magnitude_increase")
    m1 = prune_step(s, m0, [1], "layer", [0])
    np.testing.assert_array_equal(m1[0], [[False, True], [False, True]])  # (1,0) already gone; next lowest is (0,0)


def test_imp_validation():
    with pytest.raises(ValueError, match="rewind"):
        _imp(rewind="weights")
    with pytest.raises(ValueError, match="criterion"):
        _imp(criterion="gradient")
    with pytest.raises(ValueError, match="targets"):
        _imp(targets=(0.9, 0.5))
    with pytest.raises(ValueError, match="rewind_step"):
        _imp(rewind="iteration", rewind_step=30)
    with pytest.raises(ValueError, match="skip_layers"):
        _imp(skip_layers=[3])
    with pytest.raises(ValueError, match="control"):
        _imp(control="shuffle")


@given(bad=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0)))
def test_prune_fraction_validation(bad):
    with pytest.raises(ValueError, match="prune_fraction"):
        imp(SPEC, _data(), steps=2, prune_fraction=bad, rounds=1)


def test_imp_seeding_is_the_named_children_of_seed():
    from simulations._core.seeding import child

    a = _imp(seed=3, train_seed=None, targets=(0.5,), rewind="init", control="reinit")
    b = _imp(seed=3, train_seed=None, targets=(0.5,), rewind="init", control="reinit")
    np.testing.assert_array_equal(a.rounds[-1].params.flat, b.rounds[-1].params.flat)  # same seed ⇒ same numbers
    np.testing.assert_array_equal(a.init.flat, init_params(SPEC, child(3, "init")).flat)
    fresh = init_params(SPEC, child(3, "reinit", 1))
    np.testing.assert_array_equal(a.rounds[1].start_params.flat,
                                  Mask.from_layers(SPEC, a.rounds[1].masks).apply(fresh.copy()).flat)


# ---------------------------------------------------------------- validation of prune_step / mask_scores / imp data

_S2 = [np.arange(6.0).reshape(2, 3), np.arange(4.0).reshape(2, 2)]
_M2 = [np.ones((2, 3), bool), np.ones((2, 2), bool)]


@pytest.mark.parametrize("args, exc, param", [
    ((_S2, _M2, -1, "global", [0, 1]), ValueError, "n_remove"),
    ((_S2, _M2, 11, "global", [0, 1]), ValueError, "n_remove"),  # only 10 surviving entries
    ((_S2, _M2, [-1, 0], "layer", [0, 1]), ValueError, r"n_remove\[0\]"),
    ((_S2, _M2, [0, 5], "layer", [0, 1]), ValueError, r"n_remove\[1\]"),  # layer 1 has 4 entries
    ((_S2, _M2, [1], "layer", [0, 1]), ValueError, "n_remove"),  # one count per layer
    ((_S2, _M2, 1, "layr", [0, 1]), ValueError, "scope"),
    ((_S2, _M2, 1, np.array(["global"]), [0, 1]), TypeError, "scope"),
    ((_S2[:1], _M2, 1, "global", [0, 1]), ValueError, "scores"),  # lengths differ
    (([_S2[0], np.zeros((1, 2))], _M2, 1, "global", [0, 1]), ValueError, r"scores\[1\]"),  # shapes differ
    ((_S2, [np.full((2, 3), 2), _M2[1]], 1, "global", [0, 1]), ValueError, r"masks\[0\]"),  # not 0/1
    ((_S2, _M2, 1, "global", [0, 2]), ValueError, "layers"),
    ((_S2, _M2, 1, "global", [0, 0]), ValueError, "layers"),
    (([_S2[0], np.array([[np.nan, 0], [0, 0]])], _M2, 1, "global", [0, 1]), ValueError, r"scores\[1\]"),
])
def test_prune_step_validation(args, exc, param):
    with pytest.raises(exc, match=param):
        prune_step(*args)


def test_prune_step_counts_and_01_masks_against_hand_selection():
    # 0/1 masks are accepted; global: the 3 lowest surviving scores over both layers are removed
    m0 = [np.array([[1, 1, 0], [1, 1, 1]]), np.ones((2, 2), int)]
    out = prune_step(_S2, m0, 3, "global", [0, 1])
    np.testing.assert_array_equal(out[0], [[False, False, False], [True, True, True]])
    np.testing.assert_array_equal(out[1], [[False, True], [True, True]])
    # negative layer index = Python style; the counts follow the order of layers
    out = prune_step(_S2, _M2, [2, 1], "layer", [-1, 0])
    np.testing.assert_array_equal(out[1], [[False, False], [True, True]])
    np.testing.assert_array_equal(out[0], [[False, True, True], [True, True, True]])


@pytest.mark.parametrize("final, initial, criterion, exc, param", [
    ([np.ones((1, 5))], [np.ones((6, 5))], "movement", ValueError, r"initial\[0\]"),  # would broadcast
    ([np.ones((6, 5))], [np.ones((1, 5))], "magnitude_increase", ValueError, r"initial\[0\]"),
    ([np.ones((2, 2)), np.ones((2, 2))], [np.ones((2, 2))], "movement", ValueError, "initial"),
    ([np.ones((2, 2))], [np.ones((2, 2))], "largest", ValueError, "criterion"),
    ([np.ones((2, 2))], [np.ones((2, 2))], np.array(["movement"]), TypeError, "criterion"),
    ([np.array([[np.inf]])], [np.ones((1, 1))], "large_final", ValueError, r"final\[0\]"),
    (np.ones((2, 2)), [np.ones((2, 2))], "large_final", TypeError, "final"),
])
def test_mask_scores_validation(final, initial, criterion, exc, param):
    with pytest.raises(exc, match=param):
        mask_scores(final, initial, criterion)


def test_imp_accepts_the_tuple_data_of_train():
    d = _data()
    a = imp(SPEC, d, steps=6, batch_size=8, targets=(0.5,), rewind="init", seed=1)
    b = imp(SPEC, (d.X_train, d.y_train, d.X_test, d.y_test), steps=6, batch_size=8, targets=(0.5,),
            rewind="init", seed=1)
    assert [r.test_acc for r in a.rounds] == [r.test_acc for r in b.rounds]
    np.testing.assert_array_equal(a.rounds[-1].params.flat, b.rounds[-1].params.flat)


@pytest.mark.parametrize("data, exc", [
    ("tuple2", ValueError),  # no test split: IMP reports test accuracies
    ("noneTest", ValueError),
    ({"X": 1}, TypeError),
    (np.zeros((4, 6)), TypeError),
])
def test_imp_bad_data(data, exc):
    d = _data()
    if isinstance(data, str) and data == "tuple2":
        data = (d.X_train, d.y_train)
    elif isinstance(data, str) and data == "noneTest":
        data = nn.Dataset(d.X_train, d.y_train, None, None, 3, "toy")
    with pytest.raises(exc, match="data"):
        imp(SPEC, data, steps=4, batch_size=8, targets=(0.5,), rewind="init")


@pytest.mark.parametrize("kw, exc, param", [
    (dict(keep_params=1), TypeError, "keep_params"),
    (dict(finetune_lr=-0.1, rewind="finetune"), ValueError, "finetune_lr"),
    (dict(targets=0.5), TypeError, "targets"),
    (dict(params="theta"), TypeError, "params"),
    (dict(scope="layr"), ValueError, "scope"),
])
def test_imp_option_validation(kw, exc, param):
    opts = dict(steps=4, batch_size=8, targets=(0.5,), rewind="init")
    opts.update(kw)
    with pytest.raises(exc, match=param):
        imp(SPEC, _data(), **opts)
    with pytest.raises(TypeError, match="spec"):
        imp((6, 10, 3), _data(), steps=4)


@pytest.mark.parametrize("kw", [dict(rounds=2**31), dict(rounds=101), dict(targets=tuple(np.linspace(0.1, 0.99, 101)))])
def test_imp_rounds_bounded_before_training(kw):
    """At most ROUNDS_MAX rounds (each a training run): rejected up front instead of exhausting memory."""
    from simulations.pruning.iterative import ROUNDS_MAX

    assert ROUNDS_MAX == 100
    with pytest.raises(ValueError, match="rounds" if "rounds" in kw else "targets"):
        imp(SPEC, _data(), steps=3, batch_size=8, **kw)
