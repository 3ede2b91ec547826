"""Plots of the compressibility studies (:mod:`simulations.compressibility.study`).

The one home of these plots: notebooks/02_compressibility.ipynb and paper/fig_compressibility.py
both call :func:`compressibility_figure` on :func:`simulations.compressibility.study.figure_data`.
matplotlib is imported only when a figure is made.
"""
from __future__ import annotations

import numpy as np

from simulations.compressibility.study import convergence_laws

__all__ = ["plot_convergence", "plot_g_curves", "plot_barsbey", "compressibility_figure"]


def plot_convergence(ax, ns, ratios: dict, limits: dict, kappa: float, p: float) -> None:
    """Median and inter-quartile band of σ̄_{⌈κn⌉} over seeds vs n, with the limits G_p[F](κ) dashed."""
    laws = convergence_laws()
    ns = np.asarray(ns, dtype=float)
    for i, (key, r) in enumerate(ratios.items()):
        color = f"C{i}"
        med = np.median(r, axis=1)
        lo, hi = np.quantile(r, [0.25, 0.75], axis=1)
        label = laws[key][2] if key in laws else key
        ax.plot(ns, med, "o-", color=color, ms=3, label=label)
        ax.fill_between(ns, lo, hi, color=color, alpha=0.2, lw=0)
        ax.axhline(limits[key], color=color, ls="--", lw=1)
        a = laws[key][1] if key in laws else None
        if a is not None and p >= a:  # infinite moment: slope n^{(1 − p/α)/p}
            ref = med[0] * (ns / ns[0]) ** ((1.0 - p / a) / p)
            ax.plot(ns, ref, ":", color=color, lw=1.2, label=rf"$\propto n^{{{(1 - p / a) / p:.3f}}}$")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("n (iid entries)")
    ax.set_ylabel(rf"$\sigma_{{\lceil \kappa n\rceil}}(x)_{{{p:g}}}/\|x\|_{{{p:g}}}$")
    ax.set_title(rf"(a) convergence to $G_{{{p:g}}}[F](\kappa)$, $\kappa={kappa:g}$ (dashed: limit)")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)


def plot_g_curves(ax, kappas, curves: dict, title: str, p: float) -> None:
    """G_p[F](κ) curves (``curves``: label → values on ``kappas``)."""
    for i, (label, g) in enumerate(curves.items()):
        ax.plot(kappas, g, color=f"C{i}", label=label)
    ax.set_xlabel(r"fraction kept $\kappa$")
    ax.set_ylabel(rf"$G_{{{p:g}}}[F](\kappa)$")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def plot_barsbey(axes, res: dict, gaussian_level: float | None = None, eps: float = 0.1,
                 labels: str = "def") -> None:
    """Three scatter panels: prunable fraction at relative error ``eps`` vs α for iid / columns / layer
    (panel letters ``labels``)."""
    titles = {
        "iid": r"$W_{ind}$: iid entries",
        "columns": r"$W_{col}$: elliptical columns",
        "layer": r"$W_{lay}$: elliptical layer",
    }
    allv = np.concatenate([res[k] for k in ("iid", "columns", "layer")])
    pad = 0.03 * (allv.max() - allv.min() + 1e-3)
    ylim = (min(allv.min(), gaussian_level or 1.0) - pad, allv.max() + pad)
    for ax, key, letter in zip(axes, ("iid", "columns", "layer"), labels):
        ax.scatter(res["alpha"], res[key], s=8, alpha=0.7)
        ax.set_ylim(*ylim)  # common scale: the layer-wise case is flat at the Gaussian level
        if gaussian_level is not None:
            ax.axhline(gaussian_level, color="k", ls="--", lw=1, label="Gaussian limit")
            ax.legend(fontsize=7, loc="upper right")
        ax.set_xlabel(r"tail index $\alpha$")
        ax.set_ylabel(f"fraction prunable at {eps:.0%} rel. error")
        ax.set_title(f"({letter}) {titles[key]}")
        ax.grid(alpha=0.3)


def compressibility_figure(data: dict):
    """The full figure from :func:`simulations.compressibility.study.figure_data`: (a) convergence,
    (b)–(c) G_p[F](κ) curves, (d)–(f) Barsbey et al.'s synthetic study."""
    import matplotlib.pyplot as plt

    kappa, p = data["kappa"], data["p"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    plot_convergence(axes[0, 0], data["ns"], data["ratios"], data["limits"], kappa, p)
    plot_g_curves(axes[0, 1], data["kappas"], data["curves_t"], r"(b) $G_2[F](\kappa)$: Student-$t_\nu$ and normal", 2.0)
    plot_g_curves(axes[0, 2], data["kappas"], data["curves_sas"], r"(c) $G_1[F](\kappa)$: S$\alpha$S laws", 1.0)
    plot_barsbey(axes[1], data["barsbey"], data["gaussian_level"], data["eps"])
    fig.tight_layout()
    return fig
