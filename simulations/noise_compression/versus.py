"""Noise-injected SGD as a compression method against the pruning baselines, at equal compute.

The runs of experiment ``noise_compression.versus``: the setting, budget and accounting of the
method comparison (:mod:`simulations.pruning.comparison`, experiment ``pruning.compare`` —
LeNet-300-100 with biases on the full MNIST / Fashion-MNIST training sets, SGD with momentum 0.9
at batch 128, the step size × 0.1 at 50 % and 75 % of a training, T = 4 and F = 1 epochs), with
the training itself noise-injected: after every step the hidden layers' weights receive
σ η_t^{1/α} ξ, ξ symmetric α-stable (Wan, Barsbey, Zaidi & Şimşekli, ICML 2024; their type 2 is
one draw per weight, ``noise_kind="entry"``, type 1 one per neuron, ``"neuron"``). Then one-shot
global magnitude pruning at every sparsity, and the variants a method designer would try:

* ``noise`` — T noisy steps, prune, F noise-free fine-tuning steps with the mask fixed (the
  counterpart of ``pruning.compare``'s ``magnitude``);
* ``noise_anneal`` — the noise switched off after ``anneal_fraction``·T steps (the amplitude
  already falls with η_t at each step-size drop; this takes it to zero), then as ``noise``;
* ``noise_first_layer`` — noise on the first layer only (784 × 300, 88 % of the weights);
* ``noise_no_ft`` — T + F noisy steps, prune, no fine-tuning: the claim that the noise alone
  makes the trained network compressible; ``plain_no_ft`` is its noise-free control.

Every method spends T + F training steps (the noise draws are not counted as MACs). Seeding as
in :mod:`simulations.pruning.comparison` (θ₀ and the data order are those of every compared
method at the same seed; the noise streams come from the ``"train"`` child).
:func:`versus_table` reads the store into the rows of
:func:`simulations.pruning.comparison_study.comparison_table`, one row per (method, σ).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from simulations._core.validation import check_bool, check_int

__all__ = ["VERSUS", "VERSUS_CONV", "NOISE_METHODS", "NOISE_LABELS", "SIGMAS", "versus_run", "versus_sweeps", "run_versus",
           "versus_table"]

VERSUS = "noise_compression.versus"
#: the same runs on a convolutional network (``config.model``; LeNet-5 in the committed sweep)
VERSUS_CONV = "noise_compression.versus_conv"
NOISE_METHODS = ("noise", "noise_anneal", "noise_first_layer", "noise_no_ft", "plain_no_ft")
NOISE_LABELS = {
    "noise": "noise-injected SGD + FT",
    "noise_anneal": "noise, annealed to 0 at 75 % + FT",
    "noise_first_layer": "noise on layer 1 only + FT",
    "noise_no_ft": "noise-injected SGD, no FT",
    "plain_no_ft": "plain SGD, no FT (control)",
}
#: the noise scales of the full sweep (Wan et al.'s README example is σ = 0.003 at η = 0.01)
SIGMAS = (3e-4, 1e-3, 3e-3)


def versus_run(config, seed) -> dict:
    """Body of ``noise_compression.versus`` (see the module docstring)."""
    from simulations.nn import NoiseConfig, evaluate
    from simulations.pruning.comparison import after_points, points_metrics, setup_run

    s = setup_run(config, seed)
    m = config.method
    no_ft = m in ("noise_no_ft", "plain_no_ft")
    steps = s.T + s.F if no_ft else s.T
    noise = None if m == "plain_no_ft" else NoiseConfig(config.alpha, config.sigma, config.noise_kind,
                                                        layers=[0] if m == "noise_first_layer" else None)
    if m == "noise_anneal":
        k = max(1, int(config.anneal_fraction * steps))
        first = s.train(s.theta0, None, k, optimizer=s.optimizer(steps), noise=noise)
        dense = s.train(None, None, steps, optimizer=s.optimizer(steps), resume=first.state)
    else:
        dense = s.train(s.theta0, None, steps, noise=noise)
    if dense.status == "diverged":
        from simulations.sweep import Diverged

        raise Diverged(f"noise-injected training diverged: {dense.reason}", metrics={"steps": int(dense.steps)})

    def masks_of(params, target, compute):
        return params, s.global_magnitude(params, target), None

    points = after_points(s, dense, steps, masks_of, list(config.sparsities), finetune=not no_ft)
    metrics = points_metrics(s, points, "noise")
    metrics["dense_acc"] = float(evaluate(dense.params, s.data.X_test, s.data.y_test)[1])
    return {"status": "done", "metrics": metrics, "history": []}


def versus_sweeps(quick: bool, datasets: Sequence[str] | None = None,
                  model: str | None = None) -> list[tuple[str, list[dict], list[int]]]:
    """``[(experiment, configs, seeds)]``: every noisy method at every σ of :data:`SIGMAS`, and the control.

    Full: α = 1.75, per-weight noise, seeds 0–2, the comparison's defaults otherwise. Quick: the
    comparison's quick network and data (seconds per run), σ = 1e-3 only, seed 0. ``datasets``: as
    for :func:`simulations.pruning.comparison_study.comparison_sweeps`. ``model``: None (LeNet-300-100,
    experiment :data:`VERSUS`) or a network of :mod:`simulations.nn.models` (experiment :data:`VERSUS_CONV`;
    without ``noise_first_layer``, which on LeNet-5 would noise only the 150 weights of conv1).
    """
    from simulations.pruning.comparison_study import comparison_sweeps

    quick = check_bool("quick", quick)
    (_, base, seeds), = comparison_sweeps(quick, datasets, ["magnitude"], model)
    sigmas = (1e-3,) if quick else SIGMAS
    methods = [m for m in NOISE_METHODS if m != "plain_no_ft" and (model is None or m != "noise_first_layer")]
    cfgs = []
    for b in base:
        b = {k: v for k, v in b.items() if k != "method"}
        cfgs += [dict(b, method=m, sigma=sg) for sg in sigmas for m in methods]
        cfgs.append(dict(b, method="plain_no_ft"))
    return [(VERSUS if model is None else VERSUS_CONV, cfgs, seeds)]


def run_versus(store, quick: bool = False, *, workers: int = 0, datasets=None, model=None,
               progress: bool = False) -> None:
    """Run (or resume) :func:`versus_sweeps` into ``store`` (runs already done are skipped)."""
    from simulations.sweep import run_sweep

    quick = check_bool("quick", quick)
    progress = check_bool("progress", progress)
    workers = check_int("workers", workers, 0, 4096)
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    for name, configs, seeds in versus_sweeps(quick, datasets, model):
        run_sweep(name, configs, store, seeds=seeds, workers=workers, progress=progress)


def versus_table(store_or_rows) -> list[dict]:
    """Rows of :func:`~simulations.pruning.comparison_study.comparison_table` for the noisy methods.

    One row per (data set, network, method, σ, α) of either experiment, :data:`VERSUS` or
    :data:`VERSUS_CONV`, with ``sigma`` and ``alpha``; its ``label`` names the
    method and (except for the noise-free control) σ and α.
    """
    from simulations.pruning.comparison_study import comparison_table

    out = [t for exp in (VERSUS, VERSUS_CONV) for t in comparison_table(store_or_rows, experiment=exp,
                                                                         keys=("sigma", "alpha"))]
    for t in out:
        t["label"] = NOISE_LABELS.get(t["method"], t["method"]) + (
            "" if t["method"] == "plain_no_ft" else f" (σ = {t['sigma']:g}, α = {t['alpha']})")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulations.noise_compression.versus [--store PATH] [--quick] [--table-only] [--workers N] [--model NAME]``."""
    from simulations.nn.models import model_names
    from simulations.pruning.comparison_study import default_store, format_comparison_table
    from simulations.sweep.cli import study_main

    study_main(argv, description="noise-injected SGD against the baselines: run/resume, print the table",
               store=lambda o: default_store("noise_versus", o["model"]), run=run_versus,
               options={"model": (model_names(), "a convolutional network (experiment noise_compression.versus_conv; "
                                                 "default store paper/data/noise_versus_<model>.sqlite); default "
                                                 "LeNet-300-100")},
               report=lambda st: "Test accuracy %, mean ± sd over seeds:\n" + format_comparison_table(versus_table(st)))


if __name__ == "__main__":
    main()

