"""Figure: compressible distributions (issue 3).

(a) σ_{⌈κn⌉}(x)_2/‖x‖_2 for n = 10^2 … 10^7 iid draws (quick: up to 10^5) against the
Gribonval–Cevher–Davies limit G_2(κ) (finite variance) or 0 (SαS, α = 1.5);
(b) G_p(κ) for several tail indices (sympy closed forms; SαS by quadrature);
(c) Barsbey et al. (2021)'s synthetic study: fraction prunable at 10 % relative error vs α.
Thin script: data and plots come from :mod:`simulations.compressibility.study` and
:mod:`theory.compressibility` (the same calls as notebooks/02_compressibility.ipynb).
"""
from __future__ import annotations

from pathlib import Path

from paper.registry import save_figure

FIGURES = ["fig_compressibility"]
KAPPA, P = 0.1, 2.0
NUS = (2.5, 3.0, 5.0, 10.0)
SAS_ALPHAS = (1.2, 1.5, 1.8, 2.0)


def make(outdir: Path, quick: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from simulations.compressibility import study
    from theory import compressibility as T

    ns = [10**k for k in range(2, 6 if quick else 8)]
    ratios = study.convergence_study(ns, KAPPA, P, n_seeds=4 if quick else 8, seed=1)
    laws = study.convergence_laws()
    limits = {}
    for key, (law, _a, _d) in laws.items():
        limits[key] = T.g_stable(1.5, KAPPA, P) if key == "sas1.5" else T.g_numeric(law, KAPPA, P)
    kappas = np.linspace(0.0, 1.0, 201)
    curves_t = {rf"$t_{{{nu:g}}}$": T.closed_form("student_t")(kappas, 2.0, nu=nu) for nu in NUS}
    curves_t["normal"] = T.closed_form("normal")(kappas, 2.0)
    curves_sas = {rf"$\alpha={a:g}$": T.g_stable(a, kappas, 1.0) for a in SAS_ALPHAS}
    if quick:
        res = study.barsbey_synthetic_study(n_reps=30, n_rows=200, n_cols=200, seed=2)
    else:
        res = study.barsbey_synthetic_study(n_reps=250, n_rows=500, n_cols=500, seed=2)
    gauss = T.limit_prunable_fraction(lambda k: T.closed_form("normal")(k, 2.0), 0.1)
    fig = study.compressibility_figure(ns, ratios, limits, kappas, curves_t, curves_sas, res, gauss, KAPPA, P)
    return save_figure(fig, outdir, "fig_compressibility", dpi=150)
