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
    assert flops_speedup([A, B], [np.zeros((4, 3), bool), np.zeros((2, 4), bool)]) == math.inf


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
