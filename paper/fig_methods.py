"""Pruning methods compared at equal settings on LeNet-300-100 (MNIST, Fashion-MNIST), from the results store.

``fig_methods``: one column per data set; (a, b) test accuracy against the compression ratio
(total over remaining parameters, biases counted dense) and (c, d) against the theoretical
FLOPs speed-up of the pruned network, for every method of the comparison, mean ± sd over the
seeds; the dense network's accuracy dashed. Colour = family (after training + fine-tune, at
initialization, during training, iterative), marker = method. Writes ``table_methods.{md,tex}``
(accuracy per sparsity, the compression / speed-up at the highest one, and the compute spent:
steps and MACs × one dense training), ``table_noise_versus.{md,tex}`` (noise-injected SGD and its
variants, experiment ``noise_compression.versus``, beside the strongest baselines; store
``paper/data/noise_versus.sqlite``, env ``TAILCOMP_NOISE_VERSUS_STORE``) and values for the text.

``fig_methods_lenet5``: the same panels for LeNet-5 (experiment ``pruning.compare_conv``, store
``paper/data/comparison_lenet5.sqlite``, env ``TAILCOMP_COMPARISON_LENET5_STORE``), and
``table_methods_lenet5.{md,tex}``: its methods and, below them, the noise-injected variants on LeNet-5
(experiment ``noise_compression.versus_conv``, store ``paper/data/noise_versus_lenet5.sqlite``, env
``TAILCOMP_NOISE_VERSUS_LENET5_STORE``), with values for the text (keys ``lenet…``).

Default: reads :data:`STORE` (``paper/data/comparison.sqlite``, read-only; env
``TAILCOMP_COMPARISON_STORE`` overrides), written by ``python -m simulations.pruning.comparison_study``
(about an hour of one core). ``--reduced`` runs the quick sweep (784-32-16-10 on 600 images, seconds per
method) into ``outdir/comparison_reduced.sqlite`` and stamps the outputs.
"""
from __future__ import annotations

import math
from pathlib import Path

from paper.figstyle import finish, latex_table, panel, require_datasets, table_stamp, write_values

FIGURES = ["fig_methods", "fig_methods_lenet5"]
SOURCE = ("results stores paper/data/comparison.sqlite, noise_versus.sqlite, comparison_lenet5.sqlite and "
          "noise_versus_lenet5.sqlite (read-only), about 8 s")
#: the committed results store of the full-size comparison
STORE = Path(__file__).resolve().parent / "data" / "comparison.sqlite"
#: the committed store of noise-injected SGD in the same setting (experiment ``noise_compression.versus``)
NOISE_STORE = Path(__file__).resolve().parent / "data" / "noise_versus.sqlite"
#: the same two sweeps on LeNet-5 (experiments ``pruning.compare_conv`` and ``noise_compression.versus_conv``)
CONV_STORE = Path(__file__).resolve().parent / "data" / "comparison_lenet5.sqlite"
CONV_NOISE_STORE = Path(__file__).resolve().parent / "data" / "noise_versus_lenet5.sqlite"
CONV_MODEL = "lenet5"
DATASETS = ("mnist", "fashion_mnist")
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
#: family → colour
COLOURS = {"after": "C0", "init": "C2", "during": "C1", "imp": "C3"}
FAMILY_LABELS = {"after": "after training + FT", "init": "at initialization", "during": "during training",
                 "imp": "iterative (IMP)"}
MARKERS = "osD^v<>p*hX"


def store_path(outdir: Path, reduced: bool, conv: bool = False) -> Path:
    """The store the figures read: a fresh reduced-run store in ``outdir``, else the committed one
    (``conv``: the LeNet-5 comparison's)."""
    from paper.figdata import store_path as _store_path

    if conv:
        return _store_path(CONV_STORE, "TAILCOMP_COMPARISON_LENET5_STORE", outdir, reduced)
    return _store_path(STORE, "TAILCOMP_COMPARISON_STORE", outdir, reduced)


def noise_store_path(outdir: Path, reduced: bool, conv: bool = False) -> Path:
    from paper.figdata import store_path as _store_path

    if conv:
        return _store_path(CONV_NOISE_STORE, "TAILCOMP_NOISE_VERSUS_LENET5_STORE", outdir, reduced)
    return _store_path(NOISE_STORE, "TAILCOMP_NOISE_VERSUS_STORE", outdir, reduced)


def read_noise_table(store: Path, conv: bool = False) -> list[dict]:
    from paper.figdata import read_store
    from simulations.noise_compression.versus import VERSUS, VERSUS_CONV, versus_table

    model = f" --model {CONV_MODEL}" if conv else ""
    return read_store(store, versus_table, experiment=VERSUS_CONV if conv else VERSUS, datasets=DATASETS,
                      command=f"python -m simulations.noise_compression.versus{model} --store {store}")


def read_table(store: Path, conv: bool = False) -> list[dict]:
    """The comparison's rows (``conv``: those of ``pruning.compare_conv``, LeNet-5)."""
    from paper.figdata import read_store
    from simulations.pruning.comparison_study import CONV_EXPERIMENT, EXPERIMENT, comparison_table

    experiment = CONV_EXPERIMENT if conv else EXPERIMENT
    model = f" --model {CONV_MODEL}" if conv else ""
    return read_store(store, lambda st: comparison_table(st, experiment), experiment=experiment, datasets=DATASETS,
                      command=f"python -m simulations.pruning.comparison_study{model} --store {store}")


def draw(tab: list[dict], net: str = ""):
    """Accuracy against compression (top) and FLOPs speed-up (bottom), one column per data set
    (``net``: a network name put before the data set in the panel titles)."""
    import matplotlib.pyplot as plt

    from simulations.pruning.comparison import FAMILIES
    from simulations.pruning.comparison_study import METHOD_LABELS

    fig, axes = plt.subplots(2, 2, figsize=(9.0, 8.2))
    for j, d in enumerate(DATASETS):
        rs = [r for r in tab if r["dataset"] == d]
        dense = next((r for r in rs if r["method"] == "dense"), None)
        seen: dict[str, int] = {}
        for i, (key, xlabel, short) in enumerate((("compression", "compression ratio", "compression"),
                                                  ("speedup", "theoretical FLOPs speed-up", "FLOPs speed-up"))):
            ax = axes[i, j]
            for r in rs:
                if r["method"] == "dense":
                    continue
                fam = FAMILIES[r["method"]]
                k = seen.setdefault(r["method"], sum(1 for m in seen if FAMILIES[m] == fam))
                ax.errorbar(r[key], [100 * a for a in r["acc"]],
                            yerr=[100 * s if math.isfinite(s) else 0.0 for s in r["acc_sd"]],
                            color=COLOURS[fam], marker=MARKERS[k % len(MARKERS)], ms=4, lw=1, capsize=2,
                            label=METHOD_LABELS[r["method"]] if i == 0 else None)
            if dense is not None:
                ax.axhline(100 * dense["acc"][0], color="k", ls="--", lw=0.8, label="dense" if i == 0 else None)
            ax.set_xscale("log", base=2)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("test accuracy (%)")
            lo = min(100 * min(a for a in r["acc"] if a is not None) for r in rs)
            ylow = max(lo - 2, 100 * (dense["acc"][0] if dense else 1) - 30)
            top = max(100 * (a + (sd if math.isfinite(sd) else 0.0)) for r in rs for a, sd in zip(r["acc"], r["acc_sd"])
                      if a is not None)
            ax.set_ylim(ylow, min(top + 1, 100.5))      # accuracy stops at 100 %; a mean + sd beyond is cut
            below: dict[float, int] = {}
            for r in rs:  # points below the axis: their value written at the bottom edge, stacked at one x
                for x, a in zip(r[key], r["acc"]):
                    if a is not None and 100 * a < ylow:
                        slot = round(math.log2(x), 1)
                        below[slot] = k = below.get(slot, -1) + 1
                        ax.annotate(f"{100 * a:.0f} ↓", (x, ylow), xytext=(0, 3 + 9 * k), textcoords="offset points",
                                    ha="center", fontsize=7, color=COLOURS[FAMILIES[r["method"]]])
            n = max(r["n_seeds"] for r in rs)
            title = f"{net + ', ' if net else ''}{TITLES[d]}: accuracy vs {short} ({n} seeds)"
            panel(ax, "abcd"[2 * i + j], title if len(title) <= 52 else title.replace(": ", ":\n", 1))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


def _tex_rows(rows: list[dict], grid: list) -> list[list[str]]:
    from simulations.pruning.comparison_study import METHOD_LABELS, ratio_span

    body = []
    for r in rows:
        acc = [f"{100 * a:.1f}" if a is not None and math.isfinite(a) else "--" for a in r["acc"]]
        acc = (acc + ["--"] * len(grid))[:len(grid)] if r["method"] != "dense" else acc + [""] * (len(grid) - 1)
        label = r.get("label") or METHOD_LABELS[r["method"]]
        label = label.replace("%", "\\%").replace("σ", "$\\sigma$").replace("α", "$\\alpha$")
        body.append([label] + acc + [ratio_span(r.get("relative_steps")).replace("–", "--"),
                                     ratio_span(r.get("relative_compute")).replace("–", "--")])
    return body


#: the baselines shown beside the noisy methods
NOISE_BASELINES = ("dense", "magnitude", "gmp", "rigl", "imp_lr", "imp_lr_budget")


def noise_rows(noise: list[dict], tab: list[dict]) -> list[dict]:
    """Per data set: the baselines of :data:`NOISE_BASELINES` (rows of ``tab``), then the noisy methods."""
    return [r for d in DATASETS for r in [*(r for r in tab if r["dataset"] == d and r["method"] in NOISE_BASELINES),
                                          *(r for r in noise if r["dataset"] == d)]]


def _write_md_tex(rows: list[dict], outdir: Path, stem: str, reduced: bool) -> list[Path]:
    """``stem.md`` (the comparison's markdown table) and ``stem.tex`` (one section per data set)."""
    from simulations.pruning.comparison_study import format_comparison_table

    outdir = Path(outdir)
    (outdir / f"{stem}.md").write_text(table_stamp(reduced) + format_comparison_table(rows))
    grid = next(r["targets"] for r in rows if r["method"] not in ("dense", "nm"))
    header = ["method"] + [f"{100 * s:g}\\,\\%" for s in grid] + ["steps", "MACs"]
    body, sections = [], {}
    for d in DATASETS:
        sections[len(body)] = TITLES[d]
        body += _tex_rows([r for r in rows if r["dataset"] == d], grid)
    (outdir / f"{stem}.tex").write_text(latex_table(header, body, "l" + "r" * (len(grid) + 2), reduced,
                                                    sections=sections))
    return [outdir / f"{stem}.md", outdir / f"{stem}.tex"]


def _key(d: str) -> str:
    return "Mnist" if d == "mnist" else "Fashion"


def method_values(tab: list[dict], prefix: str) -> dict[str, str]:
    """Values for the text from comparison rows: ``<prefix>Dense<D>``, the best method at the highest sparsity
    (``<prefix>Best<D>``, ``<prefix>BestAcc<D>``, ``<prefix>SparsityMax<D>``) and per method its accuracy there
    (``<prefix><Method><D>``), steps and MACs (``…Steps<D>``, ``…Macs<D>``); D = Mnist or Fashion."""
    from simulations.pruning.comparison_study import METHOD_LABELS

    values = {}
    for d in DATASETS:
        key = _key(d)
        rs = [r for r in tab if r["dataset"] == d and r["method"] not in ("dense", "nm")]
        best = max(rs, key=lambda r: r["acc"][-1] if r["acc"][-1] is not None else -1)
        dense = next(r for r in tab if r["dataset"] == d and r["method"] == "dense")
        values[f"{prefix}Dense{key}"] = f"{100 * dense['acc'][0]:.1f}"
        values[f"{prefix}Best{key}"] = METHOD_LABELS[best["method"]]
        values[f"{prefix}BestAcc{key}"] = f"{100 * best['acc'][-1]:.1f}"
        values[f"{prefix}SparsityMax{key}"] = f"{100 * best['targets'][-1]:g}"
        for r in (r for r in tab if r["dataset"] == d and r["method"] != "dense"):
            name = "".join(w.capitalize() for w in r["method"].split("_"))
            a = r["acc"][-1]
            values[f"{prefix}{name}{key}"] = f"{100 * a:.1f}" if a is not None and math.isfinite(a) else "--"
            values[f"{prefix}{name}Steps{key}"] = f"{r['relative_steps'][-1]:.2f}"
            values[f"{prefix}{name}Macs{key}"] = f"{r['relative_compute'][-1]:.2f}"
    return values


def noise_values(noise: list[dict], prefix: str) -> dict[str, str]:
    """Values for the text from noise-injection rows: the best σ of ``noise`` at the highest sparsity
    (``<prefix>BestSigma<D>``, ``<prefix>BestAcc<D>``) and every variant's accuracy at every sparsity
    (``<prefix><Method><σ>S<sparsity %><D>``, σ with ``.`` written ``p``) and dense (``…Dense<D>``)."""
    values = {}
    for d in DATASETS:
        key = _key(d)
        rs = [r for r in noise if r["dataset"] == d and r["method"] == "noise"]
        if not rs:
            continue
        best = max(rs, key=lambda r: r["acc"][-1] if r["acc"][-1] is not None else -1)
        values[f"{prefix}BestSigma{key}"] = f"{best['sigma']:g}"
        values[f"{prefix}BestAcc{key}"] = f"{100 * best['acc'][-1]:.1f}"
        for r in (r for r in noise if r["dataset"] == d):
            sigma = "" if r["method"] == "plain_no_ft" else f"{r['sigma']:g}"
            tag = "".join(w.capitalize() for w in r["method"].split("_")) + sigma.replace(".", "p").replace("-", "m")
            for j, t in enumerate(r["targets"]):
                values[f"{prefix}{tag}S{int(round(100 * t))}{key}"] = f"{100 * r['acc'][j]:.1f}"
            values[f"{prefix}{tag}Dense{key}"] = f"{100 * r['dense_acc']:.1f}" if r.get("dense_acc") else "--"
    return values


def write_noise_table(noise: list[dict], tab: list[dict], outdir: Path, reduced: bool) -> list[Path]:
    """``table_noise_versus.{md,tex}``: the noisy variants beside the dense network, one-shot magnitude
    with fine-tuning and the best baselines, and the values for the text."""
    paths = _write_md_tex(noise_rows(noise, tab), outdir, "table_noise_versus", reduced)
    write_values(outdir, "fig_methods_noise", noise_values(noise, "nv"), reduced)
    return paths


def write_table(tab: list[dict], outdir: Path, reduced: bool) -> list[Path]:
    """``table_methods.{md,tex}`` and the values for the text."""
    paths = _write_md_tex(tab, outdir, "table_methods", reduced)
    write_values(outdir, "fig_methods", method_values(tab, "cmp"), reduced)
    return paths


def write_conv_table(tab: list[dict], noise: list[dict], outdir: Path, reduced: bool) -> list[Path]:
    """``table_methods_lenet5.{md,tex}``: every LeNet-5 method, then the noisy variants, per data set; values
    ``lenet…`` (methods) and ``lenetNv…`` (noise) for the text."""
    rows = [r for d in DATASETS for r in [*(r for r in tab if r["dataset"] == d),
                                          *(r for r in noise if r["dataset"] == d)]]
    paths = _write_md_tex(rows, outdir, "table_methods_lenet5", reduced)
    write_values(outdir, "fig_methods_lenet5", {**method_values(tab, "lenet"), **noise_values(noise, "lenetNv")},
                 reduced)
    return paths


def make(outdir: Path, reduced: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if reduced:
        from simulations.noise_compression.versus import run_versus
        from simulations.pruning.comparison_study import run_comparison

        require_datasets(DATASETS, "fig_methods")
        for conv in (False, True):
            model = CONV_MODEL if conv else None
            run_comparison(store_path(outdir, True, conv), quick=True, workers=0, datasets=list(DATASETS), model=model)
            run_versus(noise_store_path(outdir, True, conv), quick=True, workers=0, datasets=list(DATASETS),
                       model=model)
    tab = read_table(store_path(outdir, reduced))
    noise = read_noise_table(noise_store_path(outdir, reduced))
    conv_tab = read_table(store_path(outdir, reduced, True), conv=True)
    conv_noise = read_noise_table(noise_store_path(outdir, reduced, True), conv=True)
    return (finish(draw(tab), outdir, "fig_methods", reduced, dpi=150) + write_table(tab, outdir, reduced)
            + write_noise_table(noise, tab, outdir, reduced)
            + finish(draw(conv_tab, "LeNet-5"), outdir, "fig_methods_lenet5", reduced, dpi=150)
            + write_conv_table(conv_tab, conv_noise, outdir, reduced))
