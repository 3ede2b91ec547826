"""ShrinkBench-style metrics on hand-computed examples."""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulations.pruning import (
    aggregate,
    compression_ratio,
    count_parameters,
    dense_flops,
    flops_speedup,
    magnitude_prune,
    ratios_for_compression,
    spectral_prune,
    summary,
)

# Two layers: (4, 3) and (2, 4): 12 + 8 = 20 weights.
A = np.arange(1, 13, dtype=np.float32).reshape(4, 3)
B = np.arange(1, 9, dtype=np.float32).reshape(2, 4)
MA = np.zeros((4, 3), bool)
MA[0, :] = True
MA[1, :2] = True  # 5 kept
MB = np.zeros((2, 4), bool)
MB[0, :3] = True  # 3 kept


def test_counts_hand_computed():
    assert count_parameters([A, B]) == (20, 20)
    assert count_parameters([A, B], [MA, MB]) == (8, 20)
    assert compression_ratio([A, B], [MA, MB]) == pytest.approx(20 / 8)
    # biases (4 + 2) are counted dense: (8 + 6) / (20 + 6)
    biases = [np.ones(4), np.ones(2)]
    assert count_parameters([A, B], [MA, MB], biases=biases) == (14, 26)
    assert compression_ratio([A, B], [MA, MB], biases=biases) == pytest.approx(26 / 14)
    # an exactly-zero kept weight is not counted
    A0 = A.copy()
    A0[0, 0] = 0
    assert count_parameters([A0, B], [MA, MB]) == (7, 20)
    # rank-1 first layer: 1·(4+3) = 7, second dense 8
    assert count_parameters([A, B], ranks=[1, None]) == (15, 20)


def test_flops_hand_computed():
    # dense MACs per example: 4·3 + 2·4 = 20; masked: 8 ⇒ speedup 2.5
    assert dense_flops([A, B]) == 20
    assert flops_speedup([A, B], [MA, MB]) == pytest.approx(2.5)
    assert dense_flops([A, B], biases=[np.ones(4), np.ones(2)]) == 26


ZEROS = [np.zeros((4, 3)), np.zeros((2, 4))]


@pytest.mark.parametrize("fn", [compression_ratio, flops_speedup])
@pytest.mark.parametrize("weights, masks", [
    ([A, B], [np.zeros((4, 3), bool), np.zeros((2, 4), bool)]),   # everything masked
    (ZEROS, None),                                                # every weight exactly zero
    ([A, B], [MA, MB * 0]),                                       # one layer fully pruned: still finite
])
def test_nothing_remaining_is_an_error_naming_weights_and_masks(fn, weights, masks):
    rem, tot = count_parameters(weights, masks)
    if rem:
        assert fn(weights, masks) == pytest.approx(tot / rem)
        return
    with pytest.raises(ValueError, match=r"weights, masks and ranks.*unbounded"):
        fn(weights, masks)
    # a bias or a rank-1 layer keeps something: finite again
    assert fn(weights, masks, biases=[np.ones(4), None]) == pytest.approx((tot + 4) / 4)
    assert fn(weights, masks, ranks=[1, None]) == pytest.approx(tot / 7)


def test_ratios_for_compression():
    np.testing.assert_allclose(ratios_for_compression([2, 4, 8, 16, 32]), [0.5, 0.75, 0.875, 0.9375, 0.96875])
    with pytest.raises(ValueError, match="compressions"):
        ratios_for_compression([0.5])


def test_result_properties_and_summary():
    rng = np.random.default_rng(0)
    ws = [rng.normal(size=(16, 8)).astype(np.float32), rng.normal(size=(4, 16)).astype(np.float32)]
    for c, r in zip([2, 4, 8, 16, 32], ratios_for_compression([2, 4, 8, 16, 32])):
        res = magnitude_prune(ws, ratio=r, scope="global")
        assert res.n_total == 192
        assert res.n_remaining == 192 - math.floor(r * 192 + 1e-9)
        assert res.compression_ratio == pytest.approx(c, rel=0.05)
        row = summary(ws, res, acc_before=0.9, acc_after=0.8)
        assert row["compression"] == pytest.approx(192 / res.n_remaining)
        assert row["flops_speedup"] == pytest.approx(192 / res.n_remaining)
    sp = spectral_prune(ws, ratio=0.5)  # ranks 4 and 2: 4·24 + 2·20 = 136
    assert sp.ranks == [4, 2] and sp.n_remaining == 136
    assert summary(ws, sp)["flops_speedup"] == pytest.approx(192 / 136)


def test_aggregate_against_numpy():
    rows = [{"m": "a", "c": 2, "acc": v} for v in (0.9, 0.8, 0.7)] + [{"m": "b", "c": 2, "acc": 0.5}]
    rows.append({"m": "a", "c": 2, "acc": float("nan")})  # skipped
    out = aggregate(rows, by=["m", "c"], value="acc")
    assert out[0]["m"] == "a" and out[0]["n"] == 3
    assert out[0]["mean"] == pytest.approx(0.8)
    assert out[0]["spread"] == pytest.approx(np.std([0.9, 0.8, 0.7], ddof=1))
    assert out[1]["spread"] == 0.0
    assert aggregate(rows, ["m"], "acc", spread="minmax")[0]["spread"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="spread"):
        aggregate(rows, ["m"], "acc", spread="iqr")


# ---------------------------------------------------------------- validation

from simulations.pruning import accuracy, combine_masks, full_masks, mask_counts, sparsity  # noqa: E402


def test_accuracy_hand_computed():
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, np.inf], [1.0, 1.0, 0.0]])
    assert accuracy(logits, [1, 0, 2, 1]) == 0.75  # ties go to the first class: row 3 predicts 0
    assert accuracy(logits, np.array([1.0, 0.0, 2.0, 0.0])) == 1.0


@pytest.mark.parametrize("logits, labels, exc, param", [
    (np.zeros((0, 3)), np.zeros(0, int), ValueError, "logits"),  # empty: was nan
    (np.zeros((2, 0)), np.zeros(2, int), ValueError, "logits"),
    (np.zeros(3), np.zeros(3, int), ValueError, "logits"),
    (np.zeros((2, 3, 1)), np.zeros(2, int), ValueError, "logits"),
    (np.array([[np.nan, 0.0]]), [0], ValueError, "logits"),
    (np.zeros((2, 3)), [0, 1, 2], ValueError, "labels"),
    (np.zeros((2, 3)), [[0, 1]], ValueError, "labels"),
    (np.zeros((2, 3)), [0, 3], ValueError, "labels"),
    (np.zeros((2, 3)), [-1, 0], ValueError, "labels"),
    (np.zeros((2, 3)), [0.5, 1.0], TypeError, "labels"),
    (np.zeros((2, 3)), ["a", "b"], TypeError, "labels"),
    ("ab", [0, 1], TypeError, "logits"),
])
def test_accuracy_validation(logits, labels, exc, param):
    with pytest.raises(exc, match=param):
        accuracy(logits, labels)


@pytest.mark.parametrize("fn, exc, param", [
    (lambda: count_parameters([A, B], ranks=[1]), ValueError, "ranks"),
    (lambda: count_parameters([A, B], ranks=[1, 1, 1]), ValueError, "ranks"),
    (lambda: count_parameters([A, B], ranks=[4, None]), ValueError, r"ranks\[0\]"),
    (lambda: count_parameters([A, B], biases=[np.zeros(3), None]), ValueError, r"biases\[0\]"),  # needs (4,)
    (lambda: count_parameters([A, B], biases=[np.zeros(4)]), ValueError, "biases"),
    (lambda: dense_flops([A, B], biases=[np.zeros((4, 1)), None]), ValueError, r"biases\[0\]"),
    (lambda: count_parameters([A, B], masks=[MA, MB[:1]]), ValueError, r"masks\[1\]"),
    (lambda: count_parameters([A, B], masks=[MA.astype(int) * 2, MB]), ValueError, r"masks\[0\]"),
    (lambda: ratios_for_compression([2.0, "x"]), TypeError, "compressions"),
    (lambda: ratios_for_compression([0.5]), ValueError, "compressions"),
    (lambda: ratios_for_compression(4.0), TypeError, "compressions"),
    (lambda: aggregate([], ["a"], "v", spread="var"), ValueError, "spread"),
    (lambda: aggregate([], ["a"], "v", spread=np.array(["std"])), TypeError, "spread"),
    (lambda: aggregate([], "dataset", "v"), TypeError, "by"),
    (lambda: aggregate([], ["a"], 3), TypeError, "value"),
    (lambda: combine_masks([MA, MB], [np.ones((1, 3), bool), MB]), ValueError, r"mask_lists\[1\]\[0\]"),
    (lambda: combine_masks([MA, MB], [MA]), ValueError, r"mask_lists\[1\]"),
    (lambda: combine_masks([MA, MB], [np.full((4, 3), 2), MB]), ValueError, r"mask_lists\[1\]\[0\]"),
    (lambda: mask_counts([np.array([[0, 2]])]), ValueError, r"masks\[0\]"),
    (lambda: mask_counts(MA), TypeError, "masks"),
    (lambda: sparsity([np.array([0.5, 1.0])]), ValueError, r"masks\[0\]"),
    (lambda: full_masks("W"), TypeError, "weights"),
    (lambda: full_masks([np.array(["a", "b"])]), TypeError, r"weights\[0\]"),
    (lambda: full_masks([object()]), TypeError, r"weights\[0\]"),
    (lambda: aggregate("abc", ["m"], "v"), TypeError, "rows"),
    (lambda: aggregate(3, ["m"], "v"), TypeError, "rows"),
    (lambda: aggregate(None, ["m"], "v"), TypeError, "rows"),
    (lambda: aggregate({"v": 1.0}, ["m"], "v"), TypeError, "rows"),
    (lambda: aggregate([{"v": 1.0}, "x"], ["m"], "v"), TypeError, r"rows\[1\]"),
    (lambda: aggregate([{"v": "high"}], ["m"], "v"), TypeError, r"rows\[0\]"),
])
def test_metric_and_mask_validation(fn, exc, param):
    with pytest.raises(exc, match=param):
        fn()


def test_combine_masks_accepts_01_and_ands():
    out = combine_masks([MA, MB], [np.ones((4, 3), int), MB.astype(float)])
    np.testing.assert_array_equal(out[0], MA)
    np.testing.assert_array_equal(out[1], MB)
    assert mask_counts([MA.astype(int), MB]) == ([5, 3], [12, 8])


def test_summary_validation():
    res = magnitude_prune([A, B], ratio=0.5)
    with pytest.raises(TypeError, match="result"):
        summary([A, B], {"method": "x"})
    with pytest.raises(ValueError, match="weights_before"):
        summary([A], res)
    with pytest.raises(ValueError, match="acc_before"):
        summary([A, B], res, acc_before=90.0)


def test_aggregate_takes_any_iterable_of_dicts_and_skips_missing_values():
    rows = [{"m": "a", "v": 1.0}, {"m": "a", "v": 3.0}, {"m": "a", "v": None}, {"m": "a"}]
    out = aggregate((r for r in rows), ["m"], "v")
    assert out == [{"m": "a", "mean": 2.0, "spread": pytest.approx(math.sqrt(2.0)), "n": 2}]


# ---------------------------------------------------------------- mask validators

from simulations.pruning.masks import apply_masks, check_layers, check_mask_list, check_masks  # noqa: E402


@pytest.mark.parametrize("fn, exc, param", [
    (lambda: apply_masks(3, [MA, MB]), TypeError, "weights"),
    (lambda: apply_masks(None, [MA, MB]), TypeError, "weights"),
    (lambda: apply_masks([A, B], None), TypeError, "masks"),
    (lambda: apply_masks([A, B], 3), TypeError, "masks"),
    (lambda: check_layers("layers", [0], "a"), TypeError, "n_layers"),
    (lambda: check_layers("layers", [0], None), TypeError, "n_layers"),
    (lambda: check_layers("layers", [0], [1]), TypeError, "n_layers"),
    (lambda: check_layers("layers", [0], np.array([1, 2])), TypeError, "n_layers"),
    (lambda: check_layers("layers", [0], True), TypeError, "n_layers"),
    (lambda: check_layers("layers", [0], 1.5), TypeError, "n_layers"),
    (lambda: check_layers("layers", [0], 0), ValueError, "n_layers"),
    (lambda: check_mask_list([MA, MB], shapes="abc"), TypeError, "shapes"),
    (lambda: check_mask_list([MA, MB], shapes=3), TypeError, "shapes"),
    (lambda: check_mask_list([MA, MB], shapes=object()), TypeError, "shapes"),
    (lambda: check_mask_list([MA, MB], shapes=[(4, 3), (2, "x")]), TypeError, r"shapes\[1\]"),
    (lambda: check_masks([MA, MB], "abc"), TypeError, "weights"),
    (lambda: check_masks([MA, MB], None), TypeError, "weights"),
    (lambda: check_masks([MA, MB], 3), TypeError, "weights"),
    (lambda: check_masks([MA, MB], [np.array(["a", "b"])]), TypeError, r"weights\[0\]"),
    (lambda: check_masks([MA, MB], [object()]), TypeError, r"weights\[0\]"),
])
def test_mask_validators_name_the_parameter(fn, exc, param):
    with pytest.raises(exc, match=param):
        fn()


def test_mask_validators_defaults():
    # None means "nothing pruned" for check_masks and "no layer" for check_layers (documented)
    assert [m.all() and m.shape for m in check_masks(None, [A, B])] == [(4, 3), (2, 4)]
    assert check_layers("layers", None, 2) == []
    assert check_layers("layers", np.int64(-1), 2) == [1]
    np.testing.assert_array_equal(apply_masks((A, B), [MA, MB], fill=3)[1], np.where(MB, B, 3))
    assert [m.shape for m in check_mask_list([MA, MB], shapes=[[4, 3], (2, 4)])] == [(4, 3), (2, 4)]
