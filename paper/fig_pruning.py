"""Heavy tails ⇒ compressibility (Barsbey et al. 2021) on MNIST / Fashion-MNIST, from the results store.

Per data set (one row): α̂ per layer vs η/b; test accuracy after magnitude, node and
spectral pruning vs pruning ratio (colour = η/b); prunable fraction at 10 % error vs α̂.
Full mode reads ``paper/data/pruning.sqlite`` (``$TAILCOMP_PRUNING_STORE``), written by
``simulations.pruning.study.run_reproduction(store, quick=False)``; quick mode runs
the tiny sweeps into ``outdir/pruning_quick.sqlite`` first.
"""
from __future__ import annotations

from pathlib import Path

from paper.registry import save_figure

FIGURES = ["fig_pruning", "fig_pruning_curves"]


def make(outdir: Path, quick: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simulations.pruning import study as rep

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if quick:
        store = outdir / "pruning_quick.sqlite"
        rep.run_reproduction(store, quick=True, workers=0)
    else:
        store = rep.default_store()
        if not store.exists():
            raise FileNotFoundError(f"{store}: run simulations.pruning.study.run_reproduction(store, quick=False)")
    rows = rep.heavy_tail_rows(store)
    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(len(datasets), 5, figsize=(22, 3.6 * len(datasets)), squeeze=False)
    for i, d in enumerate(datasets):
        rep.plot_alpha_vs_ratio(axes[i][0], rows, d)
        for j, m in enumerate(("magnitude", "node", "spectral")):
            rep.plot_accuracy_vs_ratio(axes[i][j + 1], rows, d, m)
        rep.plot_prunable_vs_alpha(axes[i][4], rows, d)
    fig.tight_layout()
    paths = save_figure(fig, outdir, "fig_pruning", dpi=110)

    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.8), squeeze=False)
    for ax, d in zip(axes[0], datasets):
        rep.plot_curves(ax, rows, d)
    fig.tight_layout()
    return paths + save_figure(fig, outdir, "fig_pruning_curves", dpi=110)
