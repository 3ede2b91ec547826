"""Readers of the pruning results store: the runs as rows, trend statistics, curves and tables.

Every reader takes a results store (a path or an open
:class:`simulations.sweep.ResultsStore`) or a list of row dicts, and reads the runs
of the experiments ``pruning.heavy_tail`` and ``pruning.baselines``
(:mod:`simulations.experiments.pruning`, bodies in :mod:`simulations.pruning.study`).

The paper's trends (Barsbey, Sefidgaran, Erdogdu, Richard & Şimşekli, NeurIPS 2021)
are tested with Spearman's rank correlation ρ; the curves and the baselines table are
summarised as mean ± sample standard deviation over seeds (Blalock, Gonzalez Ortiz,
Frankle & Guttag, MLSys 2020).

Stores written before the magnitude methods were named by their scope (``"magnitude"``
= per-layer threshold, ``"global"`` = one global threshold; baselines ``oneshot_layer``
/ ``oneshot_global``) are read through :func:`upgrade_row`, which renames their keys.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from simulations._core.validation import check_bool, check_choice, check_int, check_rows

__all__ = [
    "upgrade_row",
    "heavy_tail_rows",
    "trend_summary",
    "curve_table",
    "baselines_table",
    "format_baselines_table",
    "LEGACY_METHODS",
]

#: old one-shot method names of ``pruning.heavy_tail`` -> the names of :data:`simulations.pruning.study.CURVE_METHODS`
LEGACY_METHODS = {"magnitude": "magnitude_layer", "global": "magnitude_global"}
#: old baseline metric names of ``pruning.baselines`` -> the names of :data:`simulations.pruning.study.BASELINES`
LEGACY_BASELINES = {"oneshot_layer": "oneshot_magnitude_layer", "oneshot_global": "oneshot_magnitude_global"}


def upgrade_row(row: dict) -> dict:
    """A row (or a run's config or metrics dict) with the pre-rename method keys renamed.

    ``acc_magnitude``/``comp_magnitude`` → ``acc_magnitude_layer``/``comp_magnitude_layer``,
    ``acc_global``/``comp_global`` → ``…_magnitude_global``, the ``methods`` list likewise,
    ``oneshot_layer``/``oneshot_global`` → ``oneshot_magnitude_layer``/``…_global``.
    Rows already in the new names come back unchanged (as a copy). ``row`` must be a dict.
    """
    if not isinstance(row, Mapping):
        raise TypeError(f"row must be a dict (a row, config or metrics), got {type(row).__name__}")
    out = dict(row)
    if "methods" in out and isinstance(out["methods"], (list, tuple)):
        out["methods"] = type(out["methods"])(LEGACY_METHODS.get(m, m) for m in out["methods"])
    for old, new in LEGACY_METHODS.items():
        for prefix in ("acc_", "comp_"):
            if prefix + old in out and prefix + new not in out:
                out[prefix + new] = out.pop(prefix + old)
    for old, new in LEGACY_BASELINES.items():
        if old in out and new not in out:
            out[new] = out.pop(old)
    return out


def _require(rows: list[dict], keys: tuple[str, ...], what: str) -> None:
    """Every row holds ``keys`` (ValueError naming store_or_rows otherwise)."""
    for i, r in enumerate(rows):
        missing = [k for k in keys if k not in r]
        if missing:
            raise ValueError(f"store_or_rows[{i}] must be a {what} row with the keys {list(keys)}; "
                             f"it lacks {missing}")


def _rows(store_or_rows, experiment: str, status=("done",)) -> list[dict]:
    """The rows of ``experiment`` with the given statuses from a results store or a list of row dicts."""
    from simulations.sweep.report import experiment_rows

    return [upgrade_row(r) for r in experiment_rows(store_or_rows, experiment, tuple(status))]


_RUN_KEY = ("dataset", "width", "depth", "lr", "batch_size", "n_train", "n_test", "init", "interpolation_loss",
            "averaging", "seed")


def heavy_tail_rows(store_or_rows, max_epochs: int | dict | None = None, include_diverged: bool = False) -> list[dict]:
    """Rows of ``pruning.heavy_tail``, sorted by dataset, η/b, seed.

    ``max_epochs=None``: when the store holds the same configuration and seed with several
    epoch budgets, only the run with the largest budget counts — and if that run diverged,
    the configuration is left out (it is not replaced by a shorter, finished run).
    ``max_epochs`` = an int or ``{dataset: int}`` keeps only runs with that budget.
    ``include_diverged`` keeps the diverged runs in the result (their metrics are partial).
    ``store_or_rows``: a results store (a path or a :class:`simulations.sweep.ResultsStore`) or
    a list of row dicts, each with at least ``dataset``, ``eta_over_b``, ``batch_size``,
    ``seed``, ``max_epochs`` and ``status``.
    """
    include_diverged = check_bool("include_diverged", include_diverged)
    if isinstance(max_epochs, dict):
        max_epochs = {d: check_int(f"max_epochs[{d!r}]", v, 1) for d, v in max_epochs.items()}
    elif max_epochs is not None:
        max_epochs = check_int("max_epochs", max_epochs, 1)
    rows = _rows(store_or_rows, "pruning.heavy_tail", status=("done", "diverged"))
    _require(rows, ("dataset", "eta_over_b", "batch_size", "seed", "max_epochs", "status"), "pruning.heavy_tail")
    if max_epochs is not None:
        want = (lambda r: max_epochs.get(r["dataset"])) if isinstance(max_epochs, dict) else (lambda r: max_epochs)
        chosen = [r for r in rows if r["max_epochs"] == want(r)]
    else:
        best: dict = {}
        for r in rows:
            key = tuple(r.get(k) for k in _RUN_KEY)
            if key not in best or r["max_epochs"] > best[key]["max_epochs"]:
                best[key] = r
        chosen = list(best.values())
    if not include_diverged:
        chosen = [r for r in chosen if r["status"] == "done"]
    return sorted(chosen, key=lambda r: (r["dataset"], r["eta_over_b"], r["batch_size"], r["seed"]))


def _spearman(x, y) -> float:
    """Spearman's ρ (NaN when fewer than 3 finite pairs or a constant input)."""
    import warnings

    from scipy.stats import spearmanr

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(x[ok], y[ok]).statistic)


def trend_summary(store_or_rows, ratio_index: int = 2, max_epochs=None) -> list[dict]:
    """Per dataset: Spearman correlations that test the paper's trends (seed 0 runs of the η grid).

    ``rho_alpha_eta_b[l]``: corr(η/b, α̂_l) — the paper predicts < 0 (larger η/b, heavier tails);
    ``rho_acc_eta_b_<m>``: corr(η/b, accuracy after method m at ``ratios[ratio_index]``) — predicted > 0;
    ``rho_prunable_alpha``: corr(α̂, prunable fraction at 10 %) over all layers and runs — predicted < 0.
    """
    ratio_index = check_int("ratio_index", ratio_index, 0)
    rows = heavy_tail_rows(store_or_rows, max_epochs)
    for r in rows:
        if "ratios" not in r:
            continue
        n_ratios = len(r["ratios"])
        if ratio_index >= n_ratios:
            raise ValueError(f"ratio_index must be in [0, {n_ratios - 1}] (the ratios of the runs), got {ratio_index}")
    _require(rows, ("alpha", "prunable_mag", "test_acc", "train_acc"), "pruning.heavy_tail")
    out = []
    for d in sorted({r["dataset"] for r in rows}):
        rs = [r for r in rows if r["dataset"] == d and r["seed"] == 0]
        if not rs:
            continue
        L = len(rs[0]["alpha"])
        eb = [r["eta_over_b"] for r in rs]
        row = {"dataset": d, "runs": len(rs), "eta_over_b": eb}
        row["alpha_by_layer"] = [[r["alpha"][l] for r in rs] for l in range(L)]
        row["rho_alpha_eta_b"] = [_spearman(eb, [np.nan if r["alpha"][l] is None else r["alpha"][l] for r in rs])
                                  for l in range(L)]
        for m in ("magnitude_layer", "magnitude_global", "node", "spectral"):
            key = f"acc_{m}"
            if key in rs[0]:
                row[f"rho_acc_eta_b_{m}"] = _spearman(eb, [r[key][ratio_index] for r in rs])
                row[f"acc_{m}_at"] = [r[key][ratio_index] for r in rs]
        al, pf = [], []
        for r in rs:
            for a, p in zip(r["alpha"], r["prunable_mag"]):
                if a is not None:
                    al.append(a)
                    pf.append(p)
        row["rho_prunable_alpha"] = _spearman(al, pf)
        row["test_acc"] = [r["test_acc"] for r in rs]
        row["train_acc"] = [r["train_acc"] for r in rs]
        out.append(row)
    return out


def curve_table(store_or_rows, method: str = "magnitude_layer") -> list[dict]:
    """Accuracy vs compression, mean ± sd over seeds, per (dataset, η, b) with ≥ 2 seeds."""
    from simulations.pruning.metrics import aggregate
    from simulations.pruning.study import CURVE_METHODS

    check_choice("method", method, tuple(CURVE_METHODS) + tuple(LEGACY_METHODS))
    method = LEGACY_METHODS.get(method, method)
    flat = []
    rows = heavy_tail_rows(store_or_rows)
    _require(rows, ("lr", "ratios", f"comp_{method}", f"acc_{method}"), "pruning.heavy_tail")
    for r in rows:
        for ratio, c, a in zip(r["ratios"], r[f"comp_{method}"], r[f"acc_{method}"]):
            flat.append({"dataset": r["dataset"], "lr": r["lr"], "batch_size": r["batch_size"],
                         "target": round(1.0 / (1.0 - ratio), 3), "comp": c, "acc": a, "seed": r["seed"]})
    agg = aggregate(flat, ["dataset", "lr", "batch_size", "target"], "acc")
    return [g for g in agg if g["n"] >= 2]


#: baseline methods of the table, in order, with their labels
BASELINE_LABELS = {
    "dense": "dense (0 %)", "oneshot_magnitude_global": "one-shot global magnitude",
    "oneshot_magnitude_layer": "one-shot layerwise magnitude", "oneshot_random": "one-shot random",
    "imp_iteration": "IMP, weight rewinding", "imp_lr": "IMP, LR rewinding", "imp_init": "IMP, rewind to init",
    "imp_finetune": "IMP, fine-tuning",
}


def baselines_table(store_or_rows) -> list[dict]:
    """Mean ± sd (over seeds) test accuracy per dataset, method and sparsity."""
    from simulations.pruning.metrics import aggregate

    flat = []
    rows = _rows(store_or_rows, "pruning.baselines")
    _require(rows, ("dataset", "dense_acc", "sparsities"), "pruning.baselines")
    for r in rows:
        flat.append({"dataset": r["dataset"], "method": "dense", "sparsity": 0.0, "acc": r["dense_acc"]})
        for m in BASELINE_LABELS:
            if m != "dense" and r.get(m) is not None:
                for s, a in zip(r["sparsities"], r[m]):
                    flat.append({"dataset": r["dataset"], "method": m, "sparsity": s, "acc": a})
    return aggregate(flat, ["dataset", "method", "sparsity"], "acc")


def format_baselines_table(table: list[dict]) -> str:
    """Markdown table: rows = (dataset, method), columns = sparsities, cells = mean ± sd (%).

    ``table``: a list of dicts with the keys ``dataset``, ``method``, ``sparsity``, ``mean``,
    ``spread`` and ``n``, as returned by :func:`baselines_table`.
    """
    table = check_rows("table", table, ("dataset", "method", "sparsity", "mean", "spread", "n"), "baselines_table")
    sps = sorted({t["sparsity"] for t in table if t["method"] != "dense"})
    lines = ["| data set | method | " + " | ".join(f"{100 * s:g} %" for s in sps) + " |",
             "|---|---|" + "---|" * len(sps)]
    for d in sorted({t["dataset"] for t in table}):
        for m, label in BASELINE_LABELS.items():
            cells = {t["sparsity"]: t for t in table if t["dataset"] == d and t["method"] == m}
            if not cells:
                continue
            if m == "dense":
                t = cells.get(0.0, next(iter(cells.values())))
                vals = [f"{100 * t['mean']:.1f} ± {100 * t['spread']:.1f} (n={t['n']})"] + [""] * (len(sps) - 1)
            else:
                vals = [f"{100 * cells[s]['mean']:.1f} ± {100 * cells[s]['spread']:.1f}" if s in cells else "–"
                        for s in sps]
            lines.append(f"| {d} | {label} | " + " | ".join(vals) + " |")
    return "\n".join(lines)
