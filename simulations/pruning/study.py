"""Heavy tails ⇒ compressibility on MNIST / Fashion-MNIST: the runs, the tables and the plots.

Reproduces the FCN experiments of Barsbey, Sefidgaran, Erdogdu, Richard & Şimşekli
(NeurIPS 2021, §5; code ``mbarsbey/sgd_comp_gen``): bias-free ReLU networks with
``depth`` weight layers (``784 → w → … → w → 10``, PyTorch's default
initialisation) trained by plain SGD (constant step η, batch b) to (near)
interpolation, then

* the tail index α̂ of every layer's weights (block-sum estimator of Mohammadi et al.
  2015, median-centred, clipped at 2 — :func:`simulations.tail_index.estimators.weight_tail_index`)
  against η/b;
* test accuracy after magnitude (per layer, median-centred), node and spectral
  pruning at a set of pruning ratios, against η/b;
* the prunable fraction at 10 % relative L2 error per layer
  (:func:`simulations.compressibility.api.prunable_fraction`) against α̂.

and a baselines table (Blalock et al. 2020 style): one-shot global / layerwise
magnitude and random pruning, IMP with weight rewinding and with learning-rate
rewinding (Renda et al. 2020) at 80/90/95/98 % sparsity.

The functions here are the bodies of the experiments registered in
:mod:`simulations.experiments.pruning` and the readers used by
``notebooks/04_pruning.ipynb`` and ``paper/fig_pruning.py``.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "COMPRESSIONS",
    "default_store",
    "data_root",
    "load_data",
    "layer_statistics",
    "pruning_curves",
    "heavy_tail_run",
    "baselines_run",
    "reproduction_sweeps",
    "run_reproduction",
    "heavy_tail_rows",
    "trend_summary",
    "baselines_table",
    "format_baselines_table",
    "curve_table",
    "plot_alpha_vs_ratio",
    "plot_accuracy_vs_ratio",
    "plot_prunable_vs_alpha",
    "plot_curves",
]

#: (η, b) grid of the full-mode reproduction
FULL_GRID = ((0.025, 50), (0.1, 50), (0.2, 50), (0.35, 50), (0.05, 100), (0.2, 100), (0.35, 100), (0.5, 100))
#: operating points of the accuracy-vs-compression curves: 2×, 4×, 8×, 16×, 32×
COMPRESSIONS = (2.0, 4.0, 8.0, 16.0, 32.0)
REPO = Path(__file__).resolve().parents[2]


def default_store() -> Path:
    """The results store of the full-mode reproduction (env ``TAILCOMP_PRUNING_STORE`` overrides)."""
    env = os.environ.get("TAILCOMP_PRUNING_STORE")
    return Path(env) if env else REPO / "paper" / "data" / "pruning.sqlite"


def data_root() -> Path | None:
    """Folder with ``mnist/`` and ``fashion_mnist/`` (env ``TAILCOMP_DATA``, else ``../shared/data``), or None."""
    cands = [Path(os.environ["TAILCOMP_DATA"])] if os.environ.get("TAILCOMP_DATA") else []
    cands.append(REPO.parent / "shared" / "data")
    for c in cands:
        if (c / "mnist").is_dir() or (c / "fashion_mnist").is_dir():
            return c
    return None


_DATA_CACHE: dict = {}


def load_data(dataset: str, n_train: int = 0, n_test: int = 0, *, seed: int = 0):
    """A :class:`simulations.nn.Dataset`: the first ``n_train``/``n_test`` examples (0 = all).

    ``dataset="synthetic"``: a 10-class Gaussian mixture in 64 dimensions
    (:func:`simulations.nn.gaussian_mixture`), for quick runs without the data files.
    The subset does not depend on the run's seed (the seed drives initialisation and
    shuffling only).
    """
    from simulations.nn import Dataset, gaussian_mixture, load_dataset

    if dataset == "synthetic":
        ntr = n_train or 2000
        nte = n_test or 1000
        return gaussian_mixture(ntr, dim=64, n_classes=10, separation=4.0, n_test=nte, seed=12345)
    if dataset not in _DATA_CACHE:  # decompressing 60000 images costs ~1 s: once per process
        root = data_root()
        _DATA_CACHE[dataset] = (load_dataset(dataset, "train", root=root), load_dataset(dataset, "test", root=root))
    (Xtr, ytr), (Xte, yte) = _DATA_CACHE[dataset]
    if n_train:
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    if n_test:
        Xte, yte = Xte[:n_test], yte[:n_test]
    return Dataset(np.ascontiguousarray(Xtr), np.ascontiguousarray(ytr), np.ascontiguousarray(Xte),
                   np.ascontiguousarray(yte), 10, dataset)


def _finite_or_none(v):
    v = float(v)
    return v if math.isfinite(v) else None


def layer_statistics(weights: Sequence[np.ndarray], eps: float = 0.1) -> dict:
    """Per layer: α̂ (entries, and row norms), prunable fractions at relative error ``eps``.

    Keys (lists, one value per layer): ``alpha`` (block-sum on the median-centred
    entries, clipped at 2), ``alpha_hill`` (Hill on the centred entries, not
    clipped), ``prunable_mag`` (magnitude, centred), ``prunable_node`` (fraction of
    neurons, hidden layers; None for the output layer), ``prunable_svd``
    (fraction of singular values).
    """
    from simulations.compressibility.api import prunable_fraction
    from simulations.pruning.one_shot import node_prune, spectral_prune
    from simulations.tail_index.estimators import weight_tail_index

    out = {"alpha": [], "alpha_hill": [], "prunable_mag": [], "prunable_node": [], "prunable_svd": []}
    L = len(weights)
    node = node_prune(list(weights), eps=eps)
    svd = spectral_prune(list(weights), eps=eps)
    for i, w in enumerate(weights):
        w64 = np.asarray(w, dtype=np.float64)
        out["alpha"].append(_finite_or_none(weight_tail_index(w64, mode="entries", estimator="block_sum")))
        try:
            out["alpha_hill"].append(_finite_or_none(weight_tail_index(w64, mode="entries", estimator="hill", clip=None)))
        except ValueError:
            out["alpha_hill"].append(None)
        out["prunable_mag"].append(float(prunable_fraction(w64 - np.median(w64), eps)))
        if i < L - 1:
            out["prunable_node"].append(1.0 - float(node.masks[i].any(axis=1).mean()))
        else:
            out["prunable_node"].append(None)
        r = min(w.shape)
        out["prunable_svd"].append(1.0 - svd.ranks[i] / r)
    return out


def pruning_curves(params, X, y, ratios: Sequence[float], *, methods=("magnitude", "global", "node", "spectral", "random"),
                   center: bool = True, seed: int = 0) -> dict:
    """Test accuracy and compression after one-shot pruning at each ratio, per method.

    ``magnitude``: per layer (median-centred when ``center``), ``global``: global magnitude
    (centred likewise), ``node``: hidden neurons by incoming norm, ``spectral``: truncated
    SVD (``center`` = column medians), ``random``: per layer. Returns
    ``{"acc_<m>": [...], "comp_<m>": [...]}`` aligned with ``ratios``.
    """
    from simulations.nn import Params, evaluate
    from simulations.pruning.one_shot import magnitude_prune, node_prune, random_prune, spectral_prune

    spec = params.spec
    ws = [np.array(w) for w in params.weights]
    out = {}
    for m in methods:
        accs, comps = [], []
        for r in ratios:
            if m == "magnitude":
                res = magnitude_prune(ws, ratio=r, scope="layer", center=center)
            elif m == "global":
                res = magnitude_prune(ws, ratio=r, scope="global", center=center)
            elif m == "node":
                res = node_prune(ws, ratio=r)
            elif m == "spectral":
                res = spectral_prune(ws, ratio=r, center=center)
            elif m == "random":
                res = random_prune(ws, ratio=r, seed=seed)
            else:
                raise ValueError(f"methods must be among magnitude, global, node, spectral, random; got {m!r}")
            p = Params.from_layers(spec, res.weights, [b for b in params.biases] if spec.bias else None)
            accs.append(float(evaluate(p, X, y)[1]))
            comps.append(float(res.compression_ratio))
        out[f"acc_{m}"] = accs
        out[f"comp_{m}"] = comps
    return out


# --------------------------------------------------------------------------- experiment bodies


def heavy_tail_run(config, seed: int) -> dict:
    """Train one bias-free FCN at (η, b), then measure tails and pruning (body of ``pruning.heavy_tail``)."""
    from simulations.nn import SGD, MLPSpec, StopRules, train

    data = load_data(config.dataset, config.n_train, config.n_test)
    sizes = (data.dim,) + (config.width,) * (config.depth - 1) + (data.n_classes,)
    spec = MLPSpec(sizes, bias=False, init=config.init)
    stop = StopRules(max_epochs=config.max_epochs, interpolation_loss=config.interpolation_loss,
                     target_train_acc=None)
    res = train(spec, data, optimizer=SGD(lr=config.lr), batch_size=config.batch_size, stop=stop,
                averaging=config.averaging, eval_train="full", seed=seed, threads=None)
    hist = [{k: v for k, v in h.items() if k != "params"} for h in res.history]
    base = {"eta_over_b": config.lr / config.batch_size, "train_status": res.status, "steps": res.steps,
            "epochs": res.epochs, "train_time": float(res.timings.get("train", float("nan")))}
    if res.status == "diverged":
        from simulations.sweep.core import Diverged

        raise Diverged(f"training diverged at step {res.steps}", metrics=base, history=hist)
    params = res.averaged if res.averaged is not None else res.params
    from simulations.nn import evaluate

    tr_loss, tr_acc = evaluate(params, data.X_train, data.y_train)
    te_loss, te_acc = evaluate(params, data.X_test, data.y_test)
    ratios = [1.0 - 1.0 / c for c in config.compressions]
    metrics = dict(base, train_loss=float(tr_loss), train_acc=float(tr_acc), test_loss=float(te_loss),
                   test_acc=float(te_acc), ratios=ratios)
    metrics.update(layer_statistics([np.array(w) for w in params.weights], eps=config.eps))
    metrics.update(pruning_curves(params, data.X_test, data.y_test, ratios, methods=tuple(config.methods),
                                  center=config.center, seed=seed))
    return {"status": "done", "metrics": metrics, "history": hist}


def baselines_run(config, seed: int) -> dict:
    """Dense training, one-shot baselines and IMP (weight / LR rewinding) — body of ``pruning.baselines``."""
    from simulations.nn import SGD, MLPSpec, Params, evaluate
    from simulations.nn.optim import Schedule
    from simulations.pruning.iterative import imp
    from simulations.pruning.one_shot import magnitude_prune, random_prune

    data = load_data(config.dataset, config.n_train, config.n_test)
    sizes = (data.dim,) + tuple(config.hidden) + (data.n_classes,)
    spec = MLPSpec(sizes, bias=False, init=config.init)
    ms = tuple(sorted({int(f * config.steps) for f in config.lr_milestones}))
    opt = SGD(lr=config.lr, momentum=config.momentum, schedule=Schedule("step", ms, 0.1, "step"))
    metrics: dict[str, Any] = {"sparsities": list(config.sparsities)}
    history = []
    for j, rw in enumerate(config.rewinds):
        res = imp(spec, data, steps=config.steps, optimizer=opt, batch_size=config.batch_size,
                  targets=tuple(config.sparsities), rewind=rw, rewind_step=config.rewind_step,
                  criterion="large_final", scope=config.scope, seed=seed, keep_params=(j == 0))
        metrics[f"imp_{rw}"] = [r.test_acc for r in res.rounds[1:]]
        metrics[f"imp_{rw}_before_retrain"] = [r.acc_pruned for r in res.rounds[1:]]
        metrics[f"imp_{rw}_sparsity"] = [r.sparsity for r in res.rounds[1:]]
        history += [dict(r, rewind=rw) for r in res.table()]
        if j == 0:  # the dense round is the same for every rewinding (same seed ⇒ same θ₀, same run)
            dense = res.rounds[0].params
            metrics["dense_acc"] = res.rounds[0].test_acc
            metrics["dense_train_acc"] = res.rounds[0].train_acc
            ws = [np.array(w) for w in dense.weights]
            for name, fn in (("oneshot_global", lambda s: magnitude_prune(ws, ratio=s, scope="global")),
                             ("oneshot_layer", lambda s: magnitude_prune(ws, ratio=s, scope="layer")),
                             ("oneshot_random", lambda s: random_prune(ws, ratio=s, seed=seed))):
                accs = []
                for s in config.sparsities:
                    p = Params.from_layers(spec, fn(s).weights)
                    accs.append(float(evaluate(p, data.X_test, data.y_test)[1]))
                metrics[name] = accs
    return {"status": "done", "metrics": metrics, "history": history}


# --------------------------------------------------------------------------- sweeps


def reproduction_sweeps(quick: bool, datasets: Sequence[str] | None = None) -> list[tuple[str, list[dict], list[int]]]:
    """The sweeps of the reproduction: ``[(experiment, configs, seeds), ...]``.

    Full mode (sized for one session on 2 heavily shared cores): width 512, depth 4, the
    first 5000 training and 2000 test images, η ∈ {0.025, 0.1, 0.2, 0.35} at b = 50 and
    η ∈ {0.05, 0.2, 0.35, 0.5} at b = 100 — η/b ∈ {5·10⁻⁴, 2·10⁻³, 3.5·10⁻³, 4·10⁻³,
    5·10⁻³, 7·10⁻³} —, ≤ 25 epochs (MNIST) or ≤ 60 epochs (Fashion-MNIST), stop at train loss < 10⁻³ with 100 % train
    accuracy; 3 seeds of (η, b) = (0.1, 50) for the 2×–32× curves; baselines on
    LeNet-300-100 (5000 images, T = 1500 SGD steps per round at b = 50, η = 0.02,
    momentum 0.9, ×0.1 at 50 % and 75 % of T, k = 100, 3 seeds).
    Quick mode: width 32, 600 images, ≤ 3 epochs, synthetic data
    when the MNIST files are absent.
    """
    if datasets is None:
        datasets = ["mnist", "fashion_mnist"] if data_root() is not None else ["synthetic"]
    sweeps = []
    if quick:
        ht = [dict(dataset=d, width=32, depth=4, lr=lr, batch_size=b, n_train=600, n_test=300, max_epochs=3,
                   compressions=[2.0, 4.0, 8.0, 16.0, 32.0])
              for d in datasets for (lr, b) in ((0.05, 50), (0.2, 50), (0.1, 100))]
        sweeps.append(("pruning.heavy_tail", ht, [0]))
        bl = [dict(dataset=d, hidden=[32, 16], n_train=600, n_test=300, steps=60, batch_size=50, rewind_step=5,
                   sparsities=[0.8, 0.9, 0.95, 0.98]) for d in datasets[:1]]
        sweeps.append(("pruning.baselines", bl, [0]))
        return sweeps
    ep = {"mnist": 25, "fashion_mnist": 60, "synthetic": 25}
    ht = [dict(dataset=d, width=512, depth=4, lr=lr, batch_size=b, n_train=5000, n_test=2000, max_epochs=ep[d])
          for d in datasets for (lr, b) in FULL_GRID]
    sweeps.append(("pruning.heavy_tail", ht, [0]))
    ht3 = [dict(dataset=d, width=512, depth=4, lr=0.1, batch_size=50, n_train=5000, n_test=2000, max_epochs=ep[d])
           for d in datasets]
    sweeps.append(("pruning.heavy_tail", ht3, [0, 1, 2]))
    bl = [dict(dataset=d, hidden=[300, 100], n_train=5000, n_test=2000, steps=1500, batch_size=50, lr=0.02,
               momentum=0.9, lr_milestones=[0.5, 0.75], rewind_step=100) for d in datasets]
    sweeps.append(("pruning.baselines", bl, [0, 1, 2]))
    return sweeps


def run_reproduction(store, quick: bool, *, workers: int = 0, datasets=None, progress: bool = False) -> None:
    """Run (or resume) every sweep of :func:`reproduction_sweeps` into ``store``."""
    from simulations.sweep.core import run_sweep

    Path(store).parent.mkdir(parents=True, exist_ok=True)
    for name, configs, seeds in reproduction_sweeps(quick, datasets):
        run_sweep(name, configs, store, seeds=seeds, workers=workers, progress=progress)


# --------------------------------------------------------------------------- readers


def _rows(store_or_rows, experiment: str, status=("done",)) -> list[dict]:
    status = tuple(status)
    if isinstance(store_or_rows, (str, os.PathLike)):
        from simulations.sweep.core import ResultsStore

        with ResultsStore(store_or_rows, create=False) as st:
            return st.rows(experiment, status=list(status))
    if hasattr(store_or_rows, "rows"):
        return store_or_rows.rows(experiment, status=list(status))
    return [r for r in store_or_rows
            if r.get("experiment", experiment) == experiment and r.get("status", "done") in status]


_RUN_KEY = ("dataset", "width", "depth", "lr", "batch_size", "n_train", "n_test", "init", "interpolation_loss",
            "averaging", "seed")


def heavy_tail_rows(store_or_rows, max_epochs: int | dict | None = None, include_diverged: bool = False) -> list[dict]:
    """Rows of ``pruning.heavy_tail``, sorted by dataset, η/b, seed.

    ``max_epochs=None``: when the store holds the same configuration and seed with several
    epoch budgets, only the run with the largest budget counts — and if that run diverged,
    the configuration is left out (it is not replaced by a shorter, finished run).
    ``max_epochs`` = an int or ``{dataset: int}`` keeps only runs with that budget.
    ``include_diverged`` keeps the diverged runs in the result (their metrics are partial).
    """
    rows = _rows(store_or_rows, "pruning.heavy_tail", status=("done", "diverged"))
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
    rows = heavy_tail_rows(store_or_rows, max_epochs)
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
        for m in ("magnitude", "global", "node", "spectral"):
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


def curve_table(store_or_rows, method: str = "magnitude") -> list[dict]:
    """Accuracy vs compression, mean ± sd over seeds, per (dataset, η, b) with ≥ 2 seeds."""
    from simulations.pruning.metrics import aggregate

    flat = []
    for r in heavy_tail_rows(store_or_rows):
        for c, a in zip(r[f"comp_{method}"], r[f"acc_{method}"]):
            flat.append({"dataset": r["dataset"], "lr": r["lr"], "batch_size": r["batch_size"],
                         "target": round(1.0 / (1.0 - r["ratios"][r[f"comp_{method}"].index(c)]), 3),
                         "comp": c, "acc": a, "seed": r["seed"]})
    agg = aggregate(flat, ["dataset", "lr", "batch_size", "target"], "acc")
    return [g for g in agg if g["n"] >= 2]


def baselines_table(store_or_rows) -> list[dict]:
    """Mean ± sd (over seeds) test accuracy per dataset, method and sparsity."""
    from simulations.pruning.metrics import aggregate

    rows = _rows(store_or_rows, "pruning.baselines")
    flat = []
    methods = ("oneshot_global", "oneshot_layer", "oneshot_random", "imp_iteration", "imp_lr", "imp_init",
               "imp_finetune")
    for r in rows:
        flat.append({"dataset": r["dataset"], "method": "dense", "sparsity": 0.0, "acc": r["dense_acc"]})
        for m in methods:
            if m in r and r[m] is not None:
                for s, a in zip(r["sparsities"], r[m]):
                    flat.append({"dataset": r["dataset"], "method": m, "sparsity": s, "acc": a})
    return aggregate(flat, ["dataset", "method", "sparsity"], "acc")


def format_baselines_table(table: list[dict]) -> str:
    """Markdown table: rows = (dataset, method), columns = sparsities, cells = mean ± sd (%)."""
    sps = sorted({t["sparsity"] for t in table if t["method"] != "dense"})
    names = {"dense": "dense (0 %)", "oneshot_global": "one-shot global magnitude",
             "oneshot_layer": "one-shot layerwise magnitude", "oneshot_random": "one-shot random",
             "imp_iteration": "IMP, weight rewinding", "imp_lr": "IMP, LR rewinding", "imp_init": "IMP, rewind to init",
             "imp_finetune": "IMP, fine-tuning"}
    lines = ["| data set | method | " + " | ".join(f"{100 * s:g} %" for s in sps) + " |",
             "|---|---|" + "---|" * len(sps)]
    for d in sorted({t["dataset"] for t in table}):
        for m in names:
            cells = {t["sparsity"]: t for t in table if t["dataset"] == d and t["method"] == m}
            if not cells:
                continue
            if m == "dense":
                t = cells[0.0]
                vals = [f"{100 * t['mean']:.1f} ± {100 * t['spread']:.1f} (n={t['n']})"] + [""] * (len(sps) - 1)
            else:
                vals = [f"{100 * cells[s]['mean']:.1f} ± {100 * cells[s]['spread']:.1f}" if s in cells else "–"
                        for s in sps]
            lines.append(f"| {d} | {names[m]} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _cmap_colors(values):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    v = np.asarray(values, float)
    norm = LogNorm(vmin=v.min(), vmax=v.max() if v.max() > v.min() else v.min() * 1.0001)
    cmap = plt.get_cmap("viridis")
    return [cmap(norm(x)) for x in v], norm, cmap


def plot_alpha_vs_ratio(ax, rows, dataset: str):
    """α̂ per layer against η/b (circles b=50, squares b=100)."""
    rs = [r for r in heavy_tail_rows(rows) if r["dataset"] == dataset and r["seed"] == 0]
    if not rs:
        return ax
    L = len(rs[0]["alpha"])
    for l in range(L):
        for b, mk in ((50, "o"), (100, "s")):
            pts = [(r["eta_over_b"], r["alpha"][l]) for r in rs if r["batch_size"] == b and r["alpha"][l] is not None]
            if pts:
                x, y = zip(*pts)
                ax.plot(x, y, marker=mk, ls="-", color=f"C{l}", label=f"layer {l + 1}" if b == 50 else None)
        pts = [(r["eta_over_b"], r["alpha"][l]) for r in rs if r["batch_size"] not in (50, 100) and r["alpha"][l] is not None]
        if pts:
            x, y = zip(*pts)
            ax.plot(x, y, marker="^", ls="-", color=f"C{l}")
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("η / b")
    ax.set_ylabel("tail index α̂ (entries)")
    ax.set_title(f"{dataset}: α̂ per layer (○ b=50, □ b=100)", fontsize=9)
    ax.legend(fontsize=7)
    return ax


def plot_accuracy_vs_ratio(ax, rows, dataset: str, method: str = "magnitude"):
    """Test accuracy after one-shot pruning vs pruning ratio, one line per run coloured by η/b."""
    import matplotlib.pyplot as plt

    rs = [r for r in heavy_tail_rows(rows) if r["dataset"] == dataset and r["seed"] == 0]
    if not rs:
        return ax
    cols, norm, cmap = _cmap_colors([r["eta_over_b"] for r in rs])
    for r, c in zip(rs, cols):  # ratio 0 = the unpruned network
        ax.plot([0.0] + list(r["ratios"]), [r["test_acc"]] + list(r[f"acc_{method}"]),
                marker="o" if r["batch_size"] == 50 else "s", ms=3, color=c)
    ax.set_xlabel("pruning ratio")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{dataset}: {method} pruning", fontsize=9)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    plt.colorbar(sm, ax=ax, label="η / b")
    return ax


def plot_prunable_vs_alpha(ax, rows, dataset: str | None = None):
    """Prunable fraction at 10 % relative error vs α̂, every layer of every run (colour = η/b)."""
    import matplotlib.pyplot as plt

    rs = [r for r in heavy_tail_rows(rows) if (dataset is None or r["dataset"] == dataset) and r["seed"] == 0]
    if not rs:
        return ax
    cols, norm, cmap = _cmap_colors([r["eta_over_b"] for r in rs])
    marks = "osD^v<>"
    for r, c in zip(rs, cols):
        for l, (a, p) in enumerate(zip(r["alpha"], r["prunable_mag"])):
            if a is not None:
                ax.scatter(a, p, color=c, marker=marks[l % len(marks)], s=18)
    ax.set_xlabel("α̂ (layer)")
    ax.set_ylabel("prunable fraction at ε = 0.1")
    ax.set_title(("all data sets" if dataset is None else dataset) + " (marker = layer)", fontsize=9)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    plt.colorbar(sm, ax=ax, label="η / b")
    return ax


def plot_curves(ax, rows, dataset: str, methods=("magnitude", "global", "node", "spectral", "random")):
    """Accuracy vs compression ratio (log2 axis), mean ± sd over seeds, for the multi-seed runs."""
    rs = [r for r in heavy_tail_rows(rows) if r["dataset"] == dataset]
    by = {}
    for r in rs:
        by.setdefault((r["lr"], r["batch_size"]), []).append(r)
    if not by:
        return ax
    key = max(by, key=lambda k: len(by[k]))
    grp = by[key]
    for i, m in enumerate(methods):
        if f"acc_{m}" not in grp[0]:
            continue
        acc = np.array([r[f"acc_{m}"] for r in grp])
        comp = np.array([r[f"comp_{m}"] for r in grp]).mean(axis=0)
        mu = acc.mean(axis=0)
        sd = acc.std(axis=0, ddof=1) if len(grp) > 1 else np.zeros_like(mu)
        ax.errorbar(comp, mu, yerr=sd, marker="o", ms=3, capsize=2, label=m, color=f"C{i}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("compression ratio (total / remaining)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{dataset}: η={key[0]}, b={key[1]}, {len(grp)} seed(s), mean ± sd", fontsize=9)
    ax.legend(fontsize=7)
    return ax
