"""Layer-wise sparsity allocation compared at equal global sparsity: the runs, the sweep, the table.

One run (experiment ``allocation.compare``, :mod:`simulations.experiments.allocation`) trains
an MLP (LeNet-300-100: 784-300-100-10 ReLU with biases, PyTorch's default initialisation) on
MNIST or Fashion-MNIST once, then prunes the trained weight matrices (biases are kept) with
every allocation rule of :mod:`simulations.pruning.allocation` at every global sparsity and
records the test accuracy

* after one-shot pruning (no retraining), and
* after a short fine-tune with the mask fixed (``finetune_steps`` SGD steps from the pruned
  weights, the same steps, step size and data order for every rule; ``finetune_steps = 0``
  skips it).

Default budget (the full sweep): the whole training set, 8 epochs of SGD at batch 128, step
0.05, momentum 0.9, step size ×0.1 at 50 % and 75 % of the steps — about 98.4 % test accuracy
on MNIST and 89 % on Fashion-MNIST, 10 s of one core per training —; fine-tune 469 steps
(one epoch) at step 0.01, momentum 0.9; sparsities 80/90/95/98 %; seeds 0–4.

Seeding: the run's seed is split by :func:`simulations._core.seeding.child` into ``"train"``
(initialisation, data order) and ``"finetune"`` (the fine-tune's data order, the same for
every rule). :func:`allocation_table` reads the store and :func:`format_allocation_table`
prints the markdown table (mean ± sample sd over seeds); ``python -m
simulations.pruning.allocation_study --store paper/data/allocation.sqlite`` runs (or resumes)
the sweep and prints it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulations._core.seeding import child
from simulations._core.validation import check_bool, check_choice, check_int

__all__ = ["EXPERIMENT", "RULE_LABELS", "allocation_sweeps", "run_allocation", "allocation_table",
           "format_allocation_table"]

EXPERIMENT = "allocation.compare"
#: table labels of the rules
RULE_LABELS = {
    "uniform": "uniform (every layer at s)",
    "global_magnitude": "global magnitude",
    "alpha_pruning": "AlphaPruning (ESD α)",
    "tail_index": "tail index α̂ (entries)",
    "compressibility": "compressibility (fitted G₂)",
}
_DATASET_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion", "synthetic": "synthetic"}


def _accuracy(spec, weights, biases, X, y) -> float:
    from simulations.nn import Params, evaluate

    return float(evaluate(Params.from_layers(spec, [np.asarray(w) for w in weights], biases), X, y)[1])


def allocation_run(config, seed: int) -> dict:
    """Train once, prune with every rule at every sparsity, fine-tune (body of ``allocation.compare``)."""
    from simulations.nn import SGD, Mask, MLPSpec, Params, StopRules, evaluate, train
    from simulations.nn.optim import Schedule
    from simulations.pruning.allocation import layer_metrics, prune_allocated
    from simulations.pruning.data import load_data

    data = load_data(config.dataset, config.n_train, config.n_test)
    spec = MLPSpec((data.dim,) + tuple(config.hidden) + (data.n_classes,), bias=config.bias, init=config.init)
    steps = config.epochs * (len(data.y_train) // config.batch_size)
    ms = tuple(sorted({int(f * steps) for f in config.lr_milestones}))
    opt = SGD(lr=config.lr, momentum=config.momentum, schedule=Schedule("step", ms, 0.1, "step"))
    res = train(spec, data, optimizer=opt, batch_size=config.batch_size, stop=StopRules(max_epochs=config.epochs),
                seed=child(seed, "train"), threads=None)
    base = {"train_status": res.status, "steps": res.steps, "train_time": float(res.timings.get("train", math.nan))}
    if res.status == "diverged":
        from simulations.sweep import Diverged

        raise Diverged(f"training diverged: {res.reason}", metrics=base)
    params = res.params
    weights = [np.array(w) for w in params.weights]
    biases = [np.array(b) for b in params.biases] if spec.bias else None
    metrics: dict[str, Any] = dict(base, layer_sizes=[int(w.size) for w in weights])
    metrics["dense_train_acc"] = float(evaluate(params, data.X_train, data.y_train)[1])
    metrics["dense_acc"] = _accuracy(spec, weights, biases, data.X_test, data.y_test)
    rule_metrics = {}
    if "alpha_pruning" in config.rules:
        rule_metrics["alpha_pruning"] = layer_metrics(weights, "esd_alpha")
        metrics["esd_alpha"] = [float(v) for v in rule_metrics["alpha_pruning"]]
    if "tail_index" in config.rules:
        rule_metrics["tail_index"] = layer_metrics(weights, "tail_index")
        metrics["tail_index"] = [float(v) for v in rule_metrics["tail_index"]]
    ft_opt = SGD(lr=config.finetune_lr, momentum=config.momentum)
    for rule in config.rules:
        acc, ft, layer_s, rel = [], [], [], []
        for s in config.sparsities:
            pr = prune_allocated(weights, s, rule, metrics=rule_metrics.get(rule), epsilon=config.epsilon,
                                 law=config.law)
            layer_s.append([float(v) for v in pr.layer_sparsity()])
            rel.append([float(v) for v in pr.rel_error])
            acc.append(_accuracy(spec, pr.weights, biases, data.X_test, data.y_test))
            if config.finetune_steps:
                start = Params.from_layers(spec, pr.weights, biases)
                mask = Mask.from_layers(spec, pr.masks)
                ftr = train(spec, data, params=start, mask=mask, optimizer=ft_opt, batch_size=config.batch_size,
                            stop=StopRules(max_steps=config.finetune_steps), seed=child(seed, "finetune"),
                            threads=None)
                ft.append(float(evaluate(ftr.params, data.X_test, data.y_test)[1])
                          if ftr.status != "diverged" else None)
        metrics[f"acc_{rule}"] = acc
        metrics[f"layer_sparsity_{rule}"] = layer_s
        metrics[f"rel_error_{rule}"] = rel
        if config.finetune_steps:
            metrics[f"ft_{rule}"] = ft
    return {"status": "done", "metrics": metrics, "history": []}


# --------------------------------------------------------------------------- sweeps


def _datasets(datasets) -> list[str] | None:
    from simulations.nn.data import DATASETS
    from simulations.pruning.data import SYNTHETIC

    if datasets is None:
        return None
    if isinstance(datasets, (str, bytes)) or not isinstance(datasets, (list, tuple)) or not datasets:
        raise TypeError(f"datasets must be None or a non-empty list of data set names, got {datasets!r}")
    return [check_choice("datasets", d, tuple(DATASETS) + (SYNTHETIC,)) for d in datasets]


def allocation_sweeps(quick: bool, datasets: Sequence[str] | None = None) -> list[tuple[str, list[dict], list[int]]]:
    """``[(experiment, configs, seeds)]`` of the comparison.

    Full (``quick=False``): the defaults of :class:`simulations.experiments.allocation.AllocationConfig`
    (see the module docstring) on each data set, seeds 0–4. Quick: a 784-32-16-10 net on the first
    600 / 300 images, 10 epochs at step 0.1, 20 fine-tune steps, seed 0. ``datasets``: None (the image data sets
    present, else ``"synthetic"``) or a non-empty list among ``"mnist"``, ``"fashion_mnist"``,
    ``"synthetic"``. ``quick`` is a flag (True/False).
    """
    quick = check_bool("quick", quick)
    datasets = _datasets(datasets)
    if datasets is None:
        from simulations.pruning.data import SYNTHETIC, available_datasets

        datasets = available_datasets() or [SYNTHETIC]
    if quick:
        cfgs = [dict(dataset=d, hidden=[32, 16], n_train=600, n_test=300, epochs=10, batch_size=50, lr=0.1,
                     finetune_steps=20) for d in datasets]
        return [(EXPERIMENT, cfgs, [0])]
    return [(EXPERIMENT, [dict(dataset=d) for d in datasets], [0, 1, 2, 3, 4])]


def run_allocation(store, quick: bool = False, *, workers: int = 0, datasets=None, progress: bool = False) -> None:
    """Run (or resume) :func:`allocation_sweeps` into ``store`` (a path; runs already done are skipped).

    ``quick``/``progress``: flags; ``workers``: an int in [0, 4096] (0 = in this process);
    ``datasets``: as for :func:`allocation_sweeps`.
    """
    from simulations.sweep import run_sweep

    quick = check_bool("quick", quick)
    progress = check_bool("progress", progress)
    workers = check_int("workers", workers, 0, 4096)
    sweeps = allocation_sweeps(quick, datasets)
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    for name, configs, seeds in sweeps:
        run_sweep(name, configs, store, seeds=seeds, workers=workers, progress=progress)


# --------------------------------------------------------------------------- table


def _rows(store_or_rows) -> list[dict]:
    from simulations.sweep.report import experiment_rows

    return experiment_rows(store_or_rows, EXPERIMENT, required=("dataset", "sparsities", "rules", "dense_acc"))


def _mean_sd(values: list) -> tuple[float, float, int]:
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan, int(v.size)


def allocation_table(store_or_rows, finetuned: bool = False) -> list[dict]:
    """Mean ± sample sd over seeds of the test accuracy per (dataset, rule, sparsity).

    ``store_or_rows``: a results store (path or :class:`simulations.sweep.ResultsStore`) or a list
    of ``allocation.compare`` row dicts. ``finetuned``: the accuracy after the fine-tune instead of
    one-shot. Returns, sorted by dataset then rule order, dicts with ``dataset``, ``rule``,
    ``sparsities``, ``mean``, ``sd`` (lists aligned with ``sparsities``), ``n_seeds``; plus one
    ``rule="dense"`` row per dataset (``mean``/``sd`` one-element lists). Runs with other
    sparsity lists or settings are grouped apart (one group per dataset, sparsities and ε, law).
    """
    from simulations.pruning.allocation import RULES

    finetuned = check_bool("finetuned", finetuned)
    prefix = "ft_" if finetuned else "acc_"
    groups: dict[tuple, list[dict]] = {}
    for r in _rows(store_or_rows):
        key = (r["dataset"], tuple(r["sparsities"]), r.get("epsilon"), r.get("law"), r.get("finetune_steps"))
        groups.setdefault(key, []).append(r)
    out = []
    order = {d: i for i, d in enumerate(("mnist", "fashion_mnist", "synthetic"))}
    for key in sorted(groups, key=lambda k: (order.get(k[0], 9), k[0], k[1], str(k[2:]))):
        rs = groups[key]
        m, sd, n = _mean_sd([r["dense_acc"] for r in rs])
        out.append({"dataset": key[0], "rule": "dense", "sparsities": list(key[1]), "mean": [m], "sd": [sd],
                    "n_seeds": n})
        for rule in RULES:
            per = [r.get(prefix + rule) for r in rs if r.get(prefix + rule) is not None]
            if not per:
                continue
            stats = [_mean_sd([p[j] for p in per]) for j in range(len(key[1]))]
            out.append({"dataset": key[0], "rule": rule, "sparsities": list(key[1]),
                        "mean": [s[0] for s in stats], "sd": [s[1] for s in stats], "n_seeds": len(per)})
    return out


def _cell(m: float, sd: float) -> str:
    if not math.isfinite(m):
        return "–"
    return f"{100 * m:.1f}" + (f" ± {100 * sd:.1f}" if math.isfinite(sd) else "")


def format_allocation_table(table: list[dict]) -> str:
    """Markdown: one row per (data set, rule), one column per sparsity, test accuracy % as mean ± sd.

    ``table``: rows of :func:`allocation_table` (dicts with ``dataset``, ``rule``, ``sparsities``,
    ``mean``, ``sd``, ``n_seeds``); the dense accuracies are listed under the table. Groups with
    different sparsity lists get their own header.
    """
    from simulations._core.validation import check_rows

    rows = check_rows("table", table, ("dataset", "rule", "sparsities", "mean", "sd", "n_seeds"), "allocation_table")
    if not rows:
        return "(no runs)"
    lines, header, dense = [], None, []
    for r in rows:
        if r["rule"] == "dense":
            dense.append(f"{_DATASET_LABELS.get(r['dataset'], r['dataset'])} {_cell(r['mean'][0], r['sd'][0])}"
                         f" (n = {r['n_seeds']})")
            continue
        h = tuple(r["sparsities"])
        if h != header:
            header = h
            lines += ["", "| data | rule | " + " | ".join(f"{100 * s:g} %" for s in h) + " |",
                      "|---|---|" + "---|" * len(h)]
        cells = " | ".join(_cell(m, s) for m, s in zip(r["mean"], r["sd"]))
        lines.append(f"| {_DATASET_LABELS.get(r['dataset'], r['dataset'])} | {RULE_LABELS.get(r['rule'], r['rule'])} "
                     f"| {cells} |")
    if dense:
        lines += ["", "Dense: " + ", ".join(dense) + "."]
    return "\n".join(lines).strip() + "\n"


def _report(store) -> str:
    out = []
    for ft in (False, True):
        out.append(("After fine-tuning with the mask fixed" if ft else "One-shot (no retraining)") + ", test accuracy %:")
        out.append(format_allocation_table(allocation_table(store, finetuned=ft)))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulations.pruning.allocation_study [--store PATH] [--quick] [--table-only]``."""
    from simulations.sweep.cli import study_main

    study_main(argv, description="layer-wise sparsity allocation: run/resume the sweep, print the table",
               store=Path("paper") / "data" / "allocation.sqlite", run=run_allocation, report=_report)


if __name__ == "__main__":
    main()
