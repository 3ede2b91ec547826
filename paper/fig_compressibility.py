"""Figure: compressible distributions (Gribonval, Cevher & Davies 2012; Barsbey et al. 2021).

(a) σ_{⌈κn⌉}(x)_2/‖x‖_2 of n = 10² … 10⁷ iid draws (median and quartiles over 8 seeds)
against the limit G_2[F](κ) (dashed), which is 0 for SαS with α = 1.5 (infinite variance;
dotted: the predicted slope n^{(1−p/α)/p}); (b) G_2[F](κ) of Student-t_ν and the normal law
(sympy closed forms); (c) G_1[F](κ) of SαS laws (quadrature); (d)–(f) Barsbey et al.'s
synthetic study: the fraction of entries prunable at 10 % relative ℓ_2 error of 500 × 500
SαS matrices against α, for iid entries, elliptical columns and one elliptical layer, with the
Gaussian limit 1 − κ* (G_2(κ*) = 0.1) dashed. The panels are drawn by
:mod:`simulations.compressibility.plots` (as in notebook 02) and titled here.
Full size: about 50 s on 2 cores.
"""
from __future__ import annotations

from pathlib import Path

from paper.figstyle import finish, panel

FIGURES = ["fig_compressibility"]
SOURCE = "simulation at full size (n up to 10⁷, 8 seeds; 250 synthetic 500 × 500 matrices), about 50 s"
KAPPA, P = 0.1, 2.0


#: (largest n = 10^k, seeds, Barsbey et al. study size)
SIZES = {"full": (7, 8, dict(n_reps=250, n_rows=500, n_cols=500)),
         "reduced": (5, 4, dict(n_reps=30, n_rows=200, n_cols=200)),
         "test": (3, 2, dict(n_reps=6, n_rows=40, n_cols=40))}


def compute(size: str) -> dict:
    from simulations.compressibility import study

    kmax, n_seeds, barsbey = SIZES[size]
    return study.figure_data([10**k for k in range(2, kmax + 1)], KAPPA, P, n_seeds=n_seeds, barsbey=barsbey, seed=1)


def draw(data: dict):
    import matplotlib.pyplot as plt

    from simulations.compressibility import plots

    kappa, p = data["kappa"], data["p"]
    fig, axes = plt.subplots(2, 3, figsize=(11, 6.6))
    plots.plot_convergence(axes[0, 0], data["ns"], data["ratios"], data["limits"], kappa, p)
    panel(axes[0, 0], "a", rf"convergence to $G_{{{p:g}}}[F](\kappa)$, $\kappa = {kappa:g}$ (dashed)")
    plots.plot_g_curves(axes[0, 1], data["kappas"], data["curves_t"], "", 2.0)
    panel(axes[0, 1], "b", r"$G_2[F](\kappa)$: Student-$t_\nu$ and normal")
    plots.plot_g_curves(axes[0, 2], data["kappas"], data["curves_sas"], "", 1.0)
    panel(axes[0, 2], "c", r"$G_1[F](\kappa)$: S$\alpha$S laws")
    axes[0, 1].set_ylabel(r"$G_2[F](\kappa)$")
    axes[0, 2].set_ylabel(r"$G_1[F](\kappa)$")
    plots.plot_barsbey(axes[1], data["barsbey"], data["gaussian_level"], data["eps"])
    for ax, lab, title in zip(axes[1], "def", (r"iid entries ($W_{ind}$)", r"elliptical columns ($W_{col}$)",
                                               r"one elliptical layer ($W_{lay}$)")):
        panel(ax, lab, title, capitalize=False)
    for ax in axes.ravel():
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)
    fig.tight_layout()
    return fig


def make(outdir: Path, reduced: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    return finish(draw(compute("reduced" if reduced else "full")), Path(outdir), "fig_compressibility", reduced)
