"""Heavy tails ⇒ compressibility (Barsbey et al., NeurIPS 2021) on MNIST / Fashion-MNIST, from the results store.

``fig_pruning``, one column per data set (seed-0 runs of the η/b grid): (a, b) the tail
index α̂ of every layer (block-sum on the median-centred entries, clipped at 2) against
η/b; (c, d) test accuracy at 8× one-shot pruning (no retraining) against η/b for
per-layer and global magnitude, node and spectral pruning, with the dense accuracy;
(e, f) the fraction of each layer's weights prunable at 10 % relative ℓ₂ error against
α̂. Colour = layer or method, marker = batch size. ``fig_pruning_curves``: accuracy
against compression ratio (2×–32×) for every one-shot method, mean ± sd over the 3 seeds
of (η, b) = (0.1, 50).

Default: reads :data:`STORE` (``paper/data/pruning.sqlite``, opened read-only; env
``TAILCOMP_PRUNING_STORE`` overrides), written by
``simulations.pruning.run_reproduction(store, quick=False)`` (hours). ``--reduced`` runs
the small sweeps on MNIST and Fashion-MNIST (files required) into
``outdir/pruning_reduced.sqlite`` and stamps the figures.
"""
from __future__ import annotations

from pathlib import Path

from paper.figstyle import finish, panel, require_datasets

FIGURES = ["fig_pruning", "fig_pruning_curves"]
SOURCE = "results store paper/data/pruning.sqlite (read-only), about 5 s"
#: the committed results store of the full-size study
STORE = Path(__file__).resolve().parent / "data" / "pruning.sqlite"
DATASETS = ("mnist", "fashion_mnist")
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
METHODS = {"magnitude_layer": "magnitude (per layer)", "magnitude_global": "magnitude (global)", "node": "node",
           "spectral": "spectral", "random": "random"}
#: index of 8× in the runs' pruning ratios (1/2, 3/4, 7/8, 15/16, 31/32)
AT_8X = 2


def store_path(outdir: Path, reduced: bool) -> Path:
    """The store the figures read: a fresh reduced-run store in ``outdir``, else the committed one."""
    from paper.figdata import store_path as _store_path

    return _store_path(STORE, "TAILCOMP_PRUNING_STORE", outdir, reduced)


def read_rows(store: Path) -> list[dict]:
    from paper.figdata import read_store
    from simulations.pruning import heavy_tail_rows
    from simulations.sweep import ResultsStore

    def table(path):
        with ResultsStore(path, create=False, readonly=True) as st:
            return heavy_tail_rows(st)

    return read_store(store, table, experiment="pruning.heavy_tail", datasets=DATASETS,
                      command="simulations.pruning.run_reproduction(store, quick=False)")


def draw_main(rows: list[dict]):
    import matplotlib.pyplot as plt

    from simulations.pruning import plots
    from simulations.pruning.plots import MARKERS
    from simulations.pruning.plots import batch_legend as _batch_legend
    from simulations.pruning.plots import eta_ticks as _eta_ticks

    fig, axes = plt.subplots(3, 2, figsize=(7.6, 10.4))
    for j, d in enumerate(DATASETS):
        rs = [r for r in rows if r["dataset"] == d and r["seed"] == 0]
        bs = {r["batch_size"] for r in rs}
        L = len(rs[0]["alpha"])
        ax = axes[0, j]
        plots.plot_alpha_vs_ratio(ax, rows, d)
        ax.set_ylabel(r"tail index $\hat\alpha$ (block-sum)")
        panel(ax, "ab"[j], f"{TITLES[d]}: tail index per layer")
        ax = axes[1, j]
        for i, m in enumerate(("magnitude_layer", "magnitude_global", "node", "spectral")):
            for b in sorted(bs):
                pts = [(r["eta_over_b"], 100 * r[f"acc_{m}"][AT_8X]) for r in rs if r["batch_size"] == b]
                x, y = zip(*pts)
                ax.plot(x, y, marker=MARKERS.get(b, "^"), ms=4, color=f"C{i}", ls="-" if b == min(bs) else ":",
                        label=METHODS[m] if b == min(bs) else None)
        pts = sorted((r["eta_over_b"], 100 * r["test_acc"]) for r in rs)
        ax.plot(*zip(*pts), "k_", ms=8, label="dense (unpruned)")
        _eta_ticks(ax, [r["eta_over_b"] for r in rs])
        ax.set_ylabel("test accuracy at 8× (%, no retraining)")
        panel(ax, "cd"[j], f"{TITLES[d]}: one-shot pruning at 8×")
        _batch_legend(ax, bs, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=6.5)
        ax = axes[2, j]
        for layer in range(L):
            for b in sorted(bs):
                pts = [(r["alpha"][layer], r["prunable_mag"][layer]) for r in rs if r["batch_size"] == b
                       and r["alpha"][layer] is not None]
                if pts:
                    x, y = zip(*pts)
                    ax.scatter(x, y, marker=MARKERS.get(b, "^"), s=16, color=f"C{layer}",
                               label=f"layer {layer + 1}" if b == min(bs) else None)
        ax.set(xlabel=r"tail index $\hat\alpha$ of the layer", ylabel="fraction prunable at 10 % error")
        panel(ax, "ef"[j], f"{TITLES[d]}: prunable fraction vs tail index")
        _batch_legend(ax, bs, loc="upper right", ncol=2)
    fig.tight_layout()
    return fig


def draw_curves(rows: list[dict]):
    import matplotlib.pyplot as plt

    from simulations.pruning import plots

    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6))
    for j, (ax, d) in enumerate(zip(axes, DATASETS)):
        plots.plot_curves(ax, rows, d)
        by: dict = {}
        for r in rows:
            if r["dataset"] == d:
                by.setdefault((r["lr"], r["batch_size"]), []).append(r)
        (lr, b), grp = max(by.items(), key=lambda kv: len(kv[1]))  # the group plot_curves draws
        for line in ax.get_lines():
            line.set_markersize(3)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, [METHODS.get(lab, lab) for lab in labels], fontsize=7)
        ax.set_ylabel("test accuracy (no retraining)")
        panel(ax, "ab"[j], f"{TITLES[d]}, η = {lr:g}, b = {b} ({len(grp)} seeds)")
    fig.tight_layout()
    return fig


def make(outdir: Path, reduced: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    store = store_path(outdir, reduced)
    if reduced:
        from simulations.pruning import run_reproduction

        require_datasets(DATASETS, "fig_pruning")
        run_reproduction(store, quick=True, workers=0, datasets=list(DATASETS))
    rows = read_rows(store)
    paths = finish(draw_main(rows), outdir, "fig_pruning", reduced, dpi=150)
    return paths + finish(draw_curves(rows), outdir, "fig_pruning_curves", reduced, dpi=150)
