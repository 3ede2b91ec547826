"""Noise injection as a compression method on MLPs: the run, its sweep, the comparison table.

The run (body of the experiment ``noise_compression.mlp``,
:mod:`simulations.experiments.noise_compression`): train a bias-free ReLU MLP
(cross-entropy) on MNIST / Fashion-MNIST (or the synthetic mixture) for ``steps`` SGD
steps at step size η, adding α-stable noise σ η^{1/α} ξ to the hidden layers' weights
after every step (Wan, Barsbey, Zaidi & Şimşekli, ICML 2024; σ = 0 is plain SGD), then

* the fraction of neurons of each hidden layer prunable at squared relative Frobenius
  error ``eps2`` (Wan et al.'s metric: remove the smallest-norm neurons, rows of W_l,
  while ‖W − Ŵ‖²_F / ‖W‖²_F ≤ ``eps2``, i.e. relative error ≤ √eps2 on the row norms);
* test accuracy after one-shot global magnitude pruning at ``sparsities`` (fraction of
  weights removed) and after node pruning of the hidden layers at the same fractions of
  neurons;
* if ``imp``: IMP with weight rewinding to step k = ``rewind_step`` and IMP with
  learning-rate rewinding (Frankle et al., ICML 2020; Renda et al., ICLR 2020) **with the
  same total number of SGD steps** as the one-shot runs: with R = 1 + len(sparsities)
  rounds, each round trains T_r = ⌈(steps + (R−1)·k)/R⌉ steps (later rounds T_r − k), so
  the total is ≈ ``steps`` (reported exactly as ``imp_total_steps``).

Seeding: the run's integer seed is split by :func:`simulations._core.seeding.child` into
``"train"`` (the noise-injected or plain SGD run) and ``"imp"`` (both IMP runs, which
share it so they start from the same θ₀).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulations._core.seeding import child
from simulations._core.validation import check_rows

__all__ = ["EXPERIMENT", "run_mlp", "default_sweeps", "comparison_table", "table_markdown"]

#: the registered name of the experiment (part of every run's hash in a results store)
EXPERIMENT = "noise_compression.mlp"


def run_mlp(config, seed: int) -> dict:
    """Body of ``noise_compression.mlp``; returns ``{"status", "metrics", "history"}`` (and, for a
    diverged run, ``"error"``: why, from :attr:`simulations.nn.TrainResult.reason`; training uses
    the default divergence guard of :class:`simulations.nn.StopRules`).

    Metrics are flat JSON lists aligned with ``config.sparsities``: ``dense_acc``,
    ``prunable_neurons`` (per hidden layer) and their mean, ``oneshot_magnitude``,
    ``oneshot_node``, and with ``imp`` ``imp_iteration``, ``imp_lr`` (+ ``_sparsity``) and
    ``imp_total_steps``.
    """
    from simulations.compressibility.api import prunable_fraction
    from simulations.nn import SGD, MLPSpec, NoiseConfig, StopRules, train
    from simulations.pruning.data import load_data
    from simulations.pruning.one_shot import magnitude_prune, node_prune
    from simulations.pruning.study import pruned_accuracy

    data = load_data(config.dataset, config.n_train, config.n_test)
    sizes = (data.X_train.shape[1],) + tuple(config.hidden) + (data.n_classes,)
    spec = MLPSpec(sizes, bias=False, activation="relu", loss="cross_entropy")
    noise = NoiseConfig(alpha=config.alpha, sigma=config.sigma, kind=config.noise) if config.sigma > 0 else None
    res = train(spec, data, optimizer=SGD(lr=config.lr), noise=noise, batch_size=config.batch_size,
                stop=StopRules(max_steps=config.steps), seed=child(seed, "train"))
    history = [{k: v for k, v in h.items() if isinstance(v, (int, float, str)) or v is None} for h in res.history]
    if res.status == "diverged":
        return {"status": "diverged", "error": res.reason, "metrics": {"steps": int(res.steps)}, "history": history}
    ws = [np.array(w, dtype=np.float64) for w in res.params.weights]

    def acc(weights):
        return pruned_accuracy(res.params, weights, data.X_test, data.y_test)

    m: dict[str, Any] = {"sparsities": list(config.sparsities), "steps": int(res.steps)}
    m["dense_acc"] = acc(ws)
    eps = math.sqrt(config.eps2)
    pf = [float(prunable_fraction(np.linalg.norm(w, axis=1), eps)) for w in ws[:-1]]
    m["prunable_neurons"] = pf
    m["prunable_neurons_mean"] = float(np.mean(pf))
    m["oneshot_magnitude"] = [acc(magnitude_prune(ws, ratio=s, scope="global").weights) for s in config.sparsities]
    m["oneshot_node"] = [acc(node_prune(ws, ratio=s).weights) for s in config.sparsities]
    if config.imp:
        from simulations.pruning.iterative import imp

        R = 1 + len(config.sparsities)
        k = config.rewind_step
        t_round = int(math.ceil((config.steps + (R - 1) * k) / R))
        if k >= t_round:
            raise ValueError(f"rewind_step must be < steps per IMP round ({t_round}), got {k}")
        for rw in ("iteration", "lr"):
            r = imp(spec, data, steps=t_round, optimizer=SGD(lr=config.lr), batch_size=config.batch_size,
                    targets=tuple(config.sparsities), rewind=rw, rewind_step=k, criterion="large_final",
                    scope="global", seed=child(seed, "imp"), keep_params=False)
            m[f"imp_{rw}"] = [float(x.test_acc) for x in r.rounds[1:]]
            m[f"imp_{rw}_sparsity"] = [float(x.sparsity) for x in r.rounds[1:]]
            m["imp_total_steps"] = int(sum(x.steps for x in r.rounds))
    return {"status": "done", "metrics": m, "history": history}


def default_sweeps(quick: bool) -> list[dict]:
    """The sweep behind notebook 06 and ``paper/fig_noise_compression.py``: ``[{"configs", "seeds"}]``.

    Full: MNIST and Fashion-MNIST (synthetic if the files are absent), MLP 784-300-100-10
    (depth 3), 5000/2000 images, T = 1000 steps at b = 50, η = 0.05, "neuron" noise with
    α ∈ {1.5, 1.9} × σ ∈ {3·10⁻⁴, 10⁻³, 3·10⁻³}, plain SGD with IMP/LRR (k = 50), 3 seeds.
    Quick: one data set, MLP 64-32, 600/300 images, T = 150, σ ∈ {3·10⁻⁴, 3·10⁻³}, 1 seed.
    """
    from simulations._core.validation import check_bool
    from simulations.pruning.data import SYNTHETIC, available_datasets

    quick = check_bool("quick", quick)
    have = available_datasets()
    if quick:
        ds = ["mnist"] if "mnist" in have else [SYNTHETIC]
        base = dict(hidden=[64, 32], n_train=600, n_test=300, steps=150, batch_size=50, lr=0.05, rewind_step=5)
        grid = [(0.0, 1.75)] + [(s, a) for a in (1.5, 1.9) for s in (3e-4, 3e-3)]
        seeds = [0]
    else:
        ds = have or [SYNTHETIC]
        base = dict(hidden=[300, 100], n_train=5000, n_test=2000, steps=1000, batch_size=50, lr=0.05,
                    rewind_step=50)
        grid = [(0.0, 1.75)] + [(s, a) for a in (1.5, 1.9) for s in (3e-4, 1e-3, 3e-3)]
        seeds = [0, 1, 2]
    cfgs = [dict(base, dataset=d, sigma=s, alpha=a, noise="neuron", imp=(s == 0.0)) for d in ds for s, a in grid]
    return [{"configs": cfgs, "seeds": seeds}]


def _mean_sd(v: np.ndarray):
    """Mean and sample standard deviation (ddof=1; 0 for one value) over axis 0."""
    return v.mean(0), (v.std(0, ddof=1) if len(v) > 1 else np.zeros_like(v.mean(0)))


def comparison_table(store, *, dataset: str | None = None) -> list[dict]:
    """Rows of the results table: one row per (dataset, hidden, α, σ, noise kind).

    ``store``: an open :class:`simulations.sweep.ResultsStore` or a list of run dicts (as
    :meth:`~simulations.sweep.ResultsStore.get` returns them). Mean ± sd over seeds of the
    dense accuracy, the prunable-neuron fraction and the accuracies at each sparsity. Only
    runs with status ``done`` enter; the number of diverged runs is reported per row.
    """
    if dataset is not None and not isinstance(dataset, str):
        raise TypeError(f"dataset must be a data set name (str) or None, got {dataset!r}")
    if hasattr(store, "rows") and hasattr(store, "get"):
        runs = [store.get(r["run_id"]) for r in store.rows(experiment=EXPERIMENT)]
    elif isinstance(store, (list, tuple)):
        runs = list(store)
        for i, r in enumerate(runs):
            if not isinstance(r, dict):
                raise TypeError(f"store[{i}] must be a run dict (as ResultsStore.get returns), got {type(r).__name__}")
            missing = [k for k in ("config", "status", "metrics") if k not in r]
            if missing or not isinstance(r["config"], dict):
                raise ValueError(f"store[{i}] must be a run dict with a 'config' dict, 'status' and 'metrics'; "
                                 f"missing {missing or ['config (a dict)']}")
    else:
        raise TypeError(f"store must be a ResultsStore or a list of run dicts, got {type(store).__name__}")
    groups: dict[tuple, list] = {}
    diverged: dict[tuple, int] = {}
    for r in runs:
        cfg = r["config"]
        if dataset is not None and cfg["dataset"] != dataset:
            continue
        key = (cfg["dataset"], tuple(cfg["hidden"]), cfg["alpha"] if cfg["sigma"] > 0 else None, cfg["sigma"],
               cfg["noise"] if cfg["sigma"] > 0 else "-", tuple(cfg["sparsities"]), cfg["steps"])
        if r["status"] == "done":
            groups.setdefault(key, []).append(r["metrics"])
        elif r["status"] == "diverged":
            diverged[key] = diverged.get(key, 0) + 1
    rows = []
    for key in sorted(set(groups) | set(diverged), key=lambda t: (t[0], t[1], t[3], t[2] or 0)):
        ms = groups.get(key, [])
        row = {"dataset": key[0], "hidden": list(key[1]), "alpha": key[2], "sigma": key[3], "noise": key[4],
               "sparsities": list(key[5]), "steps": key[6], "n_seeds": len(ms), "n_diverged": diverged.get(key, 0)}
        for name in ("dense_acc", "prunable_neurons_mean"):
            v = np.array([m[name] for m in ms], dtype=float)
            row[name] = tuple(float(x) for x in _mean_sd(v)) if v.size else None
        for name in ("oneshot_magnitude", "oneshot_node", "imp_iteration", "imp_lr"):
            v = np.array([m[name] for m in ms if name in m], dtype=float)
            row[name] = [(float(a), float(b)) for a, b in zip(*_mean_sd(v))] if v.size else None
        rows.append(row)
    return rows


#: the keys of a :func:`comparison_table` row that :func:`table_markdown` reads
_TABLE_KEYS = ("dataset", "hidden", "alpha", "sigma", "noise", "sparsities", "n_seeds", "n_diverged", "dense_acc",
               "prunable_neurons_mean", "oneshot_magnitude", "oneshot_node")


def table_markdown(rows: list[dict]) -> str:
    """Markdown version of :func:`comparison_table` (accuracies in %, mean ± sd over seeds).

    ``rows``: a list of the dicts :func:`comparison_table` returns.
    """
    rows = check_rows("rows", rows, _TABLE_KEYS, "comparison_table")
    if not rows:
        return "(no runs)"
    sp = rows[0]["sparsities"]
    head = ["data", "hidden", "method", "seeds", "dense acc", "prunable neurons"] + [f"mag {s:.0%}" for s in sp] + \
        [f"node {s:.0%}" for s in sp]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def f(v, pct=True):
        if v is None:
            return "–"
        a, b = v
        return f"{100 * a:.1f} ± {100 * b:.1f}" if pct else f"{a:.2f} ± {b:.2f}"

    for r in rows:
        method = "SGD" if not r["sigma"] else f"noise α={r['alpha']:g} σ={r['sigma']:g} ({r['noise']})"
        if r["n_diverged"]:
            method += f" [{r['n_diverged']} diverged]"
        cells = [r["dataset"], "-".join(map(str, r["hidden"])), method, str(r["n_seeds"]), f(r["dense_acc"]),
                 f(r["prunable_neurons_mean"], pct=False)]
        cells += [f(v) for v in (r["oneshot_magnitude"] or [None] * len(sp))]
        cells += [f(v) for v in (r["oneshot_node"] or [None] * len(sp))]
        lines.append("| " + " | ".join(cells) + " |")
        for name, lab in (("imp_iteration", "IMP (weight rewinding), same total steps"),
                          ("imp_lr", "LR rewinding, same total steps")):
            if r.get(name):
                cells = [r["dataset"], "-".join(map(str, r["hidden"])), lab, str(r["n_seeds"]), "", ""]
                cells += [f(v) for v in r[name]] + [""] * len(sp)
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
