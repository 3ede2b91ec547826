"""Plots of the pruning study, drawn from results-store rows (shared by notebook 04 and ``paper/fig_pruning.py``).

Each function draws on a matplotlib ``Axes`` from the rows of ``pruning.heavy_tail``
(a store path, an open store or row dicts, read by
:func:`simulations.pruning.tables.heavy_tail_rows`) and returns the axes. The
quantities are those of Barsbey, Sefidgaran, Erdogdu, Richard & Şimşekli (NeurIPS
2021, §5): the tail index α̂ per layer against η/b, test accuracy after one-shot
pruning against the pruning ratio, the prunable fraction at 10 % relative error
against α̂, and accuracy against the compression ratio (ShrinkBench-style curves,
Blalock et al., MLSys 2020).
"""
from __future__ import annotations

import numpy as np

from simulations.pruning.study import CURVE_METHODS
from simulations.pruning.tables import LEGACY_METHODS, heavy_tail_rows

__all__ = ["plot_alpha_vs_ratio", "plot_accuracy_vs_ratio", "plot_prunable_vs_alpha", "plot_curves", "LABELS",
           "MARKERS", "eta_ticks", "batch_legend"]

#: display names of the one-shot methods
LABELS = {"magnitude_layer": "magnitude (per layer)", "magnitude_global": "magnitude (global)"}
#: marker of each batch size of the η/b grid (any other b: a triangle)
MARKERS = {50: "o", 100: "s"}


def eta_ticks(ax, values) -> None:
    """A log η/b axis with one labelled tick per grid value (in units of 10⁻³)."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    v = sorted(set(values))
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(v))
    ax.set_xticklabels([f"{x * 1e3:g}" for x in v], fontsize=7)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(r"$\eta/b$ ($\times 10^{-3}$)")


def batch_legend(ax, batch_sizes, **kw) -> None:
    """The axes' legend plus one grey marker entry per batch size (the marker code of the plots)."""
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.4", marker=MARKERS.get(b, "^"), ls="", label=f"b = {b}")
                for b in sorted(batch_sizes)]
    kw.setdefault("fontsize", 7)
    ax.legend(handles=handles, **kw)


def _seed0(rows, dataset):
    return [r for r in heavy_tail_rows(rows) if (dataset is None or r["dataset"] == dataset) and r["seed"] == 0]


def _colorbar(ax, values):
    """Colours on a log scale of η/b (viridis), one per value, and a colour bar on ``ax``."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    v = np.asarray(values, float)
    norm = LogNorm(vmin=v.min(), vmax=v.max() if v.max() > v.min() else v.min() * 1.0001)
    cmap = plt.get_cmap("viridis")
    plt.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="η / b")
    return [cmap(norm(x)) for x in v]


def plot_alpha_vs_ratio(ax, rows, dataset: str):
    """α̂ per layer against η/b (colour = layer, marker = batch size; see :data:`MARKERS`)."""
    rs = _seed0(rows, dataset)
    if not rs:
        return ax
    bs = {r["batch_size"] for r in rs}
    n_layers = len(rs[0]["alpha"])
    for l in range(n_layers):
        for b in sorted(bs):
            pts = [(r["eta_over_b"], r["alpha"][l]) for r in rs if r["alpha"][l] is not None and r["batch_size"] == b]
            if pts:
                x, y = zip(*pts)
                # a small vertical offset per layer keeps lines that sit at α̂ = 2 all visible
                ax.plot(x, np.array(y) + 0.012 * (l - (n_layers - 1) / 2), marker=MARKERS.get(b, "^"), ms=4,
                        ls=("-", "--", "-.", ":")[l % 4], color=f"C{l}", label=f"layer {l + 1}" if b == min(bs) else None)
    eta_ticks(ax, [r["eta_over_b"] for r in rs])
    ax.set_ylabel("tail index α̂ (entries)")
    ax.set_title(f"{dataset}: α̂ per layer", fontsize=9)
    batch_legend(ax, bs, loc="lower left", ncol=2)
    return ax


def plot_accuracy_vs_ratio(ax, rows, dataset: str, method: str = "magnitude_layer"):
    """Test accuracy after one-shot pruning vs pruning ratio, one line per run coloured by η/b."""
    method = LEGACY_METHODS.get(method, method)
    rs = _seed0(rows, dataset)
    if not rs:
        return ax
    for r, c in zip(rs, _colorbar(ax, [r["eta_over_b"] for r in rs])):  # ratio 0 = the unpruned network
        ax.plot([0.0] + list(r["ratios"]), [r["test_acc"]] + list(r[f"acc_{method}"]),
                marker=MARKERS.get(r["batch_size"], "^"), ms=3, color=c)
    ax.set_xlabel("pruning ratio")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{dataset}: {LABELS.get(method, method)} pruning", fontsize=9)
    batch_legend(ax, {r["batch_size"] for r in rs}, loc="lower left")
    return ax


def plot_prunable_vs_alpha(ax, rows, dataset: str | None = None):
    """Prunable fraction at 10 % relative error vs α̂, every layer of every run (colour = η/b)."""
    rs = _seed0(rows, dataset)
    if not rs:
        return ax
    marks = "osD^v<>"
    for r, c in zip(rs, _colorbar(ax, [r["eta_over_b"] for r in rs])):
        for l, (a, p) in enumerate(zip(r["alpha"], r["prunable_mag"])):
            if a is not None:
                ax.scatter(a, p, color=c, marker=marks[l % len(marks)], s=18)
    ax.set_xlabel("α̂ (layer)")
    ax.set_ylabel("prunable fraction at ε = 0.1")
    ax.set_title(("all data sets" if dataset is None else dataset) + " (marker = layer)", fontsize=9)
    return ax


def plot_curves(ax, rows, dataset: str, methods=CURVE_METHODS):
    """Accuracy vs compression ratio (log2 axis), mean ± sd over seeds, for the multi-seed runs."""
    by: dict = {}
    for r in heavy_tail_rows(rows):
        if r["dataset"] == dataset:
            by.setdefault((r["lr"], r["batch_size"]), []).append(r)
    if not by:
        return ax
    key = max(by, key=lambda k: len(by[k]))
    grp = by[key]
    for i, m in enumerate(LEGACY_METHODS.get(m, m) for m in methods):
        if f"acc_{m}" not in grp[0]:
            continue
        acc = np.array([r[f"acc_{m}"] for r in grp])
        comp = np.array([r[f"comp_{m}"] for r in grp]).mean(axis=0)
        mu = acc.mean(axis=0)
        sd = acc.std(axis=0, ddof=1) if len(grp) > 1 else np.zeros_like(mu)
        ax.errorbar(comp, mu, yerr=sd, marker="o", ms=3, capsize=2, label=LABELS.get(m, m), color=f"C{i}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("compression ratio (total / remaining)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{dataset}: η={key[0]}, b={key[1]}, {len(grp)} seed(s), mean ± sd", fontsize=9)
    ax.legend(fontsize=7)
    return ax
