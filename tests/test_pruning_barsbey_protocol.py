"""Barsbey et al.'s protocol: the grid, Spearman's ρ with its bootstrap interval, and one tiny run end to end.

Oracles: scipy.stats.spearmanr for ρ; the interval's coverage of the population ρ over independent
samples (a statistical check with its tolerance stated below); the step count of a converged run,
which must be the convergence step plus the delay and the averaged window.
"""
import numpy as np
import pytest
from scipy import stats

from simulations.experiments.pruning import ProtocolConfig
from simulations.pruning.barsbey_protocol import ETA_GRID, protocol_summary, protocol_sweeps, spearman_ci


def test_grid_is_the_authors_and_valid():
    (name, cfgs, seeds), = protocol_sweeps(datasets=["mnist"])
    assert seeds == [0] and len(cfgs) == sum(len(v) for v in ETA_GRID.values()) == 88
    for c in cfgs:
        cfg = ProtocolConfig(**c)
        assert cfg.width == 2048 and cfg.n_train == 0 and cfg.interpolation_loss == 5e-5
        assert cfg.averaging == 1000 and cfg.averaging_delay == 9000
        assert cfg.max_epochs * (60000 // cfg.batch_size) >= 10**6
    (_, small, _), = protocol_sweeps(width=256, datasets=["fashion_mnist"], eta_stride=3, depths=[4])
    assert {c["width"] for c in small} == {256} and len(small) == len(ETA_GRID[4, 100][::3]) + len(ETA_GRID[4, 50][::3])
    with pytest.raises(ValueError, match="depths"):
        protocol_sweeps(depths=[5])


def test_spearman_ci_against_scipy_and_its_coverage():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(30)
    y = x + rng.standard_normal(30)
    rho, lo, hi = spearman_ci(x, y)
    assert rho == pytest.approx(stats.spearmanr(x, y).statistic, rel=1e-12) and lo < rho < hi
    # coverage: 200 samples of n = 40 from a bivariate normal with correlation 0.6 (population Spearman
    # ρ_s = (6/π) asin(0.3) = 0.5847); a 95 % percentile interval should cover it in ≈ 95 % of them.
    # With 200 trials the binomial sd is 1.5 %; accept 88–99 % (percentile bootstraps under-cover a little).
    pop = 6 / np.pi * np.arcsin(0.3)
    cov = 0
    for t in range(200):
        r = np.random.default_rng(100 + t)
        z = r.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=40)
        _, lo, hi = spearman_ci(z[:, 0], z[:, 1], n_resamples=400, seed=t)
        cov += lo <= pop <= hi
    assert 0.88 <= cov / 200 <= 0.99
    assert np.isnan(spearman_ci([1, 2, 3], [1, 2, 3])[0]) and np.isnan(spearman_ci([1, 1, 1, 1], [1, 2, 3, 4])[0])


def test_a_tiny_run_converges_waits_and_averages(tmp_path):
    from simulations.sweep import run_sweep
    from simulations.sweep.report import experiment_rows

    cfg = dict(dataset="synthetic", width=16, depth=3, lr=0.2, batch_size=50, n_train=200, n_test=100,
               max_epochs=400, interpolation_loss=0.05, averaging=5, averaging_delay=10, eval_every=10,
               compressions=(2.0, 8.0), methods=("magnitude_layer", "node"))
    store = tmp_path / "s.sqlite"
    run_sweep("pruning.barsbey_protocol", [cfg], store, seeds=[0], workers=0, progress=False)
    rows = experiment_rows(store, "pruning.barsbey_protocol", status=("done", "diverged", "failed"))
    r, = rows
    assert r["status"] == "done" and r["train_status"] == "interpolated", r.get("error")
    assert (r["steps"] - 15) % 10 == 0  # convergence at an evaluation, then 10 + 5 steps
    for k in ("rows", "entries", "norms"):
        assert len(r[f"alpha_barsbey_{k}"]) == 3 and all(0 < a <= 2 for a in r[f"alpha_barsbey_{k}"])
    s, = protocol_summary(rows, ratio_index=1)
    assert s["converged"] == 1 and np.isnan(s["rho"]) and len(s["middle_alpha"]) == 1
