"""Plots of :func:`simulations.compressibility.predicted.predicted_vs_actual`: predicted against actual
one-shot magnitude-pruning error per layer, κ (the fraction kept) on the x axis.

One panel per layer: the actual error ‖w − H_{⌈κn⌉}(w)‖_p/‖w‖_p (black dots and line), the
Gribonval–Cevher–Davies limit G_p[F̂](κ) of each fitted law (coloured lines), their finite-n Monte
Carlo means when the rows carry them (same colour, dotted) and G_p[F_n](κ) of the empirical law
(grey, dashed); or, ``kind="difference"``, predicted minus actual. matplotlib is imported only when a
figure is made.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simulations._core.validation import check_choice, check_int, check_real, check_rows
from simulations.compressibility.predicted import FIT_LAWS, ROW_KEYS

__all__ = ["LAW_LABELS", "KINDS", "plot_layer", "layer_params_text", "legend_handles", "predicted_figure"]

#: legend names of the laws
LAW_LABELS = {"normal": "normal", "gennorm": "generalized Gaussian", "student_t": "Student-t",
              "sas": "SαS (tail index)", "empirical": "empirical law"}
#: what a panel shows: the errors, or predicted minus actual
KINDS = ("error", "difference")
_ACTUAL = "actual (magnitude pruning)"
_FINITE_N = "dotted: finite-n Monte Carlo"


def _color(law: str) -> str:
    return "0.5" if law == "empirical" else f"C{FIT_LAWS.index(law) if law in FIT_LAWS else len(FIT_LAWS)}"


def _layer_rows(rows: list, layer: str) -> list:
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str), got {type(layer).__name__}")
    mine = [r for r in rows if r["layer"] == layer]
    if not mine:
        raise ValueError(f"layer: no rows for layer {layer!r}")
    return mine


def layer_params_text(rows: Any, layer: str) -> str:
    """The fitted shape parameters of ``layer`` in one line, e.g. ``"β = 1.96, ν = 22.1, α = 1.76"``."""
    rows = check_rows("rows", rows, ROW_KEYS, "predicted_vs_actual")
    parts = []
    for law, key, sym, fmt in (("gennorm", "beta", "β", ".2f"), ("student_t", "nu", "ν", ".3g"), ("sas", "alpha", "α", ".2f")):
        r = next((r for r in _layer_rows(rows, layer) if r["law"] == law), None)
        if r is not None and key in r["params"]:
            parts.append(f"{sym} = {r['params'][key]:{fmt}}")
    return ", ".join(parts)


def plot_layer(ax, rows: Any, layer: str, kind: str = "error", diff_lim: float = 0.06) -> None:
    """One layer's curves on ``ax`` (rows of :func:`~simulations.compressibility.predicted.predicted_vs_actual`).

    ``kind="error"``: the actual error (black dots), G_p of each law (lines; the empirical law grey
    dashed) and the finite-n means (dotted), y in [0, 1]. ``kind="difference"``: predicted minus actual,
    y in [−diff_lim, diff_lim] (curves beyond are cut at the frame).
    """
    rows = check_rows("rows", rows, ROW_KEYS, "predicted_vs_actual")
    kind = check_choice("kind", kind, KINDS)
    diff_lim = check_real("diff_lim", diff_lim, 0.0, 1.0, low_open=True)
    mine = _layer_rows(rows, layer)
    diff = kind == "difference"
    for law in dict.fromkeys(r["law"] for r in mine):
        rs = sorted((r for r in mine if r["law"] == law), key=lambda r: r["kappa"])
        k = [r["kappa"] for r in rs]
        base = np.array([r["actual"] for r in rs]) if diff else 0.0
        ls = "--" if law == "empirical" else "-"
        ax.plot(k, np.array([r["predicted"] for r in rs]) - base, ls, color=_color(law), lw=1.3,
                label=LAW_LABELS.get(law, law))
        if all(r["predicted_n"] is not None for r in rs):
            ax.plot(k, np.array([r["predicted_n"] for r in rs]) - base, ":", color=_color(law), lw=1.4)
    rs = sorted({r["kappa"]: r for r in mine}.values(), key=lambda r: r["kappa"])
    ks = [r["kappa"] for r in rs]
    if diff:
        ax.axhline(0.0, color="k", lw=0.9)
        ax.set_ylim(-diff_lim, diff_lim)
        ax.set_ylabel("predicted − actual")
    else:
        ax.plot(ks, [r["actual"] for r in rs], "o-", color="k", ms=4, lw=0.8, label=_ACTUAL, zorder=5)
        ax.set_ylim(0.0, 1.0)
        ax.set_ylabel(r"relative $\ell_2$ error")
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log" if min(ks) > 0.0 else "linear")  # κ = 0 has no logarithm
    ax.set_xticks(ks, [f"{v:g}" for v in ks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(r"fraction kept $\kappa$")
    ax.grid(alpha=0.3)


def legend_handles(rows: Any) -> list:
    """Legend entries for the laws in ``rows``, the actual error and (if present) the finite-n curves."""
    from matplotlib.lines import Line2D

    rows = check_rows("rows", rows, ROW_KEYS, "predicted_vs_actual")
    out = [Line2D([], [], color=_color(law), ls="--" if law == "empirical" else "-", label=LAW_LABELS.get(law, law))
           for law in dict.fromkeys(r["law"] for r in rows)]
    out.append(Line2D([], [], color="k", marker="o", ms=4, lw=0.8, label=_ACTUAL))
    if any(r["predicted_n"] is not None for r in rows):
        out.append(Line2D([], [], color="0.3", ls=":", label=_FINITE_N))
    return out


def predicted_figure(rows: Any, ncols: int = 3, titles: Any = None, kind: str = "error"):
    """A figure of one panel per layer (in the rows' order), ``ncols`` panels a row, panel titles
    ``(a) <layer> (n = …)``, … (or ``titles``: a dict layer → title), the fitted shape parameters in
    each panel and one legend below; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    rows = check_rows("rows", rows, ROW_KEYS, "predicted_vs_actual")
    if not rows:
        raise ValueError("rows must hold at least one row of predicted_vs_actual")
    ncols = check_int("ncols", ncols, 1, 26)
    kind = check_choice("kind", kind, KINDS)
    if titles is not None and not isinstance(titles, dict):
        raise TypeError(f"titles must be None or a dict layer -> title, got {type(titles).__name__}")
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    if len(layers) > 26:
        raise ValueError(f"rows must hold at most 26 layers (one panel letter each), got {len(layers)}")
    nrows = -(-len(layers) // ncols)
    ncol = min(ncols, len(layers))
    fig, axes = plt.subplots(nrows, ncol, figsize=(4.2 * ncol, 3.3 * nrows + 0.8), squeeze=False)
    for i, layer in enumerate(layers):
        ax = axes.flat[i]
        plot_layer(ax, rows, layer, kind)
        n = next(r["n"] for r in rows if r["layer"] == layer)
        title = (titles or {}).get(layer, f"{layer} (n = {n})")
        ax.set_title(f"({chr(97 + i)}) {title}", loc="left", fontsize=9)
        ax.text(0.97, 0.95, layer_params_text(rows, layer), transform=ax.transAxes, ha="right", va="top", fontsize=7)
    for ax in list(axes.flat)[len(layers):]:
        ax.set_visible(False)
    handles = legend_handles(rows)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.9 / (3.3 * nrows + 0.8), 1, 1))
    return fig
