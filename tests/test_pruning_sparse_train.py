"""The segmented sparse-training driver.

Oracles: one uninterrupted ``simulations.nn.train`` call (bit for bit, when the mask never
changes); the same run rebuilt by hand from ``train`` + ``resume`` with the mask change applied
to the state (new weights and their momentum zeroed); the SGD identity
θ_{t+1} = θ_t − η g_t of a plain-SGD step for the gradient ``grad_fn`` returns; MAC counts by hand.
"""
from __future__ import annotations

import numpy as np
import pytest

from simulations.nn import SGD, Mask, MLPSpec, Params, StopRules, gaussian_mixture, init_params, train
from simulations.pruning.algorithms.compute import Compute
from simulations.pruning.algorithms.sparse_train import MaskUpdate, sparse_train

SPEC = MLPSpec((6, 5, 4, 3), dtype="float64")
DATA = gaussian_mixture(100, dim=6, n_classes=3, n_test=20, seed=0)
OPT = SGD(lr=0.05, momentum=0.9, weight_decay=1e-3)


def _masks(seed, density=0.7):
    rng = np.random.default_rng(seed)
    return [rng.random(s) < density for s in SPEC.weight_shapes]


@pytest.mark.parametrize("kw", [dict(update_every=7), dict(update_at=[0, 1, 12, 13, 40]), dict(update_every=100)])
def test_unchanged_mask_equals_one_train_call(kw):
    p0 = init_params(SPEC, 1)
    masks = _masks(0)
    ref = train(SPEC, DATA, params=p0, mask=Mask.from_layers(SPEC, masks), optimizer=OPT, batch_size=8,
                stop=StopRules(max_steps=53), seed=3)
    seen = []

    def keep(step, params, velocity, m, grad_fn):
        seen.append(step)
        return m if step % 2 else None

    r = sparse_train(SPEC, DATA, keep, steps=53, masks=masks, params=p0, optimizer=OPT, batch_size=8, seed=3, **kw)
    want = kw.get("update_at", list(range(kw.get("update_every", 1), 53, kw.get("update_every", 1))))
    assert seen == want
    assert np.array_equal(r.params.flat, ref.params.flat)
    assert np.array_equal(r.train.state.velocity, ref.state.velocity)
    assert r.train.state.step == 53 and r.status == "completed"


def test_mask_change_matches_manual_resume():
    """Drop some weights and grow others at step 9; rebuild that by hand with train + resume."""
    p0 = init_params(SPEC, 2)
    m0 = _masks(1)
    m1 = _masks(5)  # a different mask: some positions dropped, some grown

    def change(step, params, velocity, m, grad_fn):
        return [x.copy() for x in m1]

    r = sparse_train(SPEC, DATA, change, steps=20, update_at=[9], masks=m0, params=p0, optimizer=OPT,
                     batch_size=8, seed=4)
    a = train(SPEC, DATA, params=p0, mask=Mask.from_layers(SPEC, m0), optimizer=OPT, batch_size=8,
              stop=StopRules(max_steps=9), seed=4)
    st = a.state
    vel = Params(SPEC, st.velocity)
    for i in range(SPEC.n_layers):
        st.params.weights[i][~m1[i]] = 0.0
        vel.weights[i][~m1[i]] = 0.0
        born = m1[i] & ~m0[i]
        st.params.weights[i][born] = 0.0
        vel.weights[i][born] = 0.0
    b = train(SPEC, DATA, mask=Mask.from_layers(SPEC, m1), optimizer=OPT, batch_size=8,
              stop=StopRules(max_steps=20), seed=4, resume=st)
    assert np.array_equal(r.params.flat, b.params.flat)
    assert np.array_equal(r.train.state.velocity, b.state.velocity)
    e = r.history[0]
    assert e["layer_dropped"] == [int((x & ~y).sum()) for x, y in zip(m0, m1)]
    assert e["layer_grown"] == [int((y & ~x).sum()) for x, y in zip(m0, m1)]
    assert all(np.array_equal(x, y) for x, y in zip(r.masks, m1))


def test_masked_weights_stay_zero_with_momentum():
    rng = np.random.default_rng(7)
    checks = []

    def shuffle(step, params, velocity, m, grad_fn):
        vel = Params(SPEC, velocity)
        for i in range(SPEC.n_layers):  # what the update sees is masked
            checks.append(np.all(params.weights[i][~m[i]] == 0) and np.all(vel.weights[i][~m[i]] == 0))
        return [rng.random(x.shape) < 0.6 for x in m]

    r = sparse_train(SPEC, DATA, shuffle, steps=60, update_every=5, masks=_masks(2), optimizer=OPT,
                     batch_size=8, seed=0)
    assert len(checks) == 11 * SPEC.n_layers and all(checks)
    vel = Params(SPEC, r.train.state.velocity)
    for i in range(SPEC.n_layers):
        assert np.all(r.params.weights[i][~r.masks[i]] == 0)
        assert np.all(vel.weights[i][~r.masks[i]] == 0)


def test_grad_fn_is_the_next_steps_minibatch_gradient():
    """With plain SGD (no momentum, no decay), dense masks: θ_{t+1} = θ_t − η g_t exactly (up to rounding)."""
    opt = SGD(lr=0.1)
    p0 = init_params(SPEC, 3)
    got = {}

    def grab(step, params, velocity, m, grad_fn):
        got[step] = (params.copy(), grad_fn())

    sparse_train(SPEC, DATA, grab, steps=30, update_at=[0, 11, 12, 24], params=p0, optimizer=opt, batch_size=8,
                 seed=5)
    ref = train(SPEC, DATA, params=p0, optimizer=opt, batch_size=8, stop=StopRules(max_steps=30), seed=5,
                snapshot_at=[1, 12, 13, 25])
    for t, (theta, g) in got.items():
        nxt = ref.snapshots[t + 1]
        for i in range(SPEC.n_layers):
            fd = (theta.weights[i] - nxt.weights[i]) / 0.1
            np.testing.assert_allclose(g[i], fd, rtol=1e-9, atol=1e-12)


def test_compute_counts_by_hand():
    masks = _masks(3)
    nnz0 = sum(int(m.sum()) for m in masks)
    bias = 5 + 4 + 3
    full = 6 * 5 + 5 * 4 + 4 * 3

    def upd(step, params, velocity, m, grad_fn):
        grad_fn()
        return [np.ones_like(x) for x in m]  # dense from step 10 on

    c = Compute()
    r = sparse_train(SPEC, DATA, upd, steps=25, update_at=[10], masks=masks, optimizer=OPT, batch_size=8, seed=0,
                     compute=c)
    assert r.compute is c and c.steps == 25 and c.examples == 200
    assert c.parts["train"] == 3 * 8 * (10 * (nnz0 + bias) + 15 * (full + bias))
    assert c.parts["dense_grad"] == 8 * (2 * (nnz0 + bias) + (full + bias))
    assert r.history[0]["grad_passes"] == 1


def test_mask_update_object_and_params_replacement():
    def upd(step, params, velocity, m, grad_fn):
        new = Params(SPEC, np.full(SPEC.n_params, 0.01))
        return MaskUpdate([x.copy() for x in m], n_dropped=[1, 2, 3], n_grown=[1, 2, 3], params=new,
                          info={"note": 1})

    r = sparse_train(SPEC, DATA, upd, steps=10, update_at=[9], masks=_masks(4), optimizer=SGD(lr=1e-30),
                     batch_size=8, seed=0)
    e = r.history[0]
    assert e["n_dropped"] == 6 and e["layer_grown"] == [1, 2, 3] and e["note"] == 1
    for i in range(SPEC.n_layers):  # one step at lr 1e-30 keeps 0.01 (rounding): the replaced, masked values
        np.testing.assert_array_equal(r.params.weights[i], np.where(r.masks[i], 0.01, 0.0))


@pytest.mark.parametrize("kw, name", [
    (dict(steps=0), "steps"),
    (dict(update_every=0), "update_every"),
    (dict(update_every=2, update_at=[1]), "update_at"),
    (dict(update_at=[10]), "update_at"),
    (dict(update_at="ab"), "update_at"),
    (dict(masks=[np.ones((2, 2), bool)]), "masks"),
    (dict(optimizer="sgd"), "optimizer"),
    (dict(params=np.zeros(3)), "params"),
    (dict(compute=3), "compute"),
    (dict(max_loss=-1.0), "max_loss"),
    (dict(batch_size=0), "batch_size"),
])
def test_validation(kw, name):
    args = dict(steps=10)
    args.update(kw)
    with pytest.raises((TypeError, ValueError), match=name):
        sparse_train(SPEC, DATA, lambda *a: None, **args)


def test_bad_update_output_rejected():
    with pytest.raises(ValueError, match="update's masks"):
        sparse_train(SPEC, DATA, lambda *a: [np.ones((2, 2), bool)], steps=10, update_at=[5],
                     batch_size=8)
    with pytest.raises(TypeError, match="update"):
        sparse_train(SPEC, DATA, "f", steps=10)
