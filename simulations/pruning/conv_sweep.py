"""The LeNet-5 sweep of ``pruning.conv``: plain SGD against noise-injected SGD, then pruned one-shot.

:func:`conv_sweeps` is the committed grid: LeNet-5 (:func:`simulations.nn.get_model`) on the full
MNIST and Fashion-MNIST training sets, SGD with momentum 0.9, batch 128, step 0.05 × 0.1 after
epochs 2 and 3, weight decay 5·10⁻⁴, 4 epochs, seeds 0–2; the noise variants are none, and
per-filter ("neuron") α-stable noise with α = 1.75 at σ ∈ {10⁻³, 3·10⁻³} on every weight tensor
but the first convolution and the classifier (Wan, Barsbey, Zaidi & Şimşekli 2024, ICML, inject
into all layers but those two). Every run is measured by :func:`simulations.pruning.conv_study.conv_run`.
:func:`conv_table` reads the store into one row per (data set, variant) with means and standard
deviations over seeds; ``python -m simulations.pruning.conv_sweep`` runs or resumes the sweep into
``paper/data/conv.sqlite`` and prints the table (``--table-only`` reads it).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simulations._core.validation import check_bool, check_int

__all__ = ["CONV", "NOISE_VARIANTS", "conv_sweeps", "run_conv", "conv_table", "format_conv_table", "main"]

CONV = "pruning.conv"
#: (label, noise_sigma, noise_kind) of the sweep; noised layers: all but the first conv and the classifier
NOISE_VARIANTS = (("plain SGD", 0.0, "neuron"), ("noise per filter, σ = 1e-3", 1e-3, "neuron"),
                  ("noise per filter, σ = 3e-3", 3e-3, "neuron"))
_BASE = dict(model="lenet5", epochs=4, batch_size=128, lr=0.05, momentum=0.9, weight_decay=5e-4, milestones=(2, 3),
             noise_alpha=1.75, noise_layers=(1, 2, 3), sparsities=(0.5, 0.8, 0.9, 0.95, 0.98),
             filter_fractions=(0.1, 0.25, 0.5))
_QUICK = dict(n_train=512, n_test=256, epochs=1, batch_size=64, milestones=(1,))


def conv_sweeps(quick: bool = False, datasets: Sequence[str] | None = None) -> list[tuple[str, list[dict], list[int]]]:
    """``[(experiment, configs, seeds)]`` of the sweep (module docstring); ``quick``: 512 images, 1 epoch, seed 0."""
    quick = check_bool("quick", quick)
    if datasets is not None and (isinstance(datasets, (str, bytes)) or not isinstance(datasets, (list, tuple))):
        raise TypeError(f"datasets must be a list of data-set names ('mnist', 'fashion_mnist'), got {datasets!r}")
    datasets = ("mnist", "fashion_mnist") if datasets is None else tuple(datasets)
    for d in datasets:
        if d not in ("mnist", "fashion_mnist"):
            raise ValueError(f"datasets must hold 'mnist' and/or 'fashion_mnist', got {d!r}")
    base = dict(_BASE, **(_QUICK if quick else {}))
    cfgs = [dict(base, dataset=d, noise_sigma=s, noise_kind=k) for d in datasets for _, s, k in NOISE_VARIANTS]
    return [(CONV, cfgs, [0] if quick else [0, 1, 2])]


def run_conv(store, quick: bool = False, *, workers: int = 0, datasets=None, progress: bool = False) -> None:
    """Run (or resume) :func:`conv_sweeps` into ``store`` (runs already done are skipped)."""
    from simulations.sweep import run_sweep

    progress = check_bool("progress", progress)
    workers = check_int("workers", workers, 0, 4096)
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    for name, configs, seeds in conv_sweeps(quick, datasets):
        run_sweep(name, configs, store, seeds=seeds, workers=workers, progress=progress)


def _label(cfg: dict) -> str:
    for label, s, k in NOISE_VARIANTS:
        if cfg.get("noise_sigma", 0.0) == s and (s == 0.0 or cfg.get("noise_kind") == k):
            return label
    return f"noise {cfg.get('noise_kind')}, σ = {cfg.get('noise_sigma'):g}, α = {cfg.get('noise_alpha')}"


def conv_table(store_or_rows) -> list[dict]:
    """One row per (dataset, model, variant): n seeds, mean and sd of the dense and pruned test accuracies.

    Keys: ``dataset``, ``model``, ``label``, ``n``, ``dense`` / ``dense_sd``, ``magnitude`` and
    ``magnitude_sd`` ({sparsity: value}), ``filters`` / ``filters_sd`` ({fraction: value}),
    ``prunable`` (mean overall prunable-filter fraction), ``alpha_rows`` (mean per layer, None where
    no seed has an estimate),
    ``train_seconds`` (mean).
    """
    from simulations.sweep.report import experiment_rows

    groups: dict[tuple, list[dict]] = {}
    for r in experiment_rows(store_or_rows, CONV, required=("dataset", "model", "noise_sigma", "test_acc",
                                                           "acc_magnitude", "acc_filters")):
        groups.setdefault((r["dataset"], r["model"], _label(r)), []).append(r)  # a row: config and metrics
    out = []
    order = {label: i for i, (label, _, _) in enumerate(NOISE_VARIANTS)}
    for (d, model, label), ms in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 99),
                                                                         kv[0][2])):
        def stat(values):
            a = np.asarray(values, dtype=float)
            return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0

        row = {"dataset": d, "model": model, "label": label, "n": len(ms)}
        row["dense"], row["dense_sd"] = stat([m["test_acc"] for m in ms])
        for key, grid, acc in (("magnitude", "sparsities", "acc_magnitude"), ("filters", "filter_fractions",
                                                                                "acc_filters")):
            row[key], row[key + "_sd"] = {}, {}
            for i, s in enumerate(ms[0][grid]):
                row[key][s], row[key + "_sd"][s] = stat([m[acc][i] for m in ms])
        row["prunable"] = float(np.mean([m["prunable_filters_overall"] for m in ms]))
        row["alpha_rows"] = []
        for i in range(len(ms[0]["alpha_rows"])):
            vals = [m["alpha_rows"][i] for m in ms if m["alpha_rows"][i] is not None]
            row["alpha_rows"].append(float(np.mean(vals)) if vals else None)
        row["train_seconds"] = float(np.mean([m["train_seconds"] for m in ms]))
        out.append(row)
    return out


def format_conv_table(rows: list[dict]) -> str:
    """A markdown table of :func:`conv_table` (test accuracy %, mean ± sd over seeds)."""
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"rows must be a list of conv_table rows (dicts), got {type(rows).__name__}")
    if not rows:
        return "(no runs)"
    sps = list(rows[0]["magnitude"])
    frs = list(rows[0]["filters"])
    head = (["data", "training", "n", "dense"] + [f"magnitude {100 * s:g} %" for s in sps]
            + [f"filters −{100 * f:g} %" for f in frs] + ["prunable filters", "α̂ rows per layer"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["dataset"], r["label"], str(r["n"]), f"{100 * r['dense']:.2f} ± {100 * r['dense_sd']:.2f}"]
        cells += [f"{100 * r['magnitude'][s]:.1f} ± {100 * r['magnitude_sd'][s]:.1f}" for s in sps]
        cells += [f"{100 * r['filters'][f]:.1f} ± {100 * r['filters_sd'][f]:.1f}" for f in frs]
        cells += [f"{r['prunable']:.3f}", ", ".join("—" if a is None else f"{a:.2f}" for a in r["alpha_rows"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulations.pruning.conv_sweep [--store PATH] [--quick] [--table-only] [--workers N]``."""
    from simulations.sweep.cli import study_main

    study_main(argv, description="LeNet-5, plain and noise-injected SGD, pruned one-shot: run/resume, print the table",
               store=Path("paper") / "data" / "conv.sqlite", run=run_conv,
               report=lambda st: "Test accuracy %, mean ± sd over seeds:\n" + format_conv_table(conv_table(st)))


if __name__ == "__main__":
    main()
