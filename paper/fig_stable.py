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
from simulations.tail_index.plots import ESTIMATOR_NAMES as NAMES  # noqa: E402

LAWS_TEX = {"stable": r"S$\alpha$S", "pareto": "Pareto I", "student_t": "Student-$t$"}


#: (draws per α for the tails, sample size and replications of the estimator table)
SIZES = {"full": (4 * 10**6, 10_000, 200), "reduced": (10**5, 2_000, 10), "test": (10**4, 1_000, 4)}


def compute(size: str) -> tuple[list[dict], list[dict]]:
    from simulations.tail_index import study

    n_tail, n_est, reps = SIZES[size]
    return study.tail_curves(ALPHAS, n=n_tail, seed=1), study.estimator_bias_table(n=n_est, reps=reps, seed=2)


def draw(curves: list[dict], rows: list[dict]):
    import matplotlib.pyplot as plt

    from simulations.tail_index import plots

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    plots.plot_tails(axes[0], curves)
    panel(axes[0], "a", "SαS(1) tails (Chambers–Mallows–Stuck)")
    plots.plot_estimator_bias(axes[1], axes[2], rows)
    panel(axes[1], "b", f"estimators on SαS, n = {rows[0]['n']}, {rows[0]['reps']} reps")
    panel(axes[2], "c", "non-stable power laws")
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
