"""The shared prune flow and the compute count, against brute force and counting by hand.

Oracles: ``magnitude_prune`` of :mod:`simulations.pruning.one_shot` (an independent
implementation of global / per-layer magnitude pruning) for the masks a magnitude scorer must
give; counts of kept entries written out here; MACs of a dense 784-300-100-10 network worked
out by hand.
"""
from __future__ import annotations

import numpy as np
import pytest

from simulations.nn import MLPSpec, init_params
from simulations.pruning.algorithms import Compute, ScoreBased, forward_macs, full_weight_masks, removal_counts
from simulations.pruning.one_shot import magnitude_prune


class _Magnitude(ScoreBased):
    name = "test_magnitude"
    needs_data = False

    def scores(self, params, data, masks):
        return [np.abs(np.asarray(w, dtype=np.float64)) for w in params.weights]


class _Random(ScoreBased):
    name = "test_random"
    needs_data = False

    def scores(self, params, data, masks):
        g = np.random.default_rng(1)
        return [g.random(w.shape) for w in params.weights]


SPEC = MLPSpec((12, 9, 7, 3), dtype="float64")


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("s", [0.0, 0.3, 0.5, 0.9, 0.97])
def test_magnitude_scorer_equals_one_shot_magnitude(scope, s):
    p = init_params(SPEC, 3)
    got = _Magnitude(scope).prune(p, s)
    want = magnitude_prune([np.array(w) for w in p.weights], ratio=s, scope=scope).masks
    for g, w in zip(got, want):
        assert g.dtype == bool and np.array_equal(g, w)


def test_pruned_entries_are_never_revived_and_sparsity_is_cumulative():
    p = init_params(SPEC, 0)
    first = _Random().prune(p, 0.5)
    second = _Magnitude().prune(p, 0.8, masks=first)
    for a, b in zip(first, second):
        assert not np.any(b & ~a)
    n = sum(m.size for m in second)
    assert sum(int(m.sum()) for m in second) == n - int(np.floor(0.8 * n))
    # asking for less than is already pruned removes nothing
    third = _Magnitude().prune(p, 0.3, masks=second)
    assert all(np.array_equal(a, b) for a, b in zip(second, third))


def test_layers_and_densities():
    p = init_params(SPEC, 1)
    m = _Magnitude().prune(p, 0.6, layers=[1])
    assert m[0].all() and m[2].all() and int(m[1].sum()) == 63 - int(np.floor(0.6 * 63))
    d = [0.25, 0.5, 1.0]
    m = _Magnitude().prune(p, densities=d)
    assert [int(x.sum()) for x in m] == [round(0.25 * 108), round(0.5 * 63), 21]


def test_removal_counts_by_hand():
    masks = full_weight_masks([(4, 5), (3, 4)])
    masks[0][0, :3] = False                                      # 17 of 20 alive
    assert removal_counts(masks, 0.5, [0, 1], "global") == 17 + 12 - (32 - 16)
    assert removal_counts(masks, 0.5, [0, 1], "layer") == [17 - 10, 12 - 6]
    assert removal_counts(masks, 0.1, [0], "layer") == [0]       # already sparser than the target
    assert removal_counts(masks, 0.0, [0, 1], "layer", densities=[0.5, 0.25]) == [7, 9]


def test_prune_validation():
    p = init_params(SPEC, 0)
    with pytest.raises(TypeError, match="params"):
        _Magnitude().prune([np.ones((3, 3))], 0.5)
    with pytest.raises(ValueError, match="sparsity"):
        _Magnitude().prune(p, 1.5)
    with pytest.raises(ValueError, match="scope"):
        _Magnitude(scope="row")
    with pytest.raises(ValueError, match="densities"):
        _Magnitude().prune(p, densities=[0.5])
    with pytest.raises(ValueError, match="densities"):
        removal_counts(full_weight_masks([(2, 2)]), 0.5, [0], "global", densities=[0.5])

    class NeedsData(_Magnitude):
        needs_data = True
    with pytest.raises(ValueError, match="data"):
        NeedsData().prune(p, 0.5)


def test_forward_macs_and_compute_by_hand():
    shapes = [(300, 784), (100, 300), (10, 100)]
    dense = 300 * 784 + 100 * 300 + 10 * 100
    assert forward_macs(shapes, bias=False) == dense
    assert forward_macs(shapes) == dense + 300 + 100 + 10
    masks = [np.zeros(s, bool) for s in shapes]
    masks[0][:2, :5] = True                                      # 10 kept weights
    assert forward_macs(shapes, masks) == 10 + 410
    c = Compute()
    c.train(shapes, None, batch_size=128, steps=7)
    c.passes(shapes, masks, n_examples=50, forward=1, backward=1, hvp=1)
    assert c.steps == 7 and c.examples == 7 * 128
    want = 3 * 128 * 7 * (dense + 410) + 50 * (10 + 410) * (1 + 2 + 6)
    assert c.macs == want and c.parts == {"train": 3 * 128 * 7 * (dense + 410), "score": 50 * 420 * 9}
    both = c.merged(c)
    assert both.macs == 2 * want and both.steps == 14 and both.parts["score"] == 2 * 50 * 420 * 9
    with pytest.raises(ValueError, match="batch_size"):
        c.train(shapes, None, batch_size=0, steps=1)
    with pytest.raises(ValueError, match="masks"):
        forward_macs(shapes, masks[:2])
