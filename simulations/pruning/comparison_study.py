"""The method comparison: its sweeps, the results store, the ShrinkBench-style table.

Runs (experiment ``pruning.compare``, body in :mod:`simulations.pruning.comparison`): every
method of :data:`simulations.experiments.pruning.COMPARED` on LeNet-300-100 (full MNIST and
Fashion-MNIST), at weight sparsities 50/80/90/95/98 % (N:M at 2:4, 1:5, 1:10, 1:20, 1:50),
seeds 0–2, T = 4 epochs + F = 1 epoch per network (:class:`simulations.experiments.pruning.CompareConfig`
holds every setting). ``python -m simulations.pruning.comparison_study --store
paper/data/comparison.sqlite`` runs or resumes the sweep and prints the tables.

Reported as Blalock et al. (MLSys 2020, "What is the state of neural network pruning?", §4–5)
ask: accuracy against compression ratio and against theoretical FLOPs speed-up, mean ± sample
sd over seeds, with the dense reference, and the compute each method spent (MACs relative to
one dense training of T + F steps; :mod:`simulations.pruning.algorithms.compute`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simulations._core.validation import check_bool, check_choice, check_int

__all__ = ["EXPERIMENT", "CONV_EXPERIMENT", "METHOD_LABELS", "comparison_sweeps", "run_comparison", "comparison_table", "ratio_span",
           "format_comparison_table"]

EXPERIMENT = "pruning.compare"
#: the same protocol on a convolutional network (``config.model``; LeNet-5 in the committed sweep)
CONV_EXPERIMENT = "pruning.compare_conv"
#: table labels, in table order
METHOD_LABELS = {
    "dense": "dense (T + F steps)",
    "magnitude": "one-shot global magnitude + FT",
    "alpha_pruning": "AlphaPruning allocation + FT",
    "tail_index": "tail-index allocation + FT",
    "obd": "OBD (diagonal Fisher) + FT",
    "woodfisher": "WoodFisher (block OBS) + FT",
    "taylor": "Taylor neurons + FT",
    "nm": "N:M magnitude + FT",
    "snip": "SNIP (at init)",
    "grasp": "GraSP (at init)",
    "synflow": "SynFlow (at init, data-free)",
    "gmp": "gradual magnitude (cubic)",
    "set": "SET",
    "rigl": "RigL",
    "set_sparse_init": "SET, sparse-aware init",
    "rigl_sparse_init": "RigL, sparse-aware init",
    "supermask": "supermask (edge-popup, signed constant)",
    "imp_weight": "IMP, weight rewinding",
    "imp_lr": "IMP, learning-rate rewinding",
    "imp_finetune": "IMP, fine-tuning",
    "imp_lr_budget": "IMP, LR rewinding, equal steps",
}
_DATASET_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion", "synthetic": "synthetic"}
_MODEL_LABELS = {"lenet5": "LeNet-5", "vgg11": "VGG11", "vgg11_wide": "VGG11 (wide)", "resnet20": "ResNet-20",
                 "resnet32": "ResNet-32", "resnet44": "ResNet-44", "resnet56": "ResNet-56"}


def comparison_sweeps(quick: bool, datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                      model: str | None = None) -> list[tuple[str, list[dict], list[int]]]:
    """``[(experiment, configs, seeds)]``: every method × data set, seeds 0–2 (full) or 0 (quick).

    Quick: a 784-32-16-10 net on the first 600 / 300 images, 3 + 1 epochs at batch 50, sparsities
    50/80/90 %, 128 scoring examples (seconds per method). ``datasets``: None (the image data sets
    present, else ``"synthetic"``) or a list among ``"mnist"``, ``"fashion_mnist"``, ``"synthetic"``;
    ``methods``: None (all) or a list of method names. ``model``: None (LeNet-300-100, experiment
    ``pruning.compare``) or a network of :mod:`simulations.nn.models` (experiment ``pruning.compare_conv``,
    the methods of :data:`simulations.pruning.comparison.CONV_METHODS`, MNIST and Fashion-MNIST only; quick
    keeps the network and shrinks the data and epochs as above).
    """
    from simulations.pruning.allocation_study import _datasets
    from simulations.pruning.comparison import COMPARED, CONV_METHODS

    quick = check_bool("quick", quick)
    if model is not None:
        from simulations.nn.models import model_names

        model = check_choice("model", model, model_names())
    allowed = COMPARED if model is None else CONV_METHODS
    datasets = _datasets(datasets)
    if datasets is None:
        from simulations.pruning.data import SYNTHETIC, available_datasets

        datasets = available_datasets() or ([SYNTHETIC] if model is None else [])
        if not datasets:
            from simulations.nn.data import DataError

            raise DataError(f"model {model!r} trains on MNIST or Fashion-MNIST and neither data set was found: set "
                            "TAILCOMP_DATA to the folder holding the files, or fetch them once with "
                            "simulations.nn.load_mnist(download=True) / load_fashion_mnist(download=True)")
    if model is not None:
        datasets = [check_choice("datasets", d, ("mnist", "fashion_mnist")) for d in datasets]
    if methods is None:
        methods = list(allowed)
    elif isinstance(methods, (str, bytes)) or not isinstance(methods, (list, tuple)) or not methods:
        raise TypeError(f"methods must be None or a non-empty list of method names, got {methods!r}")
    methods = [check_choice("methods", m, allowed) for m in methods]
    name, net = (EXPERIMENT, {}) if model is None else (CONV_EXPERIMENT, {"model": model})
    if quick:
        extra = dict(n_train=600, n_test=300, epochs=3, finetune_epochs=1, batch_size=50,
                     sparsities=[0.5, 0.8, 0.9], score_examples=128, rewind_step=5, update_every=10)
        if model is None:
            extra.update(hidden=[32, 16], nm_patterns=["2:4", "1:5", "1:10"])
        return [(name, [dict(dataset=d, method=m, **net, **extra) for d in datasets for m in methods], [0])]
    return [(name, [dict(dataset=d, method=m, **net) for d in datasets for m in methods], [0, 1, 2])]


def run_comparison(store, quick: bool = False, *, workers: int = 0, datasets=None, methods=None, model=None,
                   progress: bool = False) -> None:
    """Run (or resume) :func:`comparison_sweeps` into ``store`` (runs already done are skipped)."""
    from simulations.sweep import run_sweep

    quick = check_bool("quick", quick)
    progress = check_bool("progress", progress)
    workers = check_int("workers", workers, 0, 4096)
    sweeps = comparison_sweeps(quick, datasets, methods, model)
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    for name, configs, seeds in sweeps:
        run_sweep(name, configs, store, seeds=seeds, workers=workers, progress=progress)


# --------------------------------------------------------------------------- table


def _rows(store_or_rows, experiment: str = EXPERIMENT, keys: Sequence[str] = ()) -> list[dict]:
    from simulations.sweep.report import experiment_rows

    return experiment_rows(store_or_rows, experiment, required=("dataset", "method", "target", "acc",
                                                                "relative_compute", *keys))


def _stats(values) -> tuple[float, float, int]:
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan, int(v.size)


def comparison_table(store_or_rows, experiment: str = EXPERIMENT, keys: Sequence[str] = ()) -> list[dict]:
    """Mean ± sample sd over seeds per (data set, method, target sparsity).

    ``store_or_rows``: a results store (path or :class:`simulations.sweep.ResultsStore`) or a list
    of ``pruning.compare`` row dicts (``experiment``: another experiment whose rows have the same
    metrics, e.g. ``noise_compression.versus``; ``keys``: further configuration fields that tell its
    groups apart, such as ``("sigma", "alpha")``, copied into each output row). Returns dicts with ``dataset``, ``method``, ``targets`` and,
    aligned with them, ``acc``/``acc_sd``, ``sparsity``, ``compression``, ``speedup``,
    ``relative_compute`` (means) and ``n_seeds``; ``acc_oneshot`` where the method has it and
    ``dense_acc`` (the mean accuracy of the trained network before pruning) where the rows have it. Runs
    of other settings (budget, widths, data size) are grouped apart.
    """
    groups: dict[tuple, list[dict]] = {}
    if isinstance(keys, (str, bytes)) or not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
        raise TypeError(f"keys must be a list or tuple of configuration field names, got {keys!r}")
    keys = tuple(keys)
    for r in _rows(store_or_rows, experiment, keys):
        key = (r["dataset"], r["method"], (r.get("model") or "",) + tuple(r.get("hidden", ())), r.get("epochs"),
               r.get("finetune_epochs"), r.get("n_train"), tuple(r["target"])) + tuple(r[k] for k in keys)
        groups.setdefault(key, []).append(r)
    order = {m: i for i, m in enumerate(METHOD_LABELS)}
    dorder = {d: i for i, d in enumerate(_DATASET_LABELS)}
    out = []
    for key in sorted(groups, key=lambda k: (dorder.get(k[0], 9), k[2:6], order.get(k[1], 99))):
        rs = groups[key]
        targets = list(key[6])
        row = {"dataset": key[0], "method": key[1], "targets": targets, "n_seeds": len(rs),
               "model": key[2][0], "hidden": list(key[2][1:]), "epochs": key[3], "finetune_epochs": key[4], "n_train": key[5],
               **dict(zip(keys, key[7:]))}
        for field in ("acc", "sparsity", "compression", "speedup", "relative_compute", "relative_steps",
                      "acc_oneshot"):
            if not all(field in r for r in rs):
                continue
            st = [_stats([r[field][j] for r in rs]) for j in range(len(targets))]
            row[field] = [s[0] for s in st]
            if field == "acc":
                row["acc_sd"] = [s[1] for s in st]
        if all(isinstance(r.get("dense_acc"), (int, float)) for r in rs):  # the trained net before pruning
            row["dense_acc"] = _stats([r["dense_acc"] for r in rs])[0]
        out.append(row)
    return out


def _pct(m: float, sd: float | None = None) -> str:
    if not math.isfinite(m):
        return "–"
    return f"{100 * m:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None and math.isfinite(sd) else "")


def ratio_span(values: Sequence[float | None] | None) -> str:
    """``min–max`` of a list of ratios (one value when they agree to 0.5 %); ``–`` when none is finite.

    ``values``: None (a missing metric) or a list/tuple/1-D array of real numbers or None entries.
    """
    if values is None:
        return "–"
    if isinstance(values, (str, bytes, dict)) or np.ndim(values) != 1 or not all(
            x is None or (isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool))
            for x in values):
        raise TypeError(f"values must be None or a list of real numbers (None for a missing one), got {values!r}")
    v = [float(x) for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "–"
    return f"{min(v):.2f}" + (f"–{max(v):.2f}" if max(v) > min(v) * 1.005 else "")


def format_comparison_table(table: list[dict]) -> str:
    """Markdown: one row per (data set, method), test accuracy % (mean ± sd) per sparsity column.

    Columns are the targets of the unstructured methods; the dense row has its accuracy in the
    first column; an N:M row lists its patterns in column order (the default patterns 2:4, 1:5,
    1:10, 1:20, 1:50 have sparsities 50/80/90/95/98 %, the default grid). The last columns give
    the compression ratio and FLOPs speed-up at the highest sparsity and the compute spent —
    training steps and MACs, each × one dense training of T + F steps, min–max over the
    sparsities.
    """
    from simulations._core.validation import check_rows

    rows = check_rows("table", table, ("dataset", "method", "targets", "acc", "n_seeds"), "comparison_table")
    if not rows:
        return "(no runs)"
    lines = []
    for d, net in dict.fromkeys((r["dataset"], r.get("model") or "") for r in rows):
        rs = [r for r in rows if r["dataset"] == d and (r.get("model") or "") == net]
        grid = next((r["targets"] for r in rs if r["method"] not in ("nm", "dense")), rs[0]["targets"])
        title = _DATASET_LABELS.get(d, d) + (f", {_MODEL_LABELS.get(net, net)}" if net else "")
        lines += ["", f"**{title}** (n = {max(r['n_seeds'] for r in rs)} seeds)", "",
                  "| method | " + " | ".join(f"{100 * s:g} %" for s in grid)
                  + " | compression / speed-up at the last | steps (× dense) | MACs (× dense) |",
                  "|---|" + "---|" * (len(grid) + 3)]
        for r in rs:
            if r["method"] == "dense":
                cells = [_pct(r["acc"][0], r["acc_sd"][0])] + [""] * (len(grid) - 1)
            else:
                by_target = {round(t, 6): (m, sd) for t, m, sd in zip(r["targets"], r["acc"], r["acc_sd"])}
                cells = [_pct(*by_target[round(t, 6)]) if round(t, 6) in by_target else "–" for t in grid]
                if r["method"] == "nm":  # its own sparsities, in order (see the docstring)
                    cells = ([_pct(m, sd) for m, sd in zip(r["acc"], r["acc_sd"])] + ["–"] * len(grid))[:len(grid)]
            last = len(r["targets"]) - 1
            cmp = (f"{r['compression'][last]:.1f}× / {r['speedup'][last]:.1f}×" if "compression" in r
                   and r["method"] != "dense" else "1× / 1×")
            label = r.get("label") or METHOD_LABELS.get(r["method"], r["method"])
            lines.append(f"| {label} | " + " | ".join(cells)
                         + f" | {cmp} | {ratio_span(r.get('relative_steps'))} | {ratio_span(r.get('relative_compute'))} |")
    return "\n".join(lines).strip() + "\n"


def default_store(stem: str, model: str | None = None) -> Path:
    """The command lines' default store: ``paper/data/<stem>.sqlite`` for LeNet-300-100, ``<stem>_<model>.sqlite``
    for a convolutional network, so that the runs of two networks never share a store by accident."""
    return Path("paper") / "data" / (f"{stem}_{model}.sqlite" if model else f"{stem}.sqlite")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulations.pruning.comparison_study [--store PATH] [--quick] [--table-only] [--methods …] [--model NAME]``."""
    from simulations.nn.models import model_names
    from simulations.sweep.cli import study_main

    def report(store) -> str:
        tables = [t for exp in (EXPERIMENT, CONV_EXPERIMENT) for t in comparison_table(store, exp)]
        return "Test accuracy %, mean ± sd over seeds:\n" + format_comparison_table(tables)

    study_main(argv, description="pruning methods compared: run/resume the sweep, print the table",
               store=lambda o: default_store("comparison", o["model"]), run=run_comparison, lists=("methods",),
               options={"model": (model_names(), "a convolutional network (experiment pruning.compare_conv; default "
                                                 "store paper/data/comparison_<model>.sqlite); default LeNet-300-100")},
               report=report)


if __name__ == "__main__":
    main()
