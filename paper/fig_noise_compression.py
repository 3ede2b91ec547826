"""Figure + table: noise-injected SGD on MLPs (MNIST, Fashion-MNIST) vs plain SGD, IMP and LR rewinding.

Runs the sweep of :func:`simulations.noise_compression.default_sweeps` (experiment
``noise_compression.mlp``) into a results store (``$TAILCOMP_STORE``; else full mode uses
the committed :data:`STORE`, ``paper/data/noise_compression.sqlite``, and quick mode
``<outdir>/noise_compression_quick.sqlite``; finished runs are reused), then draws test
accuracy vs sparsity per method (one-shot magnitude and node pruning after plain or
noise-injected SGD, IMP with weight rewinding, LR rewinding — all at the same total SGD
steps) and writes the comparison table (markdown, mean ± sd over seeds) next to the figure.
Quick mode: the synthetic mixture (or a 600-image MNIST subset when the files exist), 1 seed.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from paper.registry import save_figure

FIGURES = ["fig_noise_compression"]
#: the committed results store of the full-mode sweep
STORE = Path(__file__).resolve().parent / "data" / "noise_compression.sqlite"


def run(store_path: Path, quick: bool) -> list[dict]:
    """Run (or resume) the sweep into ``store_path`` and return :func:`comparison_table`'s rows."""
    from simulations.noise_compression import EXPERIMENT, comparison_table, default_sweeps
    from simulations.sweep import ResultsStore, run_sweep

    for sw in default_sweeps(quick):
        run_sweep(EXPERIMENT, sw["configs"], store_path, seeds=sw["seeds"], workers=0, progress=False,
                  name="fig_noise_compression")
    with ResultsStore(store_path) as st:
        return comparison_table(st)


def make(outdir: Path, quick: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simulations.noise_compression import table_markdown

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    default = outdir / "noise_compression_quick.sqlite" if quick else STORE
    store = Path(os.environ.get("TAILCOMP_STORE", default))
    rows = run(store, quick)
    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(len(datasets), 2, figsize=(11, 3.8 * len(datasets)), squeeze=False)
    labels = sorted({(r["sigma"] or 0.0, r["alpha"] or 0.0) for r in rows})
    cmap = plt.get_cmap("tab10")
    color = {lab: cmap(i % 10) for i, lab in enumerate(labels)}
    for i, ds in enumerate(datasets):
        for j, (key, title) in enumerate((("oneshot_magnitude", "one-shot global magnitude"),
                                          ("oneshot_node", "one-shot node pruning (fraction of neurons)"))):
            ax = axes[i, j]
            for r in rows:
                if r["dataset"] != ds or not r[key]:
                    continue
                sp = np.array(r["sparsities"])
                m = np.array([v[0] for v in r[key]])
                s = np.array([v[1] for v in r[key]])
                lab = "SGD" if not r["sigma"] else f"α={r['alpha']:g}, σ={r['sigma']:g}"
                ls = "-" if not r["sigma"] else "--"
                ax.errorbar(sp, 100 * m, yerr=100 * s, fmt="o" + ls, capsize=2,
                            color=color[(r["sigma"] or 0.0, r["alpha"] or 0.0)], label=f"{lab} (dense {100 * r['dense_acc'][0]:.1f}%)")
                if j == 0:
                    for name, mk, col in (("imp_iteration", "IMP, weight rewinding", "k"),
                                          ("imp_lr", "LR rewinding", "0.5")):
                        if r.get(name):
                            ax.errorbar(sp, [100 * v[0] for v in r[name]], yerr=[100 * v[1] for v in r[name]],
                                        fmt="s-", lw=2, capsize=2, color=col, label=mk)
            ax.set(xlabel="sparsity", ylabel="test accuracy (%)", title=f"{ds}: {title}")
            ax.legend(fontsize=6)
    fig.tight_layout()
    paths = save_figure(fig, outdir, "fig_noise_compression", dpi=120) + [outdir / "table_noise_compression.md"]
    paths[2].write_text(table_markdown(rows) + "\n")
    return paths
