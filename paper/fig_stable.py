"""Figure: α-stable tails against C_α x^{−α}, and tail-index estimator bias.

Only plots: the data come from :mod:`simulations.tail_index.study`, the figure from
:func:`simulations.tail_index.plots.stable_figure` (the same calls as notebooks/01_stable_laws.ipynb).
"""
from __future__ import annotations

from pathlib import Path

from paper.registry import save_figure

ALPHAS = (0.8, 1.2, 1.5, 1.8, 2.0)


FIGURES = ["fig_stable"]


def make(outdir: Path, quick: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")

    from simulations.tail_index import plots, study

    n_tail = 10**5 if quick else 4 * 10**6
    n_est, reps = (2_000, 10) if quick else (10_000, 200)
    curves = study.tail_curves(ALPHAS, n=n_tail, seed=1)
    rows = study.estimator_bias_table(n=n_est, reps=reps, seed=2)
    fig = plots.stable_figure(curves, rows)
    paths = save_figure(fig, outdir, "fig_stable", dpi=150)
    outdir = Path(outdir)
    (outdir / "fig_stable_table.md").write_text(study.format_table(rows) + "\n")
    return paths + [outdir / "fig_stable_table.md"]
