"""Gradient-noise studies: the width study of notebooks/08_gradient_noise.ipynb and the sweep run body.

Şimşekli, Sagun & Gürbüzbalaban (2019, ICML) train bias-free fully connected ReLU networks (``depth``
linear layers, hidden width ``width``) on MNIST / CIFAR-10 by plain SGD (lr 0.1, halved at 1/3 and
2/3 of 65k iterations with ``lr_schedule``, batch 100, cross-entropy) and every 100 iterations
estimate the tail index of the gradient noise on the training and the test set; they find α̂ well
below 2 (their Fig. 3–5). Here the same networks are trained by :func:`simulations.nn.train` with a
:class:`~simulations.diagnostics.monitors.GradientNoiseMonitor`.

* :func:`train_with_noise` — one run: the monitor's tidy records plus the final metrics.
* :func:`width_study` — runs over widths × seeds (the notebook's table).
* :func:`noise_controls` — the pooled estimate beside controls on the *stored* noise sample of a
  small network: the same coordinates in a random order (no within-block dependence), a Gaussian
  sample with the same per-coordinate variances (the scale mixture alone), the paper's ln(|·| + eps)
  form, and Hill's estimator. The block-sum estimator assumes iid samples; the noise coordinates
  of one minibatch are dependent and have different scales (Panigrahi, Somani, Goyal & Netrapalli
  2019, "Non-Gaussianity of stochastic gradient noise", arXiv:1910.09626, make the scale point).
* :func:`gradient_noise_run` — body of the sweep experiment ``diagnostics.gradient_noise``
  (:mod:`simulations.experiments.diagnostics`): flat metrics (``alpha_train``, ``alpha_test``,
  per-layer lists, their values at every measured step) and one flat history record per measured step.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations._core.seeding import child
from simulations._core.validation import check_bool, check_choice, check_int, check_positive
from simulations.diagnostics.gradient_noise import N_EVAL_DEFAULT
from simulations.diagnostics.monitors import SPLITS, GradientNoiseMonitor

__all__ = ["train_with_noise", "width_study", "noise_controls", "gradient_noise_run", "DATASETS", "RUN_STEPS_MAX",
           "CONTROL_BYTES_MAX"]

#: data sets of the studies (synthetic: the 10-class Gaussian mixture of :mod:`simulations.pruning.data`)
DATASETS = ("mnist", "fashion_mnist", "synthetic")
#: most SGD steps of one study run (10⁶ steps of a 784-1024-1024-10 network take about an hour per core)
RUN_STEPS_MAX = 10**6
#: largest stored noise sample of :func:`noise_controls` (P·M float64 values, 256 MiB)
CONTROL_BYTES_MAX = 2**28


def train_with_noise(data: Any, *, width: int, depth: int = 3, steps: int = 1000, every: int = 500,
                     lr: float = 0.1, batch_size: int = 100, n_eval: int | None = N_EVAL_DEFAULT,
                     splits: Sequence[str] = SPLITS, lr_schedule: bool = False, seed: Any = 0) -> dict:
    """Train a bias-free ReLU FCN (``depth`` weight layers of ``width``) and measure the gradient noise.

    The noise is measured every ``every`` steps (and at the last step) on ``splits`` with
    ``n_eval`` rows each. ``lr_schedule``: halve the step size at 1/3 and 2/3 of ``steps``
    (the paper's schedule). Seeds: ``child(seed, "train")`` for the run, ``child(seed, "noise")``
    for the evaluation subsets. Returns ``{"records", "status", "reason", "steps", "test_acc",
    "train_loss", "seconds_train", "seconds_noise"}`` (``records``: the monitor's tidy table).
    """
    from simulations.nn import SGD, MLPSpec, Schedule, StopRules, train

    width = check_int("width", width, 1, 65536)
    depth = check_int("depth", depth, 2, 32)
    steps = check_int("steps", steps, 1, RUN_STEPS_MAX)
    every = check_int("every", every, 1, steps)
    lr = check_positive("lr", lr)
    lr_schedule = check_bool("lr_schedule", lr_schedule)
    dim, k = data.X_train.shape[1], int(data.n_classes)
    spec = MLPSpec((dim,) + (width,) * (depth - 1) + (k,), bias=False)
    mon = GradientNoiseMonitor(data, batch_size=batch_size, every=every, at=(steps,), n_eval=n_eval, splits=splits,
                               seed=child(seed, "noise"))
    sched = Schedule("step", (steps // 3, 2 * steps // 3), 0.5, "step") if lr_schedule and steps >= 3 else Schedule()
    # train evaluates (and calls the monitor) every `every` steps and at the end of the budget
    res = train(spec, data, optimizer=SGD(lr, schedule=sched), batch_size=batch_size, stop=StopRules(max_steps=steps),
                eval_every=every, callback=mon, seed=child(seed, "train"))
    last = res.final
    return {"records": mon.records, "status": res.status, "reason": res.reason, "steps": res.steps,
            "test_acc": last.get("test_acc"),
            "train_loss": last.get("train_loss"), "seconds_train": res.timings["train"],
            "seconds_noise": sum(r["seconds"] for r in mon.records if r["layer"] == "all")}


def width_study(widths: Sequence[int], *, depth: int = 3, steps: int = 1000, every: int = 500,
                seeds: Sequence[int] = (0,), dataset: str = "mnist", n_train: int = 0, n_test: int = 0,
                lr: float = 0.1, batch_size: int = 100, n_eval: int | None = N_EVAL_DEFAULT,
                splits: Sequence[str] = SPLITS, lr_schedule: bool = False) -> list[dict]:
    """Gradient-noise tail index for each width × seed: tidy rows ``width, depth, seed`` + the monitor's records.

    ``dataset`` from :data:`DATASETS` (the first ``n_train`` / ``n_test`` examples, 0 = all);
    the rest as :func:`train_with_noise`. Each row also carries the run's ``test_acc`` and ``status``.
    """
    from simulations.pruning.data import load_data

    check_choice("dataset", dataset, DATASETS)
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, range)) or not widths:
        raise TypeError(f"widths must be a non-empty sequence of ints, got {widths!r}")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, range)) or not seeds:
        raise TypeError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    widths = [check_int("widths", w, 1, 65536) for w in widths]
    seeds = [check_int("seeds", s, 0) for s in seeds]
    data = load_data(dataset, check_int("n_train", n_train, 0), check_int("n_test", n_test, 0))
    rows = []
    for w in widths:
        for s in seeds:
            run = train_with_noise(data, width=w, depth=depth, steps=steps, every=every, lr=lr, batch_size=batch_size,
                                   n_eval=n_eval, splits=splits, lr_schedule=lr_schedule, seed=s)
            for r in run["records"]:
                rows.append({"width": w, "depth": depth, "seed": s, **r, "test_acc": run["test_acc"],
                             "status": run["status"]})
    return rows


def noise_controls(params, X: Any, y: Any, *, batch_size: int, n_eval: int | None = N_EVAL_DEFAULT,
                   seed: Any = 0) -> dict:
    """Pooled α̂ of the gradient noise and controls on the stored sample (module docstring).

    The noise vectors U_p = g_p − ḡ (float64, P·M values ≤ :data:`CONTROL_BYTES_MAX` bytes) of the
    rows :func:`~simulations.diagnostics.gradient_noise.gradient_noise_tail_index` uses for the same
    ``n_eval`` and ``seed``. Returns ``alpha`` (= that function's pooled α̂, to rounding),
    ``alpha_shuffled`` (the same values, randomly permuted), ``alpha_gaussian`` (N(0, s_j²) with s_j the
    sd of coordinate j over the P minibatches), ``alpha_eps`` (ln(|·| + 2.2·10⁻¹⁶), the paper's code),
    ``hill`` (Hill's α̂ on the non-zero |U|, k = ⌈√N⌉), ``N``, ``m``, ``zero_fraction``.
    """
    from simulations._core import seeding
    from simulations.diagnostics.gradient_noise import _check_data, _subset
    from simulations.diagnostics.streaming import StreamingBlockSum, block_size
    from simulations.nn.backends import get_backend
    from simulations.tail_index import hill

    spec, X, y = _check_data(params, X, y)
    n = X.shape[0]
    batch_size = check_int("batch_size", batch_size, 1, max(1, n // 2))
    if n < 2 * batch_size:
        raise ValueError(f"X must have at least 2·batch_size = {2 * batch_size} rows, got {n}")
    if n_eval is not None:
        n_eval = min(check_int("n_eval", n_eval, 2 * batch_size), n)
    ss = seeding.seed_sequence(seed)
    rows = _subset(n, n_eval, batch_size, ss)
    P, M = rows.size // batch_size, spec.n_params
    if P * M * 8 > CONTROL_BYTES_MAX:
        raise ValueError(f"the stored noise sample would hold P·M = {P}·{M} float64 values, above "
                         f"CONTROL_BYTES_MAX = {CONTROL_BYTES_MAX} bytes: use a smaller n_eval or network")
    be = get_backend("cpu")
    U = np.empty((P, M))
    for p in range(P):
        idx = rows[p * batch_size:(p + 1) * batch_size]
        U[p] = be.gradient(spec, params.flat, np.ascontiguousarray(X[idx], dtype=spec.np_dtype), y[idx])[1]
    U -= U.mean(axis=0)
    m = block_size(P * M)

    def est(x, eps=0.0):
        acc = StreamingBlockSum(m, eps)
        acc.update(x)
        return acc.alpha

    rng = seeding.generator(ss, "controls")
    x = U.ravel()
    gauss = (rng.standard_normal(U.shape) * U.std(axis=0, ddof=1)).ravel()
    nz = np.abs(x[x != 0.0])
    return {"alpha": est(x), "alpha_shuffled": est(rng.permutation(x)), "alpha_gaussian": est(gauss),
            "alpha_eps": est(x, float(np.spacing(1))), "hill": hill(nz) if nz.size >= 2 else math.nan,
            "N": P * M, "m": m, "zero_fraction": 1.0 - nz.size / x.size}


def gradient_noise_run(config, seed: int) -> dict:
    """Body of the sweep experiment ``diagnostics.gradient_noise``: ``{"status", "metrics", "history"}``.

    Metrics (JSON scalars and lists): ``alpha_<split>`` (pooled α̂ at the last step),
    ``alpha_<split>_layers`` (per layer, last step), ``alpha_<split>_steps`` (pooled α̂ at every
    measured step, aligned with ``steps_measured``), ``noise_norm_<split>``, ``test_acc``,
    ``train_loss``, ``steps_done``, ``train_status``, ``seconds_train``, ``seconds_noise``; an undefined
    or infinite α̂ is stored as None. History: one flat record per measured step, ``step`` +
    ``alpha_<split>`` + ``alpha_<split>_l<k>`` (layer k).
    """
    from simulations.pruning.data import load_data

    data = load_data(config.dataset, config.n_train, config.n_test)
    run = train_with_noise(data, width=config.width, depth=config.depth, steps=config.steps, every=config.every,
                           lr=config.lr, batch_size=config.batch_size, n_eval=config.n_eval or None,
                           splits=tuple(config.splits), lr_schedule=config.lr_schedule, seed=seed)
    recs = run["records"]
    steps = sorted({r["step"] for r in recs})
    metrics: dict[str, Any] = {"steps_measured": steps, "steps_done": run["steps"], "test_acc": run["test_acc"],
                               "train_loss": run["train_loss"], "seconds_train": run["seconds_train"],
                               "seconds_noise": run["seconds_noise"], "train_status": run["status"]}
    history = {s: {"step": s} for s in steps}
    for split in config.splits:
        pooled = [r for r in recs if r["split"] == split and r["layer"] == "all"]
        if not pooled:  # diverged before the first measurement
            continue
        metrics[f"alpha_{split}"] = _finite(pooled[-1]["alpha"])
        metrics[f"alpha_{split}_steps"] = [_finite(r["alpha"]) for r in pooled]
        metrics[f"noise_norm_{split}"] = _finite(pooled[-1]["noise_norm"])
        last = [r for r in recs if r["split"] == split and r["layer"] != "all" and r["step"] == pooled[-1]["step"]]
        metrics[f"alpha_{split}_layers"] = [_finite(r["alpha"]) for r in last]
        for r in recs:
            if r["split"] == split:
                key = f"alpha_{split}" if r["layer"] == "all" else f"alpha_{split}_l{r['layer']}"
                history[r["step"]][key] = _finite(r["alpha"])
    if run["status"] == "diverged":
        return {"status": "diverged", "error": run["reason"], "metrics": metrics, "history": list(history.values())}
    return {"status": "done", "metrics": metrics, "history": list(history.values())}


def _finite(v):
    """A float, or None (JSON null) for an undefined (nan) or infinite estimate."""
    return float(v) if v is not None and math.isfinite(v) else None
