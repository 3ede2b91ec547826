"""Heavy tails ⇒ compressibility (Barsbey et al., NeurIPS 2021) on MNIST / Fashion-MNIST, from the results store.

``fig_pruning``, one row per data set: α̂ per layer vs η/b; test accuracy after
per-layer magnitude, node and spectral pruning vs pruning ratio (colour = η/b);
prunable fraction at 10 % error vs α̂. ``fig_pruning_curves``: accuracy vs
compression ratio (2×–32×) for every one-shot method, mean ± sd over the seeds of
the multi-seed runs.

Full mode reads :data:`STORE` (``paper/data/pruning.sqlite``; env
``TAILCOMP_PRUNING_STORE`` overrides), written by
``simulations.pruning.run_reproduction(store, quick=False)``; quick mode runs the tiny
sweeps into ``outdir/pruning_quick.sqlite`` first.
"""
from __future__ import annotations

import os
from pathlib import Path

from paper.registry import save_figure

FIGURES = ["fig_pruning", "fig_pruning_curves"]
#: the committed results store of the full-mode study
STORE = Path(__file__).resolve().parent / "data" / "pruning.sqlite"


def store_path(outdir: Path, quick: bool) -> Path:
    """The store the figure reads: a fresh quick-mode store in ``outdir``, else the committed one."""
    if quick:
        return Path(outdir) / "pruning_quick.sqlite"
    env = os.environ.get("TAILCOMP_PRUNING_STORE")
    return Path(env) if env else STORE


def make(outdir: Path, quick: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simulations.pruning import heavy_tail_rows, plots, run_reproduction

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    store = store_path(outdir, quick)
    if quick:
        run_reproduction(store, quick=True, workers=0)
    elif not store.exists():
        raise FileNotFoundError(f"{store}: run simulations.pruning.run_reproduction(store, quick=False)")
    rows = heavy_tail_rows(store)
    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(len(datasets), 5, figsize=(22, 3.6 * len(datasets)), squeeze=False)
    for i, d in enumerate(datasets):
        plots.plot_alpha_vs_ratio(axes[i][0], rows, d)
        for j, m in enumerate(("magnitude_layer", "node", "spectral")):
            plots.plot_accuracy_vs_ratio(axes[i][j + 1], rows, d, m)
        plots.plot_prunable_vs_alpha(axes[i][4], rows, d)
    fig.tight_layout()
    paths = save_figure(fig, outdir, "fig_pruning", dpi=110)

    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.8), squeeze=False)
    for ax, d in zip(axes[0], datasets):
        plots.plot_curves(ax, rows, d)
    fig.tight_layout()
    return paths + save_figure(fig, outdir, "fig_pruning_curves", dpi=110)
