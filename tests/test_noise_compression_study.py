"""The noise_compression.mlp experiment: runs end to end on the synthetic mixture,
keeps the equal-total-steps budget for IMP/LRR, validates its configuration, aggregates correctly."""
from __future__ import annotations

import numpy as np
import pytest

from simulations import noise_compression as nie
from simulations.sweep import make_config


def test_run_tiny_synthetic():
    cfg = make_config("noise_compression.mlp", dataset="synthetic", hidden=(16, 8), n_train=200, n_test=100, steps=60,
                      batch_size=20, lr=0.05, sigma=0.0, imp=True, rewind_step=3, sparsities=(0.5, 0.8))
    out = nie.run_mlp(cfg, 0)
    m = out["metrics"]
    assert out["status"] == "done"
    assert len(m["oneshot_magnitude"]) == len(m["oneshot_node"]) == len(m["imp_iteration"]) == 2
    assert all(0 <= p <= 1 for p in m["prunable_neurons"]) and len(m["prunable_neurons"]) == 2
    # equal total steps: R = 3 rounds of ceil((60 + 2*3)/3) = 22 steps, later rounds 22 - 3
    assert m["imp_total_steps"] == 22 + 2 * 19
    assert abs(m["imp_total_steps"] - cfg.steps) <= 3
    noisy = nie.run_mlp(make_config("noise_compression.mlp", **{**cfg.__dict__, "sigma": 0.01, "imp": False}), 0)
    assert noisy["status"] in ("done", "diverged")


def test_config_validation():
    with pytest.raises(ValueError, match="hidden"):
        make_config("noise_compression.mlp", hidden=(8, 8, 8, 8))
    with pytest.raises(ValueError, match="alpha"):
        make_config("noise_compression.mlp", alpha=2.5)
    with pytest.raises(ValueError, match="sigma"):
        make_config("noise_compression.mlp", sigma=-1.0)
    with pytest.raises(ValueError, match="noise"):
        make_config("noise_compression.mlp", noise="layer")


def test_comparison_table_means():
    def run(seed, acc, sigma):
        return {"status": "done", "config": {"dataset": "mnist", "hidden": [4], "alpha": 1.5, "sigma": sigma,
                                             "noise": "neuron", "sparsities": [0.5], "steps": 10},
                "metrics": {"dense_acc": acc, "prunable_neurons_mean": 0.1, "oneshot_magnitude": [acc / 2],
                            "oneshot_node": [acc / 4]}}
    runs = [run(0, 0.8, 0.0), run(1, 0.6, 0.0), run(0, 0.5, 0.1),
            {"status": "diverged", "config": run(1, 0, 0.1)["config"], "metrics": {}}]
    rows = nie.comparison_table(runs)
    sgd = next(r for r in rows if r["sigma"] == 0.0)
    assert sgd["dense_acc"][0] == pytest.approx(0.7) and sgd["dense_acc"][1] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert sgd["oneshot_magnitude"][0][0] == pytest.approx(0.35)
    noisy = next(r for r in rows if r["sigma"] == 0.1)
    assert noisy["n_seeds"] == 1 and noisy["n_diverged"] == 1
    assert "1 diverged" in nie.table_markdown(rows)


def test_noise_blow_up_is_a_diverged_run_with_its_reason():
    # α = 0.5, σ = 1000: the default divergence guard of nn.StopRules stops the run
    cfg = make_config("noise_compression.mlp", dataset="synthetic", hidden=(16,), n_train=100, n_test=50, steps=100,
                      batch_size=20, lr=0.05, alpha=0.5, sigma=1e3, noise="entry", sparsities=(0.5,))
    out = nie.run_mlp(cfg, 0)
    assert out["status"] == "diverged" and out["metrics"]["steps"] < 100
    assert "max_loss" in out["error"] or "max_weight" in out["error"]


@pytest.mark.parametrize("call, err, match", [
    (lambda: nie.default_sweeps(1), TypeError, "quick"),
    (lambda: nie.comparison_table([], dataset=np.array(["mnist"])), TypeError, "dataset"),
    (lambda: make_config("noise_compression.mlp", sparsities=()), ValueError, "sparsities"),
    (lambda: make_config("noise_compression.mlp", sparsities=(0.9, 0.8)), ValueError, "sparsities"),
    (lambda: make_config("noise_compression.mlp", imp=1), TypeError, "imp"),
    (lambda: make_config("noise_compression.mlp", noise=np.array(["entry"])), TypeError, "noise"),
    (lambda: nie.comparison_table("abc"), TypeError, "store"),
    (lambda: nie.comparison_table(None), TypeError, "store"),
    (lambda: nie.comparison_table(3), TypeError, "store"),
    (lambda: nie.comparison_table(["abc"]), TypeError, "store"),
    (lambda: nie.comparison_table([{"status": "done"}]), ValueError, "store"),
    (lambda: nie.table_markdown("abc"), TypeError, "rows"),
    (lambda: nie.table_markdown(None), TypeError, "rows"),
    (lambda: nie.table_markdown(3), TypeError, "rows"),
    (lambda: nie.table_markdown([object()]), TypeError, "rows"),
    (lambda: nie.table_markdown([{"dataset": "mnist"}]), ValueError, "rows"),
])
def test_bad_arguments_are_named(call, err, match):
    with pytest.raises(err, match=match):
        call()
