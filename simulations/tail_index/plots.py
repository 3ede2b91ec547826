"""Plots of the α-stable tail and tail-index estimator studies (:mod:`simulations.tail_index.study`).

The one home of these plots: notebooks/01_stable_laws.ipynb and paper/fig_stable.py both call
:func:`stable_figure`. matplotlib is imported only when a plot is drawn.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_tails", "plot_estimator_bias", "stable_figure", "ESTIMATOR_NAMES", "LAW_NAMES"]


#: display names of the estimators and laws of :func:`simulations.tail_index.study.estimator_bias_table`
ESTIMATOR_NAMES = {"block_sum(mean)": "block-sum (mean)", "block_sum(order)": "block-sum (order)", "hill": "Hill",
                   "pickands": "Pickands"}
LAW_NAMES = {"stable": "SαS", "pareto": "Pareto I", "student_t": "Student-t"}


def plot_tails(ax, curves: list[dict]) -> None:
    """Log-log empirical P(|X| > x) (solid) against C_α x^{−α} (dashed, same colour; the exact N(0, 2)
    tail at α = 2)."""
    import matplotlib.pyplot as plt

    colors = plt.cm.viridis(np.linspace(0.0, 0.9, len(curves)))
    for c, col in zip(curves, colors):
        ax.loglog(c["x"], c["empirical"], "-", color=col, lw=1.8, label=f"α = {c['alpha']:g}")
        ax.loglog(c["x"], c["theory"], "--", color=col, lw=1.0)
    ax.plot([], [], "-", color="0.4", lw=1.8, label="empirical (solid)")
    ax.plot([], [], "--", color="0.4", lw=1.0, label=r"$C_\alpha x^{-\alpha}$; N(0, 2) at α = 2 (dashed)")
    ymin = min(float(np.min(c["empirical"][c["empirical"] > 0])) for c in curves)
    ax.set_ylim(ymin / 2, 1.0)
    ax.set_xlabel("x")
    ax.set_ylabel(r"$P(|X| > x)$")
    ax.set_title("SαS(1) tails")
    ax.legend(fontsize=7, loc="lower left")


def plot_estimator_bias(ax_stable, ax_other, rows: list[dict]) -> None:
    """Left: median α̂ with quartiles against α on SαS samples. Right: median bias with quartiles on Pareto / Student-t.

    Medians and quartiles rather than mean ± sd: Pickands' estimates are themselves heavy-tailed.
    """
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    markers = ["o", "s", "^", "v", "D"]
    st_laws = sorted({r["alpha"] for r in rows if r["law"] == "stable"})
    other = list(dict.fromkeys((r["law"], r["alpha"]) for r in rows if r["law"] != "stable"))
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        rs = {(r["law"], r["alpha"]): r for r in rows if r["estimator"] == name}
        label = ESTIMATOR_NAMES.get(name, name)
        if st_laws:
            xs = np.array(st_laws) + (k - (len(names) - 1) / 2) * 0.025
            ys = np.array([rs[("stable", a)]["median"] for a in st_laws])
            with np.errstate(invalid="ignore"):
                lo = ys - np.array([rs[("stable", a)]["q25"] for a in st_laws])
                hi = np.array([rs[("stable", a)]["q75"] for a in st_laws]) - ys
            err = np.nan_to_num(np.minimum([lo, hi], 10.0), nan=0.0)
            ax_stable.errorbar(xs, ys, yerr=err, fmt=markers[k % 5], ms=4, capsize=2, label=label)
        if other:
            pos = np.arange(len(other)) + (k - (len(names) - 1) / 2) * width
            med = np.array([rs[o]["median"] - o[1] for o in other])
            with np.errstate(invalid="ignore"):
                lo = med - np.array([rs[o]["q25"] - o[1] for o in other])
                hi = np.array([rs[o]["q75"] - o[1] for o in other]) - med
            err = np.nan_to_num(np.minimum([lo, hi], 10.0), nan=0.0)
            ax_other.bar(pos, np.clip(med, -2.0, 1.5), width, yerr=err, capsize=2, label=label)
    if st_laws:
        lim = [min(st_laws) - 0.2, max(st_laws) + 0.2]
        ax_stable.plot(lim, lim, "k:", lw=1, label=r"$\hat\alpha = \alpha$")
        ax_stable.set_ylim(0.4, 2.8)
        ax_stable.set_xlabel("true α (SαS)")
        ax_stable.set_ylabel(r"$\hat\alpha$ (median, quartiles)")
        ax_stable.set_title(f"estimators on SαS, n = {rows[0]['n']}, {rows[0]['reps']} reps", fontsize=9)
        ax_stable.text(0.98, 0.02, "Hill, Pickands at α = 2: off scale", transform=ax_stable.transAxes,
                       ha="right", fontsize=7)
        ax_stable.legend(fontsize=7, loc="upper left")
    if other:
        ax_other.axhline(0, color="k", lw=0.8)
        ax_other.set_xticks(np.arange(len(other)), [f"{LAW_NAMES.get(law, law)}\nα = {a:g}" for law, a in other],
                            fontsize=8)
        ax_other.set_ylabel(r"median $\hat\alpha - \alpha$ (quartiles)")
        ax_other.set_ylim(-2.0, 1.5)
        ax_other.set_title("non-stable power laws (Pareto I, Student-t)")
        ax_other.legend(fontsize=7, loc="lower left")


def stable_figure(curves: list[dict], rows: list[dict]):
    """The three-panel figure of notebooks/01_stable_laws.ipynb and paper/fig_stable.py."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    plot_tails(axes[0], curves)
    plot_estimator_bias(axes[1], axes[2], rows)
    fig.tight_layout()
    return fig
