"""Wan, Barsbey, Zaidi & Şimşekli 2024 at their protocol: the sweep of ``noise_compression.wan_protocol`` and its table.

Their code's MNIST setting (README example): a one-hidden-layer ReLU network of width n, plain SGD
at lr 0.01 and batch 5000 on the full training set, α-stable noise σ η^{1/α} ξ (σ = 0.003, α = 1.75)
added to the hidden layer after every step, training until 95 % training accuracy; then the
hidden neurons with the smallest weight norms are removed until the squared relative Frobenius
error of the layer reaches 0.1 (the output layer is not pruned), and the fraction removed and the
pruned network's training and test accuracies are reported. Noise types: 1 = one SαS scalar per
neuron broadcast over its row ("neuron"), 2 = iid per entry ("entry"), 3 = elliptical (a
Gaussian vector times √ of a positive α/2-stable scalar, "elliptical"); controls: type 1 at α = 2
(Gaussian) and no noise. Seeds 1–5 as in the paper.

:func:`wan_sweeps` lists the runs (seed-major: every noise setting's seed 1 first, so that an
interrupted sweep has all settings at the same seeds), :func:`run_wan` is the body,
:func:`wan_table` the per-(width, noise) summary (mean ± sd over seeds).
``python -m simulations.noise_compression.wan_protocol --store PATH [--widths 2000 5000] [--seeds 1 2]
[--noise type2 gaussian]`` runs or resumes the sweep (all five settings, or the ones named) and prints the table.
"""
from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulations._core.seeding import child
from simulations._core.validation import check_bool, check_choice, check_int

__all__ = ["WAN_EXPERIMENT", "NOISE_SETTINGS", "SETTING_KEYS", "SIGMA", "CHECKPOINT_EVERY", "wan_sweeps", "run_wan", "run_wan_sweep", "wan_runs", "wan_table", "main"]

WAN_EXPERIMENT = "noise_compression.wan_protocol"
#: their σ (the README example); the noise added after a step is σ η^{1/α} ξ
SIGMA = 0.003
#: (label, noise kind, α, σ) of the protocol's noise settings: types 1-3, the Gaussian and no-noise controls.
#: σ is in tailcomp's convention (ξ of scale 1: SαS(1), N(0, 2) at α = 2), chosen so that the draws have
#: the law of their code's: its Gaussian control is a standard normal per neuron (N(0, 1) = SαS(1/√2) at
#: α = 2), and its type 3 is √A·Z with Z ~ N(0, I), A ~ S(α/2, 1, cos(πα/4)^{2/α}), an elliptical SαS
#: vector of scale 1/√2 (Samorodnitsky & Taqqu 1994, Prop. 2.5.2); types 1 and 2 are SαS(1) there too.
NOISE_SETTINGS: tuple[tuple[str, str, float, float], ...] = (
    ("type 1 (per neuron)", "neuron", 1.75, SIGMA),
    ("type 2 (per entry)", "entry", 1.75, SIGMA),
    ("type 3 (elliptical)", "elliptical", 1.75, SIGMA / math.sqrt(2.0)),
    ("Gaussian (type 1, α = 2)", "neuron", 2.0, SIGMA / math.sqrt(2.0)),
    ("no noise", "neuron", 1.75, 0.0),
)
#: short names of NOISE_SETTINGS, in the same order (the CLI's ``--noise``)
SETTING_KEYS = ("type1", "type2", "type3", "gaussian", "none")
#: steps between training checkpoints when ``$TAILCOMP_CHECKPOINTS`` is set (≈ 100 s at width 2000 on one core)
CHECKPOINT_EVERY = 200


def _label(cfg: dict) -> str:
    for lab, kind, a, s in NOISE_SETTINGS:
        if cfg["sigma"] == s and (s == 0 or (cfg["noise"] == kind and cfg["alpha"] == a)):
            return lab
    return f"{cfg['noise']} α={cfg['alpha']:g} σ={cfg['sigma']:g}"


def wan_sweeps(widths: Sequence[int] = (2000,), seeds: Sequence[int] = (1, 2, 3, 4, 5), dataset: str = "mnist",
               backend: str = "cpu", noise: Sequence[str] = SETTING_KEYS) -> list[tuple[str, list[dict], list[int]]]:
    """``[(experiment, configs, [seed])]``, one entry per seed (seed-major order), every width × noise setting.

    widths : hidden widths (the paper's example: 5000); seeds : 1-5 in the paper; dataset : "mnist"
    or "fashion_mnist"; backend : "cpu" (the experiment's training runs on the CPU backend);
    noise : the settings to run, a subset of :data:`SETTING_KEYS` (kept in that order).
    """
    if isinstance(noise, (str, bytes)) or not isinstance(noise, (list, tuple)) or not noise:
        raise TypeError(f"noise must be a non-empty list of setting names from {SETTING_KEYS}, got {noise!r}")
    for key in noise:
        check_choice("noise", key, SETTING_KEYS)
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (list, tuple)):
        raise TypeError(f"widths must be a list of hidden widths, got {widths!r}")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple)):
        raise TypeError(f"seeds must be a list of integer seeds, got {seeds!r}")
    widths = [check_int("widths", w, 1, 65536) for w in widths]
    seeds = [check_int("seeds", s, 0) for s in seeds]
    check_choice("dataset", dataset, ("mnist", "fashion_mnist"))
    check_choice("backend", backend, ("cpu",))
    cfgs = [dict(dataset=dataset, hidden=[w], noise=kind, alpha=a, sigma=s)
            for w in widths for key, (_, kind, a, s) in zip(SETTING_KEYS, NOISE_SETTINGS) if key in noise]
    return [(WAN_EXPERIMENT, cfgs, [s]) for s in seeds]


def run_wan(config, seed: int) -> dict:
    """Body of ``noise_compression.wan_protocol``: ``{"status", "metrics", "history"}`` (``"error"`` if diverged).

    Metrics: ``steps``, ``reached`` (training accuracy ≥ the target), ``train_acc``/``test_acc``
    of the trained network, ``prunable`` (fraction of hidden neurons removed at squared relative
    Frobenius error ``eps2``, per hidden layer, and its mean), ``pruned_train_acc``/``pruned_test_acc``
    after removing them; ``resumed_at_step`` (0, or the step of the checkpoint the run continued from),
    ``segment_seconds`` (the training time of this call) and ``train_seconds`` (the whole run's, scaled
    up from this segment's rate when it was resumed).

    Resumable: with ``$TAILCOMP_CHECKPOINTS`` set, the training writes a checkpoint every
    :data:`CHECKPOINT_EVERY` steps and at its end (:func:`simulations.sweep.checkpoints.run_checkpoint`
    names the file), and a rerun of an interrupted run continues from it bit for bit.
    """
    from simulations.nn import SGD, MLPSpec, NoiseConfig, StopRules, evaluate, train
    from simulations.nn.checkpoint import checkpoint_file, load_checkpoint
    from simulations.pruning.data import load_data
    from simulations.pruning.one_shot import node_prune
    from simulations.pruning.study import pruned_accuracy
    from simulations.sweep.checkpoints import run_checkpoint

    data = load_data(config.dataset, config.n_train, config.n_test)
    sizes = (data.X_train.shape[1],) + tuple(config.hidden) + (data.n_classes,)
    spec = MLPSpec(sizes, bias=False, activation="relu", loss="cross_entropy")
    noise = NoiseConfig(alpha=config.alpha, sigma=config.sigma, kind=config.noise) if config.sigma > 0 else None
    ck = run_checkpoint("wan", config, seed)
    resume = ck if ck is not None and checkpoint_file(ck).exists() else None
    resumed_at = load_checkpoint(resume)[0].step if resume is not None else 0
    t0 = time.perf_counter()
    res = train(spec, data, optimizer=SGD(lr=config.lr), noise=noise, batch_size=config.batch_size,
                stop=StopRules(max_steps=config.steps, target_train_acc=config.target_train_acc),
                eval_every=config.eval_every, seed=child(seed, "train"), resume=resume, checkpoint_path=ck,
                checkpoint_every=CHECKPOINT_EVERY if ck is not None else None)
    seconds = time.perf_counter() - t0
    history = [{k: v for k, v in h.items() if isinstance(v, (int, float, str)) or v is None} for h in res.history]
    if res.status == "diverged":
        return {"status": "diverged", "error": res.reason, "metrics": {"steps": int(res.steps)}, "history": history}
    ws = [np.array(w, dtype=np.float64) for w in res.params.weights]
    train_acc = float(evaluate(res.params, data.X_train, data.y_train)[1])
    pruned = node_prune(ws, eps=math.sqrt(config.eps2))
    m: dict[str, Any] = {
        "steps": int(res.steps), "reached": bool(train_acc >= config.target_train_acc), "train_acc": train_acc,
        "test_acc": float(evaluate(res.params, data.X_test, data.y_test)[1]),
        "prunable": [float(np.mean(~np.any(mk != 0, axis=1))) for mk in pruned.masks[:-1]],
        "pruned_train_acc": pruned_accuracy(res.params, pruned.weights, data.X_train, data.y_train),
        "pruned_test_acc": pruned_accuracy(res.params, pruned.weights, data.X_test, data.y_test),
        "segment_seconds": float(seconds), "resumed_at_step": int(resumed_at),
        "train_seconds": float(seconds * res.steps / max(res.steps - resumed_at, 1))}
    m["prunable_mean"] = float(np.mean(m["prunable"]))
    return {"status": "done", "metrics": m, "history": history}


def wan_runs(store) -> dict[tuple, list]:
    """The finished runs, grouped: {(data set, hidden widths, noise label): [(seed, metrics), ...]}.

    ``store``: a path or an open :class:`simulations.sweep.ResultsStore`.
    """
    from simulations.sweep import ResultsStore

    st = store if isinstance(store, ResultsStore) else ResultsStore(store, create=False, readonly=True)
    groups: dict[tuple, list] = {}
    for r in st.rows(experiment=WAN_EXPERIMENT):
        run = st.get(r["run_id"])
        if run["status"] != "done":
            continue
        c = run["config"]
        groups.setdefault((c["dataset"], tuple(c["hidden"]), _label(c)), []).append((int(run["seed"]), run["metrics"]))
    return groups


def wan_table(store) -> list[dict]:
    """Rows per (data set, width, noise setting): seeds done, mean ± sd of steps, accuracies, prunable fraction, seconds.

    ``store``: a path or an open :class:`simulations.sweep.ResultsStore` (:func:`wan_runs`).
    """
    groups = wan_runs(store)
    order = {lab: i for i, (lab, *_rest) in enumerate(NOISE_SETTINGS)}
    rows = []
    for (ds, hidden, lab), runs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 99))):
        row: dict[str, Any] = {"dataset": ds, "hidden": list(hidden), "noise": lab,
                               "seeds": sorted(int(s) for s, _ in runs)}
        for key in ("steps", "train_acc", "test_acc", "prunable_mean", "pruned_train_acc", "pruned_test_acc",
                    "train_seconds"):
            v = np.array([m[key] for _, m in runs], dtype=float)
            row[key] = (float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0)
        row["reached"] = sum(bool(m["reached"]) for _, m in runs)
        rows.append(row)
    return rows


def run_wan_sweep(store, *, widths=(2000,), seeds=(1, 2, 3, 4, 5), dataset: str = "mnist", workers: int = 0,
                  progress: bool = False, noise: Sequence[str] = SETTING_KEYS) -> None:
    """Run (or resume) :func:`wan_sweeps` into ``store`` (runs already done are skipped), seed by seed."""
    from simulations.sweep import run_sweep

    progress = check_bool("progress", progress)
    workers = check_int("workers", workers, 0, 4096)
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    for name, configs, sd in wan_sweeps(widths, seeds, dataset, noise=noise):
        run_sweep(name, configs, store, seeds=sd, workers=workers, progress=progress)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Wan et al. 2024 at their protocol: run/resume, print the table")
    ap.add_argument("--store", default=str(Path("paper") / "data" / "wan_protocol.sqlite"))
    ap.add_argument("--widths", nargs="*", type=int, default=[2000])
    ap.add_argument("--seeds", nargs="*", type=int, default=[1, 2, 3, 4, 5])
    ap.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--noise", nargs="*", default=list(SETTING_KEYS), choices=SETTING_KEYS,
                    help="the noise settings to run (default: all five)")
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args(argv)
    if not a.table_only:
        run_wan_sweep(a.store, widths=a.widths, seeds=a.seeds, dataset=a.dataset, workers=a.workers, progress=True,
                      noise=a.noise)
    for r in wan_table(a.store):
        print(f"{r['dataset']} width {r['hidden']} {r['noise']:26s} seeds {r['seeds']}: steps {r['steps'][0]:.0f}, "
              f"test {r['test_acc'][0]:.2%}, prunable {r['prunable_mean'][0]:.1%} ± {r['prunable_mean'][1]:.1%}, "
              f"pruned test {r['pruned_test_acc'][0]:.2%}, {r['train_seconds'][0]:.0f} s")


if __name__ == "__main__":
    main()
