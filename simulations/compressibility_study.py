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

from typing import Any, Callable

import numpy as np
from scipy import stats

from . import stable
from .compressibility import prunable_fraction, relative_error_at
from .validation import as_generator, check_int, check_positive, check_probability, check_real

__all__ = ["ratio_vs_n", "sas_sampler", "barsbey_synthetic_study"]


def sas_sampler(alpha: float) -> Callable[[int, np.random.Generator], np.ndarray]:
    """A sampler ``(n, rng) -> n`` iid SαS(α, scale 1) draws (for :func:`ratio_vs_n`)."""
    from .validation import check_alpha

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
      vector in R^{n_rows} (:func:`simulations.stable.sub_gaussian_rvs`);
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
