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

:func:`figure_data` gathers everything the compressibility figure shows (the simulations here
and the limits of :mod:`theory.compressibility`); the plots are in
:mod:`simulations.compressibility.plots`. notebooks/02_compressibility.ipynb and
paper/fig_compressibility.py call the same functions.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from simulations._core import seeding
from simulations._core.validation import check_alpha, check_int, check_positive, check_probability, check_real
from simulations.compressibility.api import prunable_fraction, relative_error_at
from simulations.stable import api as stable
from theory import compressibility as theory_compressibility

__all__ = [
    "N_MAX",
    "N_SEEDS_MAX",
    "DRAWS_MAX",
    "LIMITS_P_MAX",
    "LIMITS_KAPPA_MIN",
    "ratio_vs_n",
    "sas_sampler",
    "barsbey_synthetic_study",
    "convergence_laws",
    "convergence_study",
    "convergence_limits",
    "g_curves",
    "figure_data",
]

#: largest vector length n of :func:`ratio_vs_n` (one draw of n float64 entries and the partial
#: sort of its magnitudes take about 4·8·n bytes: 1 GiB at n = 2^25)
N_MAX = 2**25
#: largest number of replicates per n of :func:`ratio_vs_n`
N_SEEDS_MAX = 1000
#: largest total number of entries drawn by one :func:`ratio_vs_n` call, n_seeds · Σ ns
DRAWS_MAX = 2**31
#: largest p of :func:`convergence_limits`: up to p = 100 the quadrature of
#: :func:`theory.compressibility.g_numeric` agrees with the closed form of the Laplace law,
#: G_p(κ)^p = P(Γ(p+1, 1) ≤ −log κ), to a few ulps; at p = 150 it is off by 8 %
LIMITS_P_MAX = 100.0
#: smallest positive κ of :func:`convergence_limits` (the smallest normal double, 2^-1022): the
#: quantile of |X| at level κ is that of X at κ/2, which is lost to underflow below it
LIMITS_KAPPA_MIN = 2.0**-1022


def sas_sampler(alpha: float) -> Callable[[int, np.random.Generator], np.ndarray]:
    """A sampler ``(n, rng) -> n`` iid SαS(α, scale 1) draws (for :func:`ratio_vs_n`)."""
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
    ns : non-empty sequence of ints in [1, N_MAX] = [1, 2^25]
    kappa : fraction kept, in [0, 1]
    p : float > 0
    n_seeds : replicates per n, in [1, N_SEEDS_MAX] = [1, 1000]; the total number of draws
        ``n_seeds · sum(ns)`` is at most DRAWS_MAX = 2^31 (checked before any draw)
    seed : None, int, SeedSequence or Generator; replicate j at size n draws from
        ``replicate(child(seed, "n", n), j)`` (:mod:`simulations._core.seeding`), so results do
        not depend on the order of ``ns``.

    Returns
    -------
    ndarray (len(ns), n_seeds)

    A callable ``law`` must return n finite reals for ``(n, rng)`` (``ValueError`` naming
    ``law`` otherwise).
    """
    kappa = check_probability("kappa", kappa)
    p = check_positive("p", p)
    n_seeds = check_int("n_seeds", n_seeds, 1, N_SEEDS_MAX)
    if isinstance(ns, (str, bytes)) or not isinstance(ns, (Sequence, np.ndarray, int, np.integer)):
        raise TypeError(f"ns must be a sequence of ints in [1, {N_MAX}], got {type(ns).__name__}")
    ns = [check_int("ns", n, 1, N_MAX) for n in np.atleast_1d(np.asarray(ns, dtype=object)).ravel()]
    if not ns:
        raise ValueError("ns must hold at least one size n")
    draws = n_seeds * sum(ns)
    if draws > DRAWS_MAX:
        raise ValueError(f"n_seeds * sum(ns) must be at most DRAWS_MAX = 2**31 entries drawn, got {draws} "
                         f"(n_seeds = {n_seeds}, sum(ns) = {sum(ns)})")
    if isinstance(law, stats._distn_infrastructure.rv_frozen):
        dist = law

        def draw(n, rng):
            return dist.rvs(size=n, random_state=rng)

    elif callable(law):
        draw = law
    else:
        raise TypeError(f"law must be a frozen scipy.stats distribution or a callable (n, rng), got {type(law).__name__}")
    ss = seeding.seed_sequence(seed)
    out = np.empty((len(ns), n_seeds))
    for i, n in enumerate(ns):
        at_n = seeding.child(ss, "n", n)
        for j in range(n_seeds):
            x = draw(n, seeding.generator(seeding.replicate(at_n, j)))
            if np.size(x) != n:
                raise ValueError(f"law must return n = {n} draws for (n, rng), got {np.size(x)} values")
            try:
                out[i, j] = relative_error_at(x, kappa, p)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"law returned draws that are not finite reals: {exc}") from exc
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
    (fraction of entries that can be zeroed, :func:`prunable_fraction`). Seeding: the α draws
    from ``child(seed, "alpha")``, replicate i's three matrices from
    ``child(replicate(seed, i), "iid" | "columns" | "layer")``.
    """
    n_reps = check_int("n_reps", n_reps, 1)
    n_rows = check_int("n_rows", n_rows, 1)
    n_cols = check_int("n_cols", n_cols, 1)
    if not isinstance(alpha_range, (tuple, list)) or len(alpha_range) != 2:
        raise TypeError(f"alpha_range must be a pair (low, high), got {alpha_range!r}")
    # the elliptical cases draw sub-Gaussian vectors, whose sampler needs α ≥ SUB_GAUSSIAN_ALPHA_MIN
    lo = check_real("alpha_range[0]", alpha_range[0], stable.SUB_GAUSSIAN_ALPHA_MIN, 2.0)
    hi = check_real("alpha_range[1]", alpha_range[1], lo, 2.0)
    eps = check_probability("eps", eps, open_low=True, open_high=True)
    p = check_positive("p", p)
    ss = seeding.seed_sequence(seed)
    alphas = seeding.generator(ss, "alpha").uniform(lo, hi, size=n_reps)
    res = {"alpha": alphas, "iid": np.empty(n_reps), "columns": np.empty(n_reps), "layer": np.empty(n_reps)}
    for i, a in enumerate(alphas):
        rep = seeding.replicate(ss, i)
        w_iid = stable.rvs(a, 0.0, size=(n_rows, n_cols), seed=seeding.child(rep, "iid"))
        w_col = stable.sub_gaussian_rvs(a, n_rows, size=n_cols, seed=seeding.child(rep, "columns")).T
        w_lay = stable.sub_gaussian_rvs(a, n_rows * n_cols, seed=seeding.child(rep, "layer")).reshape(n_rows, n_cols)
        res["iid"][i] = prunable_fraction(w_iid, eps, p)
        res["columns"][i] = prunable_fraction(w_col, eps, p)
        res["layer"][i] = prunable_fraction(w_lay, eps, p)
    return res


# ----------------------------------------------------------------------------------------------
# the figure's data: (a) convergence in n; (b) G_p curves; (c) the Barsbey et al. study
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
    """{key: ratios (len(ns), n_seeds)} for the laws of :func:`convergence_laws` (law ``key`` from ``child(seed, key)``)."""
    ss = seeding.seed_sequence(seed)
    return {
        key: ratio_vs_n(law, ns, kappa, p, n_seeds, seed=seeding.child(ss, key))
        for key, (law, _a, _d) in convergence_laws().items()
    }


def convergence_limits(kappa: float = 0.1, p: float = 2.0) -> dict:
    """{key: G_p(κ)} for the laws of :func:`convergence_laws`: quadrature, or the SαS routine for ``sas1.5``.

    ``kappa`` is one fraction in {0} ∪ [LIMITS_KAPPA_MIN, 1] = {0} ∪ [2^-1022, 1] and ``p`` is in
    (0, LIMITS_P_MAX] = (0, 100], the range where the quadrature is accurate (see the constants).
    """
    kappa = check_probability("kappa", kappa)
    if 0.0 < kappa < LIMITS_KAPPA_MIN:
        raise ValueError(f"kappa must be 0 or in [2**-1022, 1] (LIMITS_KAPPA_MIN), got {kappa:g}")
    p = check_real("p", p, 0.0, LIMITS_P_MAX, low_open=True)
    return {
        key: (theory_compressibility.g_stable(a, kappa, p) if key.startswith("sas")
              else theory_compressibility.g_numeric(law, kappa, p))
        for key, (law, a, _d) in convergence_laws().items()
    }


def g_curves(kappas, nus=(2.5, 3.0, 5.0, 10.0), sas_alphas=(1.2, 1.5, 1.8, 2.0)) -> tuple[dict, dict]:
    """Panel (b): ({label: G_2(κ)} for Student-t_ν and the normal law, {label: G_1(κ)} for SαS laws)."""
    student = theory_compressibility.closed_form("student_t")
    curves_t = {rf"$t_{{{nu:g}}}$": student(kappas, 2.0, nu=nu) for nu in nus}
    curves_t["normal"] = theory_compressibility.closed_form("normal")(kappas, 2.0)
    curves_sas = {rf"$\alpha={a:g}$": theory_compressibility.g_stable(a, kappas, 1.0) for a in sas_alphas}
    return curves_t, curves_sas


def figure_data(
    ns,
    kappa: float = 0.1,
    p: float = 2.0,
    n_seeds: int = 8,
    barsbey: dict | None = None,
    eps: float = 0.1,
    seed: Any = 0,
) -> dict:
    """Everything the compressibility figure shows (:func:`simulations.compressibility.plots.compressibility_figure`).

    (a) :func:`convergence_study` on ``ns`` with its limits :func:`convergence_limits`; (b)
    :func:`g_curves` on 201 values of κ; (c) :func:`barsbey_synthetic_study` (keyword arguments
    ``barsbey``) and the Gaussian limit of the prunable fraction at relative error ``eps``,
    1 − κ* with G_2(κ*) = ε (:func:`theory.compressibility.limit_prunable_fraction`). The
    simulations draw from ``child(seed, "convergence")`` and ``child(seed, "barsbey")``.
    """
    ss = seeding.seed_sequence(seed)
    kappas = np.linspace(0.0, 1.0, 201)
    curves_t, curves_sas = g_curves(kappas)
    normal = theory_compressibility.closed_form("normal")
    return {
        "ns": list(ns),
        "kappa": kappa,
        "p": p,
        "eps": eps,
        "ratios": convergence_study(ns, kappa, p, n_seeds, seed=seeding.child(ss, "convergence")),
        "limits": convergence_limits(kappa, p),
        "kappas": kappas,
        "curves_t": curves_t,
        "curves_sas": curves_sas,
        "barsbey": barsbey_synthetic_study(**(barsbey or {}), eps=eps, seed=seeding.child(ss, "barsbey")),
        "gaussian_level": theory_compressibility.limit_prunable_fraction(lambda k: normal(k, 2.0), eps),
    }
