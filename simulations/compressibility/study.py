"""Simulation studies of compressibility shared by the notebook and the paper figure.

* :func:`ratio_vs_n` — the relative error σ_{⌈κn⌉}(x)_p/‖x‖_p of n iid draws
  for growing n (convergence to G_p[F](κ), Gribonval, Cevher & Davies 2012).
* :func:`barsbey_synthetic_study` — the synthetic experiment of Barsbey,
  Sefidgaran, Erdogdu, Richard & Şimşekli (NeurIPS 2021, "Heavy tails in SGD
  and compressibility of overparametrized neural networks"): SαS weight
  matrices with α ~ U[1.75, 2], pruned at 10% relative ℓ₂ error, in three
  dependence structures. Their public code (``mbarsbey/sgd_comp_gen``,
  ``other_experiments.ipynb``) uses 250 draws of α, 500 × 500 matrices,
  ε = 0.1 and reports the pruned fraction for
  W_ind (iid entries), W_col (columns iid sub-Gaussian/elliptical SαS vectors)
  and W_lay (the whole layer one elliptical vector).

Expected (and reproduced) trend: for W_ind and W_col the prunable fraction
grows as α decreases (heavier tails ⇒ more compressible); for W_lay it does
not depend on α: W_lay = √A · G with one scalar A, and the scalar cancels in
the relative error, so the prunable fraction is that of a Gaussian matrix
(≈ 0.265 at ε = 0.1). Independence across (groups of) weights is what makes
heavy tails translate into compressibility.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from simulations._core.validation import as_generator, check_int, check_positive, check_probability, check_real
from simulations.compressibility.api import prunable_fraction, relative_error_at
from simulations.stable import api as stable

__all__ = ["ratio_vs_n", "sas_sampler", "barsbey_synthetic_study"]


def sas_sampler(alpha: float) -> Callable[[int, np.random.Generator], np.ndarray]:
    """A sampler ``(n, rng) -> n`` iid SαS(α, scale 1) draws (for :func:`ratio_vs_n`)."""
    from simulations._core.validation import check_alpha

    alpha = check_alpha(alpha)

    def draw(n: int, rng: np.random.Generator) -> np.ndarray:
        return stable.rvs(alpha, 0.0, size=n, seed=rng)

    return draw


def ratio_vs_n(law: Any, ns, kappa: float, p: float = 2.0, n_seeds: int = 8, seed: Any = 0) -> np.ndarray:
    """σ_{⌈κn⌉}(x)_p / ‖x‖_p for x = n iid draws, for each n in ``ns`` and ``n_seeds`` replicates.

    Parameters
    ----------
    law : frozen scipy.stats distribution, or callable ``(n, rng) -> ndarray``
        The law of the entries (e.g. ``scipy.stats.t(3)`` or :func:`sas_sampler`).
    ns : sequence of ints ≥ 1
    kappa : fraction kept, in [0, 1]
    p : float > 0
    n_seeds : replicates per n
    seed : int, SeedSequence or Generator; replicate j at size ns[i] uses its
        own child stream, so results do not depend on the order of ``ns``.

    Returns
    -------
    ndarray (len(ns), n_seeds)
    """
    kappa = check_probability("kappa", kappa)
    p = check_positive("p", p)
    n_seeds = check_int("n_seeds", n_seeds, 1)
    ns = [check_int("ns", n, 1) for n in np.atleast_1d(ns)]
    if isinstance(law, stats._distn_infrastructure.rv_frozen):
        dist = law

        def draw(n, rng):
            return dist.rvs(size=n, random_state=rng)

    elif callable(law):
        draw = law
    else:
        raise TypeError(f"law must be a frozen scipy.stats distribution or a callable (n, rng), got {type(law).__name__}")
    base = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(
        int(as_generator(seed).integers(0, 2**63 - 1)))
    children = base.spawn(len(ns) * n_seeds)
    out = np.empty((len(ns), n_seeds))
    for i, n in enumerate(ns):
        for j in range(n_seeds):
            rng = np.random.default_rng(children[i * n_seeds + j])
            x = np.asarray(draw(n, rng), dtype=np.float64)
            out[i, j] = relative_error_at(x, kappa, p)
    return out


def barsbey_synthetic_study(
    n_reps: int = 250,
    n_rows: int = 500,
    n_cols: int = 500,
    alpha_range: tuple[float, float] = (1.75, 2.0),
    eps: float = 0.1,
    p: float = 2.0,
    seed: Any = 0,
) -> dict:
    """Prunable fraction at relative ℓ_p error ``eps`` of SαS weight matrices vs α (Barsbey et al. 2021).

    For each of ``n_reps`` draws α ~ U(alpha_range), three n_rows × n_cols
    matrices with SαS(α, scale 1) marginals:

    * ``iid``: iid entries;
    * ``columns``: each column an independent sub-Gaussian (elliptical) SαS
      vector in R^{n_rows} (:func:`simulations.stable.api.sub_gaussian_rvs`);
    * ``layer``: the whole matrix one sub-Gaussian SαS vector in R^{n_rows·n_cols}.

    Returns a dict of arrays ``alpha``, ``iid``, ``columns``, ``layer``
    (fraction of entries that can be zeroed, :func:`prunable_fraction`).
    """
    n_reps = check_int("n_reps", n_reps, 1)
    n_rows = check_int("n_rows", n_rows, 1)
    n_cols = check_int("n_cols", n_cols, 1)
    lo = check_real("alpha_range[0]", alpha_range[0], 0.0, 2.0, low_open=True)
    hi = check_real("alpha_range[1]", alpha_range[1], lo, 2.0)
    eps = check_probability("eps", eps, open_low=True, open_high=True)
    p = check_positive("p", p)
    rng = as_generator(seed)
    alphas = rng.uniform(lo, hi, size=n_reps)
    res = {"alpha": alphas, "iid": np.empty(n_reps), "columns": np.empty(n_reps), "layer": np.empty(n_reps)}
    for i, a in enumerate(alphas):
        w_iid = stable.rvs(a, 0.0, size=(n_rows, n_cols), seed=rng)
        w_col = stable.sub_gaussian_rvs(a, n_rows, size=n_cols, seed=rng).T
        w_lay = stable.sub_gaussian_rvs(a, n_rows * n_cols, seed=rng).reshape(n_rows, n_cols)
        res["iid"][i] = prunable_fraction(w_iid, eps, p)
        res["columns"][i] = prunable_fraction(w_col, eps, p)
        res["layer"][i] = prunable_fraction(w_lay, eps, p)
    return res


# ----------------------------------------------------------------------------------------------
# figure (a): convergence in n; (b): G_p curves; (c): the Barsbey et al. study — shared plotting
# ----------------------------------------------------------------------------------------------
def convergence_laws() -> dict:
    """The laws of figure (a), p = 2: three with E X² < ∞ (limit G_2 > 0) and SαS(1.5) (limit 0).

    Values are (sampler, tail index α or None, description); samplers are
    frozen scipy laws or :func:`sas_sampler` callables.
    """
    return {
        "normal": (stats.norm(), None, "normal"),
        "laplace": (stats.laplace(), None, "Laplace"),
        "student_t3": (stats.t(3.0), 3.0, r"Student-$t_3$"),
        "sas1.5": (sas_sampler(1.5), 1.5, r"S$\alpha$S, $\alpha=1.5$ ($E X^2=\infty$)"),
    }


def convergence_study(ns, kappa: float = 0.1, p: float = 2.0, n_seeds: int = 8, seed: Any = 0) -> dict:
    """{key: ratios (len(ns), n_seeds)} for the laws of :func:`convergence_laws` (independent streams per law)."""
    laws = convergence_laws()
    base = np.random.SeedSequence(int(as_generator(seed).integers(0, 2**63 - 1)))
    return {
        key: ratio_vs_n(law, ns, kappa, p, n_seeds, seed=child)
        for (key, (law, _a, _d)), child in zip(laws.items(), base.spawn(len(laws)))
    }


def plot_convergence(ax, ns, ratios: dict, limits: dict, kappa: float, p: float) -> None:
    """Median and inter-quartile band of σ̄_{⌈κn⌉} over seeds vs n, with the limits G_p(κ) dashed."""
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
    ax.set_title(rf"(a) convergence to $G_{{{p:g}}}(\kappa)$, $\kappa={kappa:g}$ (dashed: limit)")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)


def plot_g_curves(ax, kappas, curves: dict, title: str, p: float) -> None:
    """G_p(κ) curves (``curves``: label → values on ``kappas``)."""
    for i, (label, g) in enumerate(curves.items()):
        ax.plot(kappas, g, color=f"C{i}", label=label)
    ax.set_xlabel(r"fraction kept $\kappa$")
    ax.set_ylabel(rf"$G_{{{p:g}}}(\kappa)$")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def plot_barsbey(axes, res: dict, gaussian_level: float | None = None, eps: float = 0.1) -> None:
    """Three scatter panels: prunable fraction at relative error ``eps`` vs α for iid / columns / layer."""
    titles = {
        "iid": r"(c) $W_{ind}$: iid entries",
        "columns": r"(c) $W_{col}$: elliptical columns",
        "layer": r"(c) $W_{lay}$: elliptical layer",
    }
    allv = np.concatenate([res[k] for k in ("iid", "columns", "layer")])
    pad = 0.03 * (allv.max() - allv.min() + 1e-3)
    ylim = (min(allv.min(), gaussian_level or 1.0) - pad, allv.max() + pad)
    for ax, key in zip(axes, ("iid", "columns", "layer")):
        ax.scatter(res["alpha"], res[key], s=8, alpha=0.7)
        ax.set_ylim(*ylim)  # common scale: the layer-wise case is flat at the Gaussian level
        if gaussian_level is not None:
            ax.axhline(gaussian_level, color="k", ls="--", lw=1, label="Gaussian limit")
            ax.legend(fontsize=7, loc="upper right")
        ax.set_xlabel(r"tail index $\alpha$")
        ax.set_ylabel(f"fraction prunable at {eps:.0%} rel. error")
        ax.set_title(titles[key])
        ax.grid(alpha=0.3)


def compressibility_figure(ns, ratios, limits, kappas, curves_t, curves_sas, barsbey, gaussian_level,
                           kappa: float = 0.1, p: float = 2.0):
    """The full figure: (a) convergence, (b) G curves (two panels), (c) Barsbey et al. (three panels)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    plot_convergence(axes[0, 0], ns, ratios, limits, kappa, p)
    plot_g_curves(axes[0, 1], kappas, curves_t, r"(b) $G_2(\kappa)$: Student-$t_\nu$ and normal", 2.0)
    plot_g_curves(axes[0, 2], kappas, curves_sas, r"(b) $G_1(\kappa)$: S$\alpha$S laws", 1.0)
    plot_barsbey(axes[1], barsbey, gaussian_level)
    fig.tight_layout()
    return fig
