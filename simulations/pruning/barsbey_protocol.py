"""Barsbey et al. 2021 at their own protocol: the sweeps of ``pruning.barsbey_protocol`` and their summary.

The grids are the authors' (``all_experiment_settings.csv`` of their code, MNIST, seed 0): the
step sizes η of each (depth, batch size) of the bias-free FCN of width 2048 (:data:`ETA_GRID`).
The paper has no Fashion-MNIST runs; the MNIST grid is used for it (a stated deviation). Each run
trains to their convergence criterion (training loss < 5·10⁻⁵ at 100 % training accuracy), then
10 × 1000 more steps, averaging the last 1000 (:class:`simulations.experiments.pruning.ProtocolConfig`),
and measures the per-layer tail index as their code does (:mod:`simulations.tail_index.barsbey`) and
the one-shot pruning curves (magnitude per layer and global, node, singular values, random).

:func:`protocol_sweeps` ``(width=2048)`` is the paper's grid; a smaller ``width`` or an ``eta_stride``
(every k-th step size) makes a reduced grid, stated with every result. :func:`protocol_summary`
gives, per (data set, depth, batch size), Spearman's ρ between each run's median-over-layers α̂ and
its pruned test accuracy, with a percentile bootstrap confidence interval over runs
(scipy.stats.bootstrap, paired resampling), and the α̂ of the middle layers.
``python -m simulations.pruning.barsbey_protocol --store PATH [--width W] [--eta-stride K]`` runs
or resumes a sweep and prints the summary.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simulations._core.validation import check_array, check_bool, check_choice, check_int, check_real

__all__ = ["EXPERIMENT", "ETA_GRID", "protocol_sweeps", "run_protocol", "spearman_ci", "protocol_summary", "main"]

EXPERIMENT = "pruning.barsbey_protocol"
#: η per (depth, batch size) of the authors' MNIST FCN runs (width 2048, seed 0)
ETA_GRID: dict[tuple[int, int], tuple[float, ...]] = {
    (4, 100): (0.005, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.225, 0.25, 0.26, 0.27, 0.28, 0.3, 0.31),
    (4, 50): (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.225, 0.25, 0.26, 0.27, 0.28, 0.29, 0.3, 0.31, 0.32, 0.33, 0.34,
              0.35, 0.36, 0.37, 0.38, 0.39, 0.4, 0.41, 0.42, 0.43, 0.435, 0.44, 0.445, 0.46, 0.5, 0.51, 0.52, 0.53,
              0.54, 0.55, 0.555, 0.57),
    (6, 100): (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.325, 0.33, 0.34, 0.346),
    (6, 50): (0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.325, 0.33, 0.34, 0.35,
              0.355, 0.38, 0.4, 0.415, 0.42, 0.425, 0.44),
}
_STEPS_MAX = 10**6  # the authors' iteration budget


def protocol_sweeps(width: int = 2048, datasets: Sequence[str] | None = None, eta_stride: int = 1,
                    depths: Sequence[int] = (4, 6), backend: str = "cpu") -> list[tuple[str, list[dict], list[int]]]:
    """``[(experiment, configs, seeds)]``: every (depth, b, η) of :data:`ETA_GRID` (every ``eta_stride``-th η) per data set,
    in decreasing η/b.

    width : hidden width (2048 in the paper); datasets : "mnist" and/or "fashion_mnist" (default both);
    depths : a subset of (4, 6); backend : "cpu" or "cuda". The epoch budget is the authors' 10⁶ steps.
    Seed 0 only, as in the paper.
    """
    width = check_int("width", width, 1, 65536)
    eta_stride = check_int("eta_stride", eta_stride, 1, 100)
    check_choice("backend", backend, ("cpu", "cuda"))
    datasets = ("mnist", "fashion_mnist") if datasets is None else _names("datasets", datasets)
    for d in datasets:
        check_choice("datasets", d, ("mnist", "fashion_mnist"))
    if isinstance(depths, (str, bytes)) or not isinstance(depths, (list, tuple)):
        raise TypeError(f"depths must be a list of network depths (4 and/or 6), got {depths!r}")
    depths = tuple(check_choice("depths", check_int("depths", d, 2, 16), (4, 6)) for d in depths)
    cfgs = []
    for d in datasets:
        for (depth, b), etas in ETA_GRID.items():
            if depth not in depths:
                continue
            epochs = -(-_STEPS_MAX // (60000 // b))
            cfgs += [dict(dataset=d, width=width, depth=depth, batch_size=b, lr=eta, max_epochs=epochs,
                          backend=backend) for eta in etas[::eta_stride]]
    # largest η/b first over the whole sweep: those runs converge soonest (small η can take 10⁵+ steps), so an
    # interrupted sweep has the most finished runs
    cfgs.sort(key=lambda c: -c["lr"] / c["batch_size"])
    return [(EXPERIMENT, cfgs, [0])]


def _names(name: str, values) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise TypeError(f"{name} must be a list of data-set names, got {values!r}")
    return tuple(values)


def run_protocol(store, *, width: int = 2048, eta_stride: int = 1, datasets=None, depths=(4, 6), backend="cpu",
                 workers: int = 0, progress: bool = False) -> None:
    """Run (or resume) :func:`protocol_sweeps` into ``store`` (runs already done are skipped)."""
    from simulations.sweep import run_sweep

    progress = check_bool("progress", progress)
    workers = check_int("workers", workers, 0, 4096)
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    for name, configs, seeds in protocol_sweeps(width, datasets, eta_stride, depths, backend):
        run_sweep(name, configs, store, seeds=seeds, workers=workers, progress=progress)


def spearman_ci(x, y, level: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(ρ, low, high): Spearman's ρ of the pairs (x_i, y_i) and its percentile bootstrap interval.

    Pairs with a non-finite value are dropped; fewer than 4 pairs (or a constant side) give NaNs.
    The interval resamples the pairs (``scipy.stats.bootstrap``, ``paired=True``, percentile method).
    """
    from scipy import stats

    level = check_real("level", level, 0.0, 1.0, low_open=True, high_open=True)
    n_resamples = check_int("n_resamples", n_resamples, 100, 10**6)
    x = check_array("x", x, ndim=1, finite=False)
    y = check_array("y", y, ndim=1, finite=False)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    nan = float("nan")
    if x.size < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return nan, nan, nan

    def rho(a, b, axis=-1):  # Spearman's ρ = Pearson's r of the ranks (ties: average ranks), vectorised
        ra, rb = stats.rankdata(a, axis=axis), stats.rankdata(b, axis=axis)
        ra = ra - ra.mean(axis=axis, keepdims=True)
        rb = rb - rb.mean(axis=axis, keepdims=True)
        return (ra * rb).sum(axis=axis) / np.sqrt((ra * ra).sum(axis=axis) * (rb * rb).sum(axis=axis))

    r = float(stats.spearmanr(x, y).statistic)
    with np.errstate(invalid="ignore", divide="ignore"):
        bs = stats.bootstrap((x, y), rho, paired=True, vectorized=True, n_resamples=n_resamples,
                             confidence_level=level, method="percentile", random_state=np.random.default_rng(seed))
    return r, float(bs.confidence_interval.low), float(bs.confidence_interval.high)


def protocol_summary(store_or_rows, ratio_index: int = 2, method: str = "magnitude_layer",
                     alpha: str = "rows") -> list[dict]:
    """Per (dataset, depth, batch size): runs, converged runs, ρ(median α̂, accuracy) with its 95 % interval, middle α̂.

    ``ratio_index`` picks the compression ratio of the pruned accuracy (default 8×), ``method`` the
    pruning method, ``alpha`` the estimate ("rows", "entries" or "norms" of Barsbey et al.'s code).
    ``middle_alpha``: the α̂ of the hidden-to-hidden layers of every run (the paper's middle layers).
    """
    from simulations.sweep.report import experiment_rows

    check_choice("alpha", alpha, ("rows", "entries", "norms"))
    ratio_index = check_int("ratio_index", ratio_index, 0)
    key_a, key_acc = f"alpha_barsbey_{alpha}", f"acc_{method}"
    rows = experiment_rows(store_or_rows, EXPERIMENT, status=("done", "diverged"))
    out = []
    for k in sorted({(r["dataset"], r["depth"], r["batch_size"]) for r in rows}):
        rs = sorted([r for r in rows if (r["dataset"], r["depth"], r["batch_size"]) == k], key=lambda r: r["lr"])
        conv = [r for r in rs if r["status"] == "done" and r.get("train_status") == "interpolated"
                and key_a in r and key_acc in r]
        med = [float(np.median(r[key_a])) for r in conv]
        acc = [r[key_acc][ratio_index] for r in conv]
        rho, lo, hi = spearman_ci(med, acc)
        middle = [a for r in conv for a in r[key_a][1:-1]]
        out.append({"dataset": k[0], "depth": k[1], "batch_size": k[2], "runs": len(rs), "converged": len(conv),
                    "eta_over_b": [r["lr"] / r["batch_size"] for r in conv], "median_alpha": med, "acc": acc,
                    "rho": rho, "rho_low": lo, "rho_high": hi, "middle_alpha": middle,
                    "middle_at_2": float(np.mean(np.asarray(middle) >= 2.0 - 1e-9)) if middle else float("nan"),
                    "steps": [r["steps"] for r in conv]})
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Barsbey et al. 2021 at their protocol: run/resume, print the summary")
    ap.add_argument("--store", default=str(Path("paper") / "data" / "barsbey_protocol.sqlite"))
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--eta-stride", type=int, default=1)
    ap.add_argument("--datasets", nargs="*", default=None)
    ap.add_argument("--depths", nargs="*", type=int, default=[4, 6])
    ap.add_argument("--backend", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args(argv)
    if not a.table_only:
        run_protocol(a.store, width=a.width, eta_stride=a.eta_stride, datasets=a.datasets, depths=a.depths,
                     backend=a.backend, workers=a.workers, progress=True)
    for s in protocol_summary(a.store):
        print(f"{s['dataset']} depth {s['depth']} b={s['batch_size']}: {s['converged']}/{s['runs']} converged, "
              f"ρ(α̂, acc) = {s['rho']:+.2f} [{s['rho_low']:+.2f}, {s['rho_high']:+.2f}], "
              f"middle layers at α̂ = 2: {s['middle_at_2']:.0%}")


if __name__ == "__main__":
    main()
