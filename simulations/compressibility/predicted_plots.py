"""Plots of :func:`simulations.compressibility.predicted.predicted_vs_actual`: predicted against actual
one-shot magnitude-pruning error per layer, κ (the fraction kept) on the x axis.

One panel per layer: the actual error ‖w − H_{⌈κn⌉}(w)‖_p/‖w‖_p (black dots and line), the
Gribonval–Cevher–Davies limit G_p[F̂](κ) of each fitted law (coloured lines), their finite-n Monte
Carlo means when the rows carry them (same colour, dotted) and G_p[F_n](κ) of the empirical law
(grey, dashed). matplotlib is imported only when a figure is made.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simulations._core.validation import check_int, check_rows
from simulations.compressibility.predicted import FIT_LAWS, ROW_KEYS

__all__ = ["LAW_LABELS", "plot_layer", "predicted_figure"]

#: legend names of the laws
LAW_LABELS = {"normal": "normal", "gennorm": "generalized Gaussian", "student_t": "Student-t",
              "sas": "SαS (tail index)", "empirical": "empirical law"}


def _law_label(law: str, params: dict) -> str:
    base = LAW_LABELS.get(law, law)
    if law == "gennorm":
        return f"{base} (β = {params['beta']:.2f})"
    if law == "student_t":
        return f"{base} (ν = {params['nu']:.3g})"
    if law == "sas":
        return f"{base} (α = {params['alpha']:.2f})"
    return base


def plot_layer(ax, rows: list, layer: str) -> None:
    """One layer's curves on ``ax`` from the rows whose ``layer`` is ``layer`` (checked: rows of
    :func:`~simulations.compressibility.predicted.predicted_vs_actual`)."""
    rows = check_rows("rows", rows, ROW_KEYS, "predicted_vs_actual")
    mine = [r for r in rows if r["layer"] == layer]
    if not mine:
        raise ValueError(f"layer: no rows for layer {layer!r}")
    laws = list(dict.fromkeys(r["law"] for r in mine))
    for i, law in enumerate(laws):
        rs = sorted((r for r in mine if r["law"] == law), key=lambda r: r["kappa"])
        k = np.array([r["kappa"] for r in rs])
        if law == "empirical":
            ax.plot(k, [r["predicted"] for r in rs], "--", color="0.5", lw=1.2, label=LAW_LABELS["empirical"])
            continue
        color = f"C{FIT_LAWS.index(law) if law in FIT_LAWS else i}"
        ax.plot(k, [r["predicted"] for r in rs], "-", color=color, lw=1.4, label=_law_label(law, rs[0]["params"]))
        if all(r["predicted_n"] is not None for r in rs):
            ax.plot(k, [r["predicted_n"] for r in rs], ":", color=color, lw=1.4)
    rs = sorted({r["kappa"]: r for r in mine}.values(), key=lambda r: r["kappa"])
    ax.plot([r["kappa"] for r in rs], [r["actual"] for r in rs], "o-", color="k", ms=4, lw=0.8,
            label="actual (magnitude pruning)", zorder=5)
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(r"fraction kept $\kappa$")
    ax.set_ylabel(r"relative $\ell_2$ error")
    ax.grid(alpha=0.3)


def predicted_figure(rows: Any, ncols: int = 3, titles: Any = None):
    """A figure of one panel per layer (in the rows' order), ``ncols`` panels a row, panel titles
    ``(a) <layer>``, … (or ``titles``: a dict layer → title); returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    rows = check_rows("rows", rows, ROW_KEYS, "predicted_vs_actual")
    if not rows:
        raise ValueError("rows must hold at least one row of predicted_vs_actual")
    ncols = check_int("ncols", ncols, 1, 26)
    if titles is not None and not isinstance(titles, dict):
        raise TypeError(f"titles must be None or a dict layer -> title, got {type(titles).__name__}")
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    if len(layers) > 26:
        raise ValueError(f"rows must hold at most 26 layers (one panel letter each), got {len(layers)}")
    nrows = -(-len(layers) // ncols)
    ncol = min(ncols, len(layers))
    fig, axes = plt.subplots(nrows, ncol, figsize=(4.2 * ncol, 3.4 * nrows), squeeze=False)
    for i, layer in enumerate(layers):
        ax = axes.flat[i]
        plot_layer(ax, rows, layer)
        n = next(r["n"] for r in rows if r["layer"] == layer)
        title = (titles or {}).get(layer, f"{layer} (n = {n})")
        ax.set_title(f"({chr(97 + i)}) {title}", loc="left", fontsize=9)
        if i == 0:
            handles, _ = ax.get_legend_handles_labels()
            if any(r["predicted_n"] is not None for r in rows):
                from matplotlib.lines import Line2D

                handles.append(Line2D([], [], color="0.3", ls=":", label="dotted: finite-n Monte Carlo"))
            ax.legend(handles=handles, fontsize=6.5, loc="lower left")
    for ax in list(axes.flat)[len(layers):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
