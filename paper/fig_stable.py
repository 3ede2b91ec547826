"""Figure and table: α-stable tails against C_α x^{−α}, and the bias of tail-index estimators.

(a) empirical P(|X| > x) of 4·10⁶ Chambers–Mallows–Stuck draws of SαS(1) per α (solid)
against the asymptote C_α x^{−α} (dashed; the exact N(0, 2) tail at α = 2); (b) median and
quartiles of the block-sum (mean and order-statistic forms), Hill and Pickands estimates on
SαS samples (n = 10⁴, 200 replications); (c) their median bias on Pareto I and Student-t
samples. The table ``table_stable.{md,tex}`` gives bias and RMSE of every estimator.
Data: :func:`simulations.tail_index.study.tail_curves` and ``estimator_bias_table``
(full size about 10 s on 2 cores).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper.figstyle import finish, latex_table, panel, table_stamp, write_values

ALPHAS = (0.8, 1.2, 1.5, 1.8, 2.0)
FIGURES = ["fig_stable"]
SOURCE = "simulation at full size (4·10⁶ draws per α; 200 replications of n = 10⁴), about 10 s"
NAMES = {"block_sum(mean)": "block-sum (mean)", "block_sum(order)": "block-sum (order)", "hill": "Hill",
         "pickands": "Pickands"}
LAWS = {"stable": "SαS", "pareto": "Pareto I", "student_t": "Student-t"}
LAWS_TEX = {"stable": r"S$\alpha$S", "pareto": "Pareto I", "student_t": "Student-$t$"}


#: (draws per α for the tails, sample size and replications of the estimator table)
SIZES = {"full": (4 * 10**6, 10_000, 200), "reduced": (10**5, 2_000, 10), "test": (10**4, 1_000, 4)}


def compute(size: str) -> tuple[list[dict], list[dict]]:
    from simulations.tail_index import study

    n_tail, n_est, reps = SIZES[size]
    return study.tail_curves(ALPHAS, n=n_tail, seed=1), study.estimator_bias_table(n=n_est, reps=reps, seed=2)


def draw(curves: list[dict], rows: list[dict]):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    ax = axes[0]
    colors = plt.cm.viridis(np.linspace(0.0, 0.9, len(curves)))
    for c, col in zip(curves, colors):
        ax.loglog(c["x"], c["empirical"], "-", color=col, lw=1.8, label=f"α = {c['alpha']:g}")
        ax.loglog(c["x"], c["theory"], "--", color=col, lw=1.0)
    ax.plot([], [], "-", color="0.4", lw=1.8, label="empirical (solid)")
    ax.plot([], [], "--", color="0.4", lw=1.0, label=r"$C_\alpha x^{-\alpha}$; N(0, 2) at α = 2 (dashed)")
    ymin = min(float(np.min(c["empirical"][c["empirical"] > 0])) for c in curves)
    ax.set_ylim(ymin / 2, 1.0)
    ax.set(xlabel="x", ylabel=r"$P(|X| > x)$")
    panel(ax, "a", "SαS(1) tails (Chambers–Mallows–Stuck)")
    ax.legend(fontsize=7, loc="lower left")

    names = list(dict.fromkeys(r["estimator"] for r in rows))
    markers = ["o", "s", "^", "v", "D"]
    st_laws = sorted({r["alpha"] for r in rows if r["law"] == "stable"})
    other = list(dict.fromkeys((r["law"], r["alpha"]) for r in rows if r["law"] != "stable"))
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        rs = {(r["law"], r["alpha"]): r for r in rows if r["estimator"] == name}
        xs = np.array(st_laws) + (k - (len(names) - 1) / 2) * 0.025
        ys = np.array([rs[("stable", a)]["median"] for a in st_laws])
        with np.errstate(invalid="ignore"):
            lo = ys - np.array([rs[("stable", a)]["q25"] for a in st_laws])
            hi = np.array([rs[("stable", a)]["q75"] for a in st_laws]) - ys
        err = np.nan_to_num(np.minimum([lo, hi], 10.0), nan=0.0)
        axes[1].errorbar(xs, ys, yerr=err, fmt=markers[k % 5], ms=4, capsize=2, label=NAMES.get(name, name))
        pos = np.arange(len(other)) + (k - (len(names) - 1) / 2) * width
        med = np.array([rs[o]["median"] - o[1] for o in other])
        with np.errstate(invalid="ignore"):
            lo = med - np.array([rs[o]["q25"] - o[1] for o in other])
            hi = np.array([rs[o]["q75"] - o[1] for o in other]) - med
        err = np.nan_to_num(np.minimum([lo, hi], 10.0), nan=0.0)
        axes[2].bar(pos, np.clip(med, -2.0, 1.5), width, yerr=err, capsize=2, label=NAMES.get(name, name))
    lim = [min(st_laws) - 0.2, max(st_laws) + 0.2]
    ax = axes[1]
    ax.plot(lim, lim, "k:", lw=1, label=r"$\hat\alpha = \alpha$")
    ax.set_ylim(0.4, 2.8)
    ax.set(xlabel="true α (SαS)", ylabel=r"$\hat\alpha$ (median, quartiles)")
    panel(ax, "b", f"estimators on SαS, n = {rows[0]['n']}, {rows[0]['reps']} reps")
    ax.text(0.98, 0.02, "Hill, Pickands at α = 2: off scale", transform=ax.transAxes, ha="right", fontsize=7)
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[2]
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(other)), [f"{LAWS.get(law, law)}\nα = {a:g}" for law, a in other], fontsize=8)
    ax.set_ylabel(r"median $\hat\alpha - \alpha$ (quartiles)")
    ax.set_ylim(-2.0, 1.5)
    panel(ax, "c", "non-stable power laws")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def tables(rows: list[dict], reduced: bool) -> tuple[str, str]:
    """(markdown, LaTeX) of bias / RMSE per law and estimator."""
    from simulations.tail_index import study

    names = list(dict.fromkeys(r["estimator"] for r in rows))
    laws = list(dict.fromkeys((r["law"], r["alpha"]) for r in rows))
    by = {(r["law"], r["alpha"], r["estimator"]): r for r in rows}

    def cell(r):
        if not np.isfinite(r["bias"]):
            return "(all $\\infty$)"
        inf = f" ({r['n_inf']} $\\infty$)" if r["n_inf"] else ""
        return f"${r['bias']:+.3f}$ / ${r['rmse']:.3f}${inf}"

    body = [[LAWS_TEX.get(law, law), f"{a:g}"] + [cell(by[(law, a, e)]) for e in names] for law, a in laws]
    tex = latex_table(["law", r"$\alpha$"] + [NAMES.get(e, e) for e in names], body, "ll" + "r" * len(names),
                      reduced, groups=[i for i in range(1, len(laws)) if laws[i][0] != laws[i - 1][0]])
    return table_stamp(reduced) + study.format_table(rows) + "\n", tex


def make(outdir: Path, reduced: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")

    outdir = Path(outdir)
    curves, rows = compute("reduced" if reduced else "full")
    paths = finish(draw(curves, rows), outdir, "fig_stable", reduced)
    md, tex = tables(rows, reduced)
    (outdir / "table_stable.md").write_text(md)
    (outdir / "table_stable.tex").write_text(tex)
    by = {(r["law"], r["alpha"], r["estimator"]): r for r in rows}
    vals = {"nEst": str(rows[0]["n"]), "repsEst": str(rows[0]["reps"]),
            "bsRmseMax": f"{max(by[('stable', a, 'block_sum(mean)')]['rmse'] for a in (0.8, 1.2, 1.5, 1.8, 2.0)):.3f}",
            "hillBiasEighteen": f"{by[('stable', 1.8, 'hill')]['bias']:+.3f}",
            "bsBiasTThree": f"{by[('student_t', 3.0, 'block_sum(mean)')]['bias']:+.3f}",
            "hillBiasTThree": f"{by[('student_t', 3.0, 'hill')]['bias']:+.3f}"}
    return paths + [outdir / "table_stable.md", outdir / "table_stable.tex",
                    write_values(outdir, "fig_stable", vals, reduced)]
