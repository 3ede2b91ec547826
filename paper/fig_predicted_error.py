"""Figure and table: the pruning error of trained LeNet-300-100 layers predicted by G_2[F](κ), against the actual.

LeNet-300-100 (784-300-100-10 ReLU MLP with biases, PyTorch's default initialisation) trained by plain
SGD (η = 0.1, batch 64, no momentum or weight decay) on MNIST and Fashion-MNIST; for each weight matrix
(biases not pruned) and κ ∈ {0.5, 0.2, 0.1, 0.05, 0.02}, the relative ℓ₂ error of keeping its ⌈κn⌉
largest entries (one-shot magnitude pruning, no retraining) against the Gribonval–Cevher–Davies limit
G_2[F̂](κ) of a law fitted to the layer's entries — normal, generalized Gaussian and Student-t by
maximum likelihood, SαS with α the block-sum tail index (clipped at 2) and the scale matched to the
median — with the finite-n Monte Carlo prediction (mean over 20 vectors of n iid draws of F̂), and
G_2[F_n](κ) of the layer's empirical law (equal to the actual error up to one fractional term,
:mod:`simulations.compressibility.predicted`). Per data set, a row of panels with the errors of each
layer and a row with predicted minus actual (cut at ±0.06).
Computation: :func:`simulations.compressibility.predicted.predicted_vs_actual`; drawing:
:func:`simulations.compressibility.predicted_plots.predicted_figure`.
Writes ``table_predicted_error.{md,tex}`` and values for the text.

Default: draws from :data:`DATA_FILE` (``paper/data/predicted_error.json``), the full-size results
(5 epochs on the 60 000 training images of each data set; about 8 CPU-minutes on a shared core), which
``python -m paper.fig_predicted_error --write-data`` recomputes. ``--reduced``: 5000 images, 2 epochs,
5 finite-n draws, recomputed and stamped.
"""
from __future__ import annotations

from pathlib import Path

from paper import figdata
from paper.figstyle import latex_table, table_stamp, write_values

FIGURES = ["fig_predicted_error"]
SOURCE = "committed data file paper/data/predicted_error.json (trained LeNet-300-100 layers), about 3 s"
#: the committed full-size results (``python -m paper.fig_predicted_error --write-data`` rewrites them)
DATA_FILE = figdata.DATA / "predicted_error.json"
DATASETS = ("mnist", "fashion_mnist")
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
SIZES_NET = (784, 300, 100, 10)
KAPPAS = (0.5, 0.2, 0.1, 0.05, 0.02)
LAWS = ("normal", "gennorm", "student_t", "sas", "empirical")
#: half-range of the predicted − actual panels (SαS's limit 0 at α̂ < 2 lies far below: cut at the frame)
DIFF_LIM = 0.06
TRAIN = {"lr": 0.1, "batch_size": 64}
#: sizes: "full" (the data file), "reduced" (``--reduced``), "test" (a smoke run)
SIZES = {
    "full": {"n_train": 0, "epochs": 5, "finite_n": 20, "datasets": DATASETS},
    "reduced": {"n_train": 5000, "epochs": 2, "finite_n": 5, "datasets": DATASETS},
    "test": {"n_train": 1000, "epochs": 1, "finite_n": 2, "datasets": ("mnist",)},
}


def layer_name(dataset: str, i: int) -> str:
    return f"{TITLES[dataset]}: layer {i + 1} ({SIZES_NET[i]}→{SIZES_NET[i + 1]})"


def compute(size: str, seed: int = 0) -> dict:
    """Train one network per data set at size ``size`` and compare predicted with actual errors per layer."""
    import numpy as np

    from simulations.compressibility.predicted import predicted_vs_actual
    from simulations.nn import SGD, MLPSpec, StopRules, train
    from simulations.pruning.data import load_data

    sz = SIZES[size]
    training, rows = [], []
    for j, d in enumerate(sz["datasets"]):
        data = load_data(d, sz["n_train"], 0)
        res = train(MLPSpec(SIZES_NET, bias=True), data, optimizer=SGD(lr=TRAIN["lr"]),
                    batch_size=TRAIN["batch_size"], stop=StopRules(max_epochs=sz["epochs"]), seed=seed)
        if res.status == "diverged":
            raise RuntimeError(f"training on {d} diverged: {res.reason}")
        training.append({"dataset": d, "status": res.status, "epochs": sz["epochs"], "steps": int(res.steps),
                         "n_train": int(data.X_train.shape[0]), "train_acc": float(res.final["train_acc"]),
                         "test_acc": float(res.final["test_acc"]), **TRAIN})
        ws = [np.array(w, dtype=np.float64) for w in res.params.weights]
        names = [layer_name(d, i) for i in range(len(ws))]
        for r in predicted_vs_actual(ws, KAPPAS, LAWS, 2.0, names=names, finite_n=sz["finite_n"], seed=seed + j):
            rows.append({"dataset": d, **r})
    return {"training": training, "rows": rows, "kappas": list(KAPPAS), "laws": list(LAWS), "size": size}


def draw(data: dict):
    """Rows of panels per data set: the errors of each layer, then predicted minus actual."""
    import matplotlib.pyplot as plt

    from paper.figstyle import panel
    from simulations.compressibility.predicted_plots import layer_params_text, legend_handles, plot_layer

    rows = data["rows"]
    sets = list(dict.fromkeys(r["dataset"] for r in rows))
    layers = {d: list(dict.fromkeys(r["layer"] for r in rows if r["dataset"] == d)) for d in sets}
    ncol = max(len(v) for v in layers.values())
    fig, axes = plt.subplots(2 * len(sets), ncol, figsize=(4.0 * ncol, 3.0 * 2 * len(sets) + 0.6), squeeze=False)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for j, d in enumerate(sets):
        for kind, row in (("error", 2 * j), ("difference", 2 * j + 1)):
            for i, layer in enumerate(layers[d]):
                ax = axes[row, i]
                plot_layer(ax, rows, layer, kind, diff_lim=DIFF_LIM)
                n = next(r["n"] for r in rows if r["layer"] == layer)
                what = f"(n = {n})" if kind == "error" else "predicted − actual"
                panel(ax, next(letters), f"{layer} {what}", fontsize=8)
                if kind == "error":
                    ax.text(0.97, 0.95, layer_params_text(rows, layer), transform=ax.transAxes, ha="right",
                            va="top", fontsize=7)
    handles = legend_handles(rows)
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, 0.7 / (6.0 * len(sets) + 0.6), 1, 1))
    return fig


def tables(data: dict, outdir: Path, reduced: bool) -> list[Path]:
    """``table_predicted_error.{md,tex}`` (predicted / actual per layer, law and κ) and the values for the text."""
    from simulations.compressibility.predicted import format_table

    rows = data["rows"]
    md = table_stamp(reduced) + format_table(rows)
    md += "\n" + "\n".join(f"- {TITLES[t['dataset']]}: {t['epochs']} epochs of SGD (η = {t['lr']:g}, b = "
                           f"{t['batch_size']}) on {t['n_train']} images, test accuracy {100 * t['test_acc']:.2f} %"
                           for t in data["training"]) + "\n"
    (outdir / "table_predicted_error.md").write_text(md)
    law_tex = {"normal": "normal", "gennorm": "gen.\\ Gaussian", "student_t": "Student-$t$", "sas": "S$\\alpha$S",
               "empirical": "empirical"}
    kappas = sorted({r["kappa"] for r in rows}, reverse=True)
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["layer"], r["law"]), {})[r["kappa"]] = r
    body, sections, vals = [], {}, {}
    last_layer = None
    for (layer, law), by_k in groups.items():
        if layer != last_layer:
            sections[len(body)] = layer.replace("→", "$\\to$")
            last_layer = layer
            body.append(["actual", "", *[f"{by_k[k]['actual']:.3f}" for k in kappas]])
        r0 = by_k[kappas[0]]
        prm = {"gennorm": f"$\\beta={r0['params'].get('beta', 0):.2f}$", "student_t": f"$\\nu={r0['params'].get('nu', 0):.3g}$",
               "sas": f"$\\alpha={r0['params'].get('alpha', 0):.2f}$"}.get(law, "")
        cells = []
        for k in kappas:
            r = by_k[k]
            cells.append(f"{r['predicted']:.3f}" + ("" if r["predicted_n"] is None else f" ({r['predicted_n']:.3f})"))
        body.append([law_tex[law], prm, *cells])
    for d in {r["dataset"] for r in rows}:
        for law in {r["law"] for r in rows}:
            diffs = [abs(r["diff"]) for r in rows if r["dataset"] == d and r["law"] == law]
            vals[f"maxdiff{d.replace('_', '')}{law.replace('_', '')}"] = f"{max(diffs):.3f}"
    for t in data["training"]:
        vals[f"testacc{t['dataset'].replace('_', '')}"] = f"{100 * t['test_acc']:.2f}"
    header = ["law", "fit", *[f"$\\kappa={k:g}$" for k in kappas]]
    (outdir / "table_predicted_error.tex").write_text(
        latex_table(header, body, "ll" + "r" * len(kappas), reduced, sections=sections))
    return [outdir / "table_predicted_error.md", outdir / "table_predicted_error.tex",
            write_values(outdir, "fig_predicted_error", vals, reduced)]


def make(outdir: Path, reduced: bool) -> list[Path]:
    return figdata.make_from_data(outdir, reduced, "fig_predicted_error", DATA_FILE, compute, draw, tables, DATASETS)


def main(argv=None) -> int:
    return figdata.write_data_main(argv, "fig_predicted_error", DATA_FILE, compute, SIZES["full"])


if __name__ == "__main__":
    raise SystemExit(main())
