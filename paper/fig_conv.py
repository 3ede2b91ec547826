"""LeNet-5 trained with and without injected noise, then pruned one-shot (MNIST, Fashion-MNIST), from the results store.

``fig_conv``: one column per data set; (a, b) test accuracy against the weight sparsity of one-shot
global magnitude pruning, (c, d) against the fraction of filters removed per layer (ℓ1 norm), for
plain SGD and per-filter noise, mean ± sd over the seeds, no retraining; the dense accuracies as
dashed lines. Writes ``table_conv.{md,tex}`` and values for the text.

Default: reads :data:`STORE` (``paper/data/conv.sqlite``, read-only; env ``TAILCOMP_CONV_STORE``
overrides), written by ``python -m simulations.pruning.conv_sweep`` (about 20 minutes of one core).
``--reduced`` runs the quick sweep (512 images, one epoch) into ``outdir/conv_reduced.sqlite`` and
stamps the outputs.
"""
from __future__ import annotations

from pathlib import Path

from paper.figstyle import finish, latex_table, panel, require_datasets, table_stamp, write_values

FIGURES = ["fig_conv"]
SOURCE = "results store paper/data/conv.sqlite (read-only), about 2 s"
STORE = Path(__file__).resolve().parent / "data" / "conv.sqlite"
DATASETS = ("mnist", "fashion_mnist")
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
COLOURS = ("k", "C0", "C3", "C2", "C1")


def store_path(outdir: Path, reduced: bool) -> Path:
    from paper.figdata import store_path as _store_path

    return _store_path(STORE, "TAILCOMP_CONV_STORE", outdir, reduced)


def read_table(store: Path) -> list[dict]:
    from paper.figdata import read_store
    from simulations.pruning.conv_sweep import CONV, conv_table

    return read_store(store, conv_table, experiment=CONV, datasets=DATASETS,
                      command=f"python -m simulations.pruning.conv_sweep --store {store}")


def draw(tab: list[dict]):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(8.6, 6.6))
    for j, d in enumerate(DATASETS):
        rs = [r for r in tab if r["dataset"] == d]
        for i, (key, xlabel, title) in enumerate((("magnitude", "weight sparsity, global magnitude",
                                                   "global magnitude pruning"),
                                                  ("filters", "filters removed per layer, ℓ1 order",
                                                   "filters removed"))):
            ax = axes[i, j]
            for k, r in enumerate(rs):
                xs = list(r[key])
                ax.errorbar([100 * x for x in xs], [100 * r[key][x] for x in xs],
                            yerr=[100 * r[key + "_sd"][x] for x in xs], color=COLOURS[k % len(COLOURS)],
                            marker="os^Dv"[k % 5], ms=4, lw=1, capsize=2, label=r["label"] if i == 0 else None)
                ax.axhline(100 * r["dense"], color=COLOURS[k % len(COLOURS)], ls="--", lw=0.7)
            ax.set_xlabel(xlabel + " (%)")
            ax.set_ylabel("test accuracy (%)")
            n = max(r["n"] for r in rs)
            panel(ax, "abcd"[2 * i + j], f"{TITLES[d]}: {title} ({n} seeds)")
    axes[0, 0].plot([], [], "k--", lw=0.7, label="dense")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def write_table(tab: list[dict], outdir: Path, reduced: bool) -> list[Path]:
    """``table_conv.{md,tex}`` and ``fig_conv_values.json``."""
    from simulations.pruning.conv_sweep import format_conv_table

    outdir = Path(outdir)
    (outdir / "table_conv.md").write_text(table_stamp(reduced) + format_conv_table(tab))
    sps = list(tab[0]["magnitude"])
    frs = list(tab[0]["filters"])
    header = (["training", "dense"] + [f"{100 * s:g}\\,\\%" for s in sps] + [f"$-${100 * f:g}\\,\\%" for f in frs]
              + ["prunable"])
    body, sections, values = [], {}, {}
    for d in DATASETS:
        sections[len(body)] = TITLES[d]
        for k, r in enumerate(t for t in tab if t["dataset"] == d):
            label = r["label"].replace("σ", "$\\sigma$").replace("%", "\\%")
            body.append([label, f"{100 * r['dense']:.2f}"] + [f"{100 * r['magnitude'][s]:.1f}" for s in sps]
                        + [f"{100 * r['filters'][f]:.1f}" for f in frs] + [f"{r['prunable']:.3f}"])
            tag = ("Mnist" if d == "mnist" else "Fashion") + "V" + str(k)
            values[f"convDense{tag}"] = f"{100 * r['dense']:.2f}"
            for s in sps:
                values[f"convMag{int(round(100 * s))}{tag}"] = f"{100 * r['magnitude'][s]:.1f}"
            for f in frs:
                values[f"convFilt{int(round(100 * f))}{tag}"] = f"{100 * r['filters'][f]:.1f}"
    (outdir / "table_conv.tex").write_text(latex_table(header, body, "l" + "r" * (len(header) - 1), reduced,
                                                       sections=sections))
    write_values(outdir, "fig_conv", values, reduced)
    return [outdir / "table_conv.md", outdir / "table_conv.tex"]


def make(outdir: Path, reduced: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    store = store_path(outdir, reduced)
    if reduced:
        from simulations.pruning.conv_sweep import run_conv

        require_datasets(DATASETS, "fig_conv")
        run_conv(store, quick=True, workers=0, datasets=list(DATASETS))
    tab = read_table(store)
    return finish(draw(tab), outdir, "fig_conv", reduced, dpi=150) + write_table(tab, outdir, reduced)

