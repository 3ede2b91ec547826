"""Figure: compressible distributions.

(a) σ_{⌈κn⌉}(x)_2/‖x‖_2 for n = 10^2 … 10^7 iid draws (quick: up to 10^5) against the
Gribonval–Cevher–Davies limit G_2(κ) (finite variance) or 0 (SαS, α = 1.5);
(b) G_p(κ) for several tail indices (sympy closed forms; SαS by quadrature);
(c) Barsbey et al. (2021)'s synthetic study: fraction prunable at 10 % relative error vs α.
Only plots: the data come from :func:`simulations.compressibility.study.figure_data`, the figure
from :func:`simulations.compressibility.plots.compressibility_figure` (the same calls as
notebooks/02_compressibility.ipynb).
"""
from __future__ import annotations

from pathlib import Path

from paper.registry import save_figure

FIGURES = ["fig_compressibility"]
KAPPA, P = 0.1, 2.0


def make(outdir: Path, quick: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")

    from simulations.compressibility import plots, study

    ns = [10**k for k in range(2, 6 if quick else 8)]
    barsbey = dict(n_reps=30, n_rows=200, n_cols=200) if quick else dict(n_reps=250, n_rows=500, n_cols=500)
    data = study.figure_data(ns, KAPPA, P, n_seeds=4 if quick else 8, barsbey=barsbey, seed=1)
    fig = plots.compressibility_figure(data)
    return save_figure(fig, outdir, "fig_compressibility", dpi=150)
