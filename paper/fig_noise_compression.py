"""Figure + table: noise-injected SGD on MLPs (MNIST, Fashion-MNIST) vs plain SGD, IMP and LR rewinding.

Default: reads the committed results store :data:`STORE` (``paper/data/noise_compression.sqlite``,
read-only; ``$TAILCOMP_STORE`` overrides) of the sweep of
:func:`simulations.noise_compression.default_sweeps` (experiment ``noise_compression.mlp``,
784-300-100-10, 5000 images, 1000 SGD steps, 3 seeds), and draws test accuracy vs sparsity
per method: one-shot global magnitude pruning and node pruning after plain or noise-injected
SGD, IMP with weight rewinding and LR rewinding, all at the same total SGD steps; mean ± sd
over seeds. Writes the comparison table (markdown) next to the figure.
``--reduced``: runs the small sweep on MNIST (files required) into
``<outdir>/noise_compression_reduced.sqlite`` and stamps figure and table.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from paper.figstyle import finish, panel, require_datasets, table_stamp

FIGURES = ["fig_noise_compression"]
SOURCE = "results store paper/data/noise_compression.sqlite (read-only), about 5 s"
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
#: the committed results store of the full-mode sweep
STORE = Path(__file__).resolve().parent / "data" / "noise_compression.sqlite"


def run_reduced(store_path: Path) -> None:
    """Run (or resume) the reduced sweep (MNIST, small MLP) into ``store_path``."""
    from simulations.noise_compression import EXPERIMENT, default_sweeps
    from simulations.sweep import run_sweep

    require_datasets(["mnist"], "fig_noise_compression")
    for sw in default_sweeps(True):
        if any(c["dataset"] != "mnist" for c in sw["configs"]):
            raise RuntimeError("the reduced sweep must train on MNIST")
        run_sweep(EXPERIMENT, sw["configs"], store_path, seeds=sw["seeds"], workers=0, progress=False,
                  name="fig_noise_compression")


def read_rows(store_path: Path) -> list[dict]:
    """:func:`simulations.noise_compression.comparison_table` of the store, opened read-only."""
    from paper.figdata import read_store
    from simulations.noise_compression import EXPERIMENT, comparison_table
    from simulations.sweep import ResultsStore

    def table(path):
        with ResultsStore(path, create=False, readonly=True) as st:
            return comparison_table(st)

    return read_store(store_path, table, experiment=EXPERIMENT,
                      command="run_sweep over simulations.noise_compression.default_sweeps(quick=False)")


def make(outdir: Path, reduced: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simulations.noise_compression import table_markdown

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if reduced:
        store = outdir / "noise_compression_reduced.sqlite"
        run_reduced(store)
    else:
        store = Path(os.environ.get("TAILCOMP_STORE", STORE))
    rows = read_rows(store)
    datasets = [d for d in TITLES if any(r["dataset"] == d for r in rows)]
    fig, axes = plt.subplots(len(datasets), 2, figsize=(8.6, 3.9 * len(datasets)), squeeze=False)
    labels = sorted({(r["sigma"] or 0.0, r["alpha"] or 0.0) for r in rows})
    cmap = plt.get_cmap("tab10")
    color = {lab: cmap(i % 10) for i, lab in enumerate(labels)}
    letters = iter("abcdefgh")
    for i, ds in enumerate(datasets):
        for j, (key, title) in enumerate((("oneshot_magnitude", "one-shot global magnitude, IMP, LR rewinding"),
                                          ("oneshot_node", "one-shot node pruning"))):
            ax = axes[i, j]
            for r in rows:
                if r["dataset"] != ds or not r[key]:
                    continue
                sp = 100 * np.array(r["sparsities"])
                m = np.array([v[0] for v in r[key]])
                s = np.array([v[1] for v in r[key]])
                lab = "plain SGD" if not r["sigma"] else f"noise α = {r['alpha']:g}, σ = {r['sigma']:g}"
                ls = "-" if not r["sigma"] else "--"
                ax.errorbar(sp, 100 * m, yerr=100 * s, fmt="o" + ls, ms=4, capsize=2,
                            color=color[(r["sigma"] or 0.0, r["alpha"] or 0.0)],
                            label=f"{lab} (dense {100 * r['dense_acc'][0]:.1f} %)")
                if j == 0:
                    for name, mk, col in (("imp_iteration", "IMP, weight rewinding", "k"),
                                          ("imp_lr", "LR rewinding", "0.5")):
                        if r.get(name):
                            ax.errorbar(sp, [100 * v[0] for v in r[name]], yerr=[100 * v[1] for v in r[name]],
                                        fmt="s-", ms=4, lw=2, capsize=2, color=col, label=mk)
            xlab = "sparsity: weights removed (%)" if j == 0 else "neurons removed (%)"
            ax.set(xlabel=xlab, ylabel="test accuracy (%)", ylim=(0, 100))
            panel(ax, next(letters), f"{TITLES.get(ds, ds)}: {title}")
            ax.legend(fontsize=6.5, loc="lower left" if j == 0 else "upper right")
    fig.tight_layout()
    paths = finish(fig, outdir, "fig_noise_compression", reduced, dpi=150) + [outdir / "table_noise_compression.md"]
    paths[-1].write_text(table_stamp(reduced) + table_markdown(rows) + "\n")
    return paths
