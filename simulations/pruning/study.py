"""Heavy tails ⇒ compressibility on MNIST / Fashion-MNIST: the runs and their sweeps.

Reproduces the FCN experiments of Barsbey, Sefidgaran, Erdogdu, Richard & Şimşekli,
"Heavy tails in SGD and compressibility of overparametrized neural networks"
(NeurIPS 2021, §5; code ``mbarsbey/sgd_comp_gen``): bias-free ReLU networks with
``depth`` weight layers (``784 → w → … → w → 10``, PyTorch's default
initialisation) trained by plain SGD (constant step η, batch b) to (near)
interpolation, then

* the tail index α̂ of every layer's weights (block-sum estimator of Mohammadi,
  Mohammadpour & Ogata 2015, median-centred, clipped at 2 —
  :func:`simulations.tail_index.estimators.weight_tail_index`) against η/b;
* test accuracy after one-shot pruning at a set of pruning ratios, against η/b, for
  the methods of :data:`CURVE_METHODS`;
* the prunable fraction at 10 % relative L2 error per layer
  (:func:`simulations.compressibility.api.prunable_fraction`) against α̂.

and a baselines table (Blalock, Gonzalez Ortiz, Frankle & Guttag, MLSys 2020
style): one-shot magnitude pruning with a global or a per-layer threshold, random
pruning, and IMP with weight rewinding and with learning-rate rewinding (Renda,
Frankle & Carbin, ICLR 2020) at 80/90/95/98 % sparsity.

:func:`heavy_tail_run` and :func:`baselines_run` are the bodies of the experiments
registered in :mod:`simulations.experiments.pruning`; :func:`reproduction_sweeps`
defines the sweeps; :mod:`simulations.pruning.tables` reads the results store and
:mod:`simulations.pruning.plots` draws it.

Seeding: the run's integer seed is split by :func:`simulations._core.seeding.child`
into independent named children — ``"train"`` (initialisation, data order),
``"imp"`` (the IMP runs of the baselines) and ``"prune"`` (random pruning).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulations._core.seeding import child
from simulations._core.validation import check_bool, check_choice, check_int

__all__ = [
    "CURVE_METHODS",
    "COMPRESSIONS",
    "FULL_GRID",
    "layer_statistics",
    "pruning_curves",
    "heavy_tail_run",
    "baselines_run",
    "reproduction_sweeps",
    "run_reproduction",
]

#: one-shot methods of the accuracy curves: magnitude with a per-layer or a global threshold
#: (the *scope* of :func:`simulations.pruning.one_shot.magnitude_prune`), node, spectral, random
CURVE_METHODS = ("magnitude_layer", "magnitude_global", "node", "spectral", "random")
#: (η, b) grid of the full-mode reproduction
FULL_GRID = ((0.025, 50), (0.1, 50), (0.2, 50), (0.35, 50), (0.05, 100), (0.2, 100), (0.35, 100), (0.5, 100))
#: operating points of the accuracy-vs-compression curves: 2×, 4×, 8×, 16×, 32×
COMPRESSIONS = (2.0, 4.0, 8.0, 16.0, 32.0)


def _finite_or_none(v):
    v = float(v)
    return v if math.isfinite(v) else None


def layer_statistics(weights: Sequence[np.ndarray], eps: float = 0.1) -> dict:
    """Per layer: α̂ (entries), prunable fractions at relative error ``eps``.

    ``weights``: a network as for :func:`simulations.pruning.masks.check_weights` (entries
    bounded by :data:`simulations.pruning.one_shot.WEIGHT_ABS_MAX`); ``eps`` in (0, 1).

    Keys (lists, one value per layer): ``alpha`` (block-sum on the median-centred
    entries, clipped at 2), ``alpha_hill`` (Hill on the centred entries, not
    clipped), ``prunable_mag`` (magnitude, centred), ``prunable_node`` (fraction of
    neurons, hidden layers; None for the output layer), ``prunable_svd``
    (fraction of singular values). An estimate is None where it is undefined for the layer
    (fewer than 4 entries, a constant layer, too many entries equal to the median) or not finite.
    """
    from simulations.compressibility.api import prunable_fraction
    from simulations.pruning.masks import check_eps, check_weights
    from simulations.pruning.one_shot import node_prune, spectral_prune
    from simulations.tail_index.estimators import weight_tail_index

    weights = check_weights(weights)
    eps = check_eps(eps)
    out = {"alpha": [], "alpha_hill": [], "prunable_mag": [], "prunable_node": [], "prunable_svd": []}
    L = len(weights)
    node = node_prune(weights, eps=eps)
    svd = spectral_prune(weights, eps=eps)

    def alpha_or_none(w64, **options):
        try:  # the estimators refuse layers where they are undefined (see the docstring)
            return _finite_or_none(weight_tail_index(w64, mode="entries", **options))
        except ValueError:
            return None

    for i, w in enumerate(weights):
        w64 = np.asarray(w, dtype=np.float64)
        out["alpha"].append(alpha_or_none(w64, estimator="block_sum"))
        out["alpha_hill"].append(alpha_or_none(w64, estimator="hill", clip=None))
        out["prunable_mag"].append(float(prunable_fraction(w64 - np.median(w64), eps)))
        out["prunable_node"].append(1.0 - float(node.masks[i].any(axis=1).mean()) if i < L - 1 else None)
        out["prunable_svd"].append(1.0 - svd.ranks[i] / min(w.shape))
    return out


def _pruner(method: str, center: bool, seed: Any):
    """``ratio -> PruneResult`` for one of :data:`CURVE_METHODS` on the weights ``ws``."""
    from simulations.pruning.one_shot import magnitude_prune, node_prune, random_prune, spectral_prune

    table = {
        "magnitude_layer": lambda ws, r: magnitude_prune(ws, ratio=r, scope="layer", center=center),
        "magnitude_global": lambda ws, r: magnitude_prune(ws, ratio=r, scope="global", center=center),
        "node": lambda ws, r: node_prune(ws, ratio=r),
        "spectral": lambda ws, r: spectral_prune(ws, ratio=r, center=center),
        "random": lambda ws, r: random_prune(ws, ratio=r, seed=seed),  # one seed: nested masks across ratios
    }
    if method not in table:
        raise ValueError(f"methods must be among {', '.join(CURVE_METHODS)}; got {method!r}")
    return table[method]


def pruned_accuracy(params, weights: Sequence[np.ndarray], X, y) -> float:
    """Test accuracy of ``params``' network with its weight matrices replaced by ``weights``."""
    from simulations.nn import Params, evaluate

    biases = list(params.biases) if params.spec.bias else None
    return float(evaluate(Params.from_layers(params.spec, [np.asarray(w) for w in weights], biases), X, y)[1])


def pruning_curves(params, X, y, ratios: Sequence[float], *, methods: Sequence[str] = CURVE_METHODS,
                   center: bool = True, seed: Any = 0) -> dict:
    """Test accuracy and compression after one-shot pruning at each ratio, per method.

    ``magnitude_layer`` / ``magnitude_global``: magnitude pruning with a per-layer /
    one global threshold (median-centred when ``center``); ``node``: hidden neurons by
    incoming norm; ``spectral``: truncated SVD (``center`` = column medians);
    ``random``: per layer, from ``seed``. Returns ``{"acc_<m>": [...], "comp_<m>": [...]}``
    aligned with ``ratios``.
    """
    ws = [np.array(w) for w in params.weights]
    out = {}
    for m in methods:
        fn = _pruner(m, center, seed)
        results = [fn(ws, r) for r in ratios]
        out[f"acc_{m}"] = [pruned_accuracy(params, res.weights, X, y) for res in results]
        out[f"comp_{m}"] = [float(res.compression_ratio) for res in results]
    return out


# --------------------------------------------------------------------------- experiment bodies


def heavy_tail_run(config, seed: int) -> dict:
    """Train one bias-free FCN at (η, b), then measure tails and pruning (body of ``pruning.heavy_tail``)."""
    from simulations.nn import SGD, MLPSpec, StopRules, evaluate, train
    from simulations.pruning.data import load_data

    data = load_data(config.dataset, config.n_train, config.n_test)
    sizes = (data.dim,) + (config.width,) * (config.depth - 1) + (data.n_classes,)
    spec = MLPSpec(sizes, bias=False, init=config.init)
    stop = StopRules(max_epochs=config.max_epochs, interpolation_loss=config.interpolation_loss,
                     target_train_acc=None)
    res = train(spec, data, optimizer=SGD(lr=config.lr), batch_size=config.batch_size, stop=stop,
                averaging=config.averaging, averaging_delay=getattr(config, "averaging_delay", 0),
                eval_every=getattr(config, "eval_every", 0) or None, eval_train="full", seed=child(seed, "train"),
                threads=None, backend=getattr(config, "backend", "cpu"))
    hist = [{k: v for k, v in h.items() if k != "params"} for h in res.history]
    base = {"eta_over_b": config.lr / config.batch_size, "train_status": res.status, "steps": res.steps,
            "epochs": res.epochs, "train_time": float(res.timings.get("train", float("nan")))}
    if res.status == "diverged":
        from simulations.sweep import Diverged

        raise Diverged(f"training diverged at step {res.steps}", metrics=base, history=hist)
    params = res.averaged if res.averaged is not None else res.params
    tr_loss, tr_acc = evaluate(params, data.X_train, data.y_train)
    te_loss, te_acc = evaluate(params, data.X_test, data.y_test)
    ratios = [1.0 - 1.0 / c for c in config.compressions]
    metrics = dict(base, train_loss=float(tr_loss), train_acc=float(tr_acc), test_loss=float(te_loss),
                   test_acc=float(te_acc), ratios=ratios)
    metrics.update(layer_statistics([np.array(w) for w in params.weights], eps=config.eps))
    if getattr(config, "tail_protocol", "block_sum") == "barsbey":
        from simulations.tail_index.barsbey import layer_alphas

        L = len(params.weights)
        per = [layer_alphas(np.array(w), last=(i == L - 1), seed=child(seed, "alpha", i))
               for i, w in enumerate(params.weights)]
        for k in ("rows", "entries", "norms"):
            metrics[f"alpha_barsbey_{k}"] = [p[k] for p in per]
    metrics.update(pruning_curves(params, data.X_test, data.y_test, ratios, methods=tuple(config.methods),
                                  center=config.center, seed=child(seed, "prune")))
    return {"status": "done", "metrics": metrics, "history": hist}


#: one-shot baselines of ``pruning.baselines``: metric name -> (method, options) of :func:`prune`
BASELINES = {
    "oneshot_magnitude_global": ("magnitude", {"scope": "global"}),
    "oneshot_magnitude_layer": ("magnitude", {"scope": "layer"}),
    "oneshot_random": ("random", {"scope": "layer"}),
}


def baselines_run(config, seed: int) -> dict:
    """Dense training, one-shot baselines and IMP (weight / LR rewinding) — body of ``pruning.baselines``."""
    from simulations.nn import SGD, MLPSpec
    from simulations.nn.optim import Schedule
    from simulations.pruning.data import load_data
    from simulations.pruning.iterative import imp
    from simulations.pruning.one_shot import prune

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
                  criterion="large_final", scope=config.scope, seed=child(seed, "imp"), keep_params=(j == 0))
        metrics[f"imp_{rw}"] = [r.test_acc for r in res.rounds[1:]]
        metrics[f"imp_{rw}_before_retrain"] = [r.acc_pruned for r in res.rounds[1:]]
        metrics[f"imp_{rw}_sparsity"] = [r.sparsity for r in res.rounds[1:]]
        history += [dict(r, rewind=rw) for r in res.table()]
        if j == 0:  # the dense round is the same for every rewinding (same seed ⇒ same θ₀, same run)
            dense = res.rounds[0].params
            metrics["dense_acc"] = res.rounds[0].test_acc
            metrics["dense_train_acc"] = res.rounds[0].train_acc
            ws = [np.array(w) for w in dense.weights]
            for name, (method, options) in BASELINES.items():
                extra = {"seed": child(seed, "prune")} if method == "random" else {}
                metrics[name] = [pruned_accuracy(dense, prune(ws, method, ratio=s, **options, **extra).weights,
                                                 data.X_test, data.y_test) for s in config.sparsities]
    return {"status": "done", "metrics": metrics, "history": history}


# --------------------------------------------------------------------------- sweeps


def _check_datasets(datasets) -> list[str] | None:
    """None, or a non-empty list of data set names (``"mnist"``, ``"fashion_mnist"``, ``"synthetic"``)."""
    from simulations.nn.data import DATASETS
    from simulations.pruning.data import SYNTHETIC

    if datasets is None:
        return None
    if isinstance(datasets, (str, bytes)) or not isinstance(datasets, (list, tuple)) or not datasets:
        raise TypeError(f"datasets must be None or a non-empty list of data set names, got {datasets!r}")
    return [check_choice("datasets", d, tuple(DATASETS) + (SYNTHETIC,)) for d in datasets]


def reproduction_sweeps(quick: bool, datasets: Sequence[str] | None = None) -> list[tuple[str, list[dict], list[int]]]:
    """The sweeps of the reproduction: ``[(experiment, configs, seeds), ...]``.

    Full mode (sized for a few hours on 2 shared cores): width 512, depth 4, the
    first 5000 training and 2000 test images, η ∈ {0.025, 0.1, 0.2, 0.35} at b = 50 and
    η ∈ {0.05, 0.2, 0.35, 0.5} at b = 100 — η/b ∈ {5·10⁻⁴, 2·10⁻³, 3.5·10⁻³, 4·10⁻³,
    5·10⁻³, 7·10⁻³} —, ≤ 25 epochs (MNIST) or ≤ 60 epochs (Fashion-MNIST), stop at train
    loss < 10⁻³ with 100 % train accuracy; 3 seeds of (η, b) = (0.1, 50) for the 2×–32×
    curves; baselines on LeNet-300-100 (5000 images, T = 1500 SGD steps per round at
    b = 50, η = 0.02, momentum 0.9, ×0.1 at 50 % and 75 % of T, k = 100, 3 seeds).
    Quick mode: width 32, 600 images, ≤ 3 epochs. ``datasets`` defaults to the image
    data sets present (:func:`simulations.pruning.data.available_datasets`), else the
    synthetic mixture; otherwise it is a non-empty list of names among ``"mnist"``,
    ``"fashion_mnist"`` and ``"synthetic"``. ``quick`` is a flag (True/False).
    """
    quick = check_bool("quick", quick)
    datasets = _check_datasets(datasets)
    if datasets is None:
        from simulations.pruning.data import SYNTHETIC, available_datasets

        datasets = available_datasets() or [SYNTHETIC]
    sweeps = []
    if quick:
        ht = [dict(dataset=d, width=32, depth=4, lr=lr, batch_size=b, n_train=600, n_test=300, max_epochs=3,
                   compressions=list(COMPRESSIONS))
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
    """Run (or resume) every sweep of :func:`reproduction_sweeps` into ``store`` (a path).

    ``quick`` and ``progress`` are flags (True/False); ``workers`` an int in [0, 4096];
    ``datasets`` None or a non-empty list of data set names (``"mnist"``, ``"fashion_mnist"``,
    ``"synthetic"``).
    """
    from simulations.sweep import run_sweep

    quick = check_bool("quick", quick)
    progress = check_bool("progress", progress)
    workers = check_int("workers", workers, 0, 4096)
    datasets = _check_datasets(datasets)

    Path(store).parent.mkdir(parents=True, exist_ok=True)
    for name, configs, seeds in reproduction_sweeps(quick, datasets):
        run_sweep(name, configs, store, seeds=seeds, workers=workers, progress=progress)
