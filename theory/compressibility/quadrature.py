"""G_p[F](κ) for any frozen ``scipy.stats`` continuous law, by adaptive quadrature.

G_p[F](κ)^p = E[|X|^p 1{|X| ≤ t_κ}] / E|X|^p with P(|X| > t_κ) = κ (Gribonval, Cevher &
Davies 2012, IEEE Trans. Inf. Theory 58(8), Prop. 1), and G_p = 0 on (0, 1] when E|X|^p = ∞.
Whether the moment is finite is read off the family's tail index (:func:`moment_is_finite`);
the two integrals are computed in s = log x over pieces cut at quantiles of |X|, so heavy
tails and narrow peaks both keep full relative accuracy.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import integrate, optimize, stats

from theory.compressibility.common import check_kappa, check_p, g_from_power, scalar_or_array
from theory.compressibility.stable_law import g_stable
from theory.validation import check_bool

__all__ = ["g_numeric", "moment_is_finite"]


# ----------------------------------------------------------------------------------------------
# moment finiteness from a scipy law's family parameters
# ----------------------------------------------------------------------------------------------
# tail index a of P(|X| > t) ~ c t^{-a}; E|X|^p < ∞ iff p < a (None: all moments finite)
_TAIL_INDEX: dict[str, Callable[[dict], float | None]] = {
    "pareto": lambda s: s["b"],
    "lomax": lambda s: s["c"],
    "t": lambda s: s["df"],
    "cauchy": lambda s: 1.0,
    "halfcauchy": lambda s: 1.0,
    "levy": lambda s: 0.5,
    "levy_l": lambda s: 0.5,
    "levy_stable": lambda s: None if s["alpha"] == 2.0 else s["alpha"],
    "genpareto": lambda s: None if s["c"] <= 0 else 1.0 / s["c"],
    "invweibull": lambda s: s["c"],
    "burr": lambda s: s["c"],
    "burr12": lambda s: s["c"] * s["d"],
    "fisk": lambda s: s["c"],
    "loglaplace": lambda s: s["c"],
    "invgamma": lambda s: s["a"],
    "f": lambda s: s["dfd"] / 2.0,
    "betaprime": lambda s: s["b"],
    "mielke": lambda s: s["s"],
    "pareto2": lambda s: s["c"],
}
# families whose every absolute moment is finite
_LIGHT = {
    "norm", "halfnorm", "laplace", "gennorm", "halfgennorm", "expon", "uniform", "gamma",
    "logistic", "weibull_min", "beta", "truncnorm", "lognorm", "chi", "chi2", "rayleigh",
    "maxwell", "hypsecant", "gumbel_r", "gumbel_l", "exponnorm", "laplace_asymmetric",
    "triang", "semicircular", "cosine", "arcsine", "truncexpon", "powerlaw", "exponweib",
    "genlogistic", "gausshyper", "foldnorm", "nakagami", "rice", "skewnorm", "norminvgauss",
    "genhyperbolic", "johnsonsu", "johnsonsb", "dweibull", "dgamma", "kappa4", "loggamma",
    "moyal", "gompertz", "invgauss", "wald", "recipinvgauss", "argus", "crystalball",
}


def _shape_dict(dist) -> dict:
    names = [s.strip() for s in dist.dist.shapes.split(",")] if dist.dist.shapes else []
    vals = dict(zip(names, dist.args[: len(names)]))
    vals.update({k: v for k, v in dist.kwds.items() if k in names})
    return {k: float(v) for k, v in vals.items()}


def moment_is_finite(dist, p: float = 2.0) -> bool:
    """Whether E|X|^p < ∞ for a frozen scipy law, decided from its family and shape parameters.

    Raises ``ValueError`` for families not in the built-in tables (pass
    ``moment_finite=`` to :func:`g_numeric` then).
    """
    _check_dist(dist)
    p = check_p(p)
    name = dist.dist.name
    if name in _LIGHT:
        if name == "crystalball":  # power-law left tail of order m
            return p < _shape_dict(dist)["m"] - 1.0
        return True
    if name in _TAIL_INDEX:
        a = _TAIL_INDEX[name](_shape_dict(dist))
        return True if a is None else bool(p < a)
    raise ValueError(
        f"cannot decide from its parameters whether E|X|^p is finite for the scipy law {name!r}: "
        "pass moment_finite=True or False"
    )


def _check_dist(dist) -> None:
    if not isinstance(dist, stats._distn_infrastructure.rv_continuous_frozen):
        raise TypeError(f"dist must be a frozen scipy.stats continuous distribution, got {type(dist).__name__}")


# ----------------------------------------------------------------------------------------------
# general numeric G_p
# ----------------------------------------------------------------------------------------------
def _is_symmetric(dist) -> bool:
    xs = dist.isf([0.4, 0.25, 0.1, 1e-2, 1e-4])
    if not np.all(np.isfinite(xs)) or np.any(xs <= 0):
        return False
    lo = dist.cdf(-xs)
    hi = dist.sf(xs)
    return bool(np.all(np.abs(lo - hi) <= 1e-10 * hi + 1e-15))


class _AbsLaw:
    """Density, survival function and quantile of |X| for a frozen scipy law."""

    def __init__(self, dist):
        self.dist = dist
        self.sym = _is_symmetric(dist)
        lo, hi = dist.support()
        self.nonneg = bool(lo >= 0)
        self.lo = 0.0 if lo < 0 < hi else min(abs(lo), abs(hi))
        self.hi = max(abs(lo), abs(hi))

    def pdf(self, x):
        return self.dist.pdf(x) + self.dist.pdf(-x)

    def sf(self, t):
        if self.sym:
            return 2.0 * self.dist.sf(t)
        return self.dist.sf(t) + self.dist.cdf(-t)

    def isf(self, q: float) -> float:
        """t with P(|X| > t) = q, q ∈ (0, 1)."""
        if self.sym:
            return float(self.dist.isf(q / 2.0))
        if self.nonneg:
            return float(self.dist.isf(q))
        lo = max(self.lo, 1e-300)
        hi = self.hi if math.isfinite(self.hi) else max(1.0, lo)
        if not math.isfinite(self.hi):
            while self.sf(hi) > q:
                hi *= 2.0
        if self.lo == 0.0:
            lo = min(hi, 1.0)
            while self.sf(lo) < q and lo > 1e-300:
                lo /= 2.0
        return float(optimize.brentq(lambda t: self.sf(t) - q, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=400))


def _h(law: _AbsLaw, p: float, s: float) -> float:
    """Integrand of E|X|^p in s = log x: x^{p+1} f_{|X|}(x); 0 where x over/underflows (negligible there)."""
    if s > 700.0 / (p + 1.0) or s < -700.0:
        return 0.0
    x = math.exp(s)
    v = math.exp((p + 1.0) * s) * float(law.pdf(x))
    # scipy pdfs can return nan at extreme arguments (0·inf); the density is negligible there
    return v if math.isfinite(v) else 0.0


def _moment_pieces(law: _AbsLaw, p: float, cuts_s: np.ndarray) -> np.ndarray:
    """∫ x^p f_{|X|}(x) dx over the log-x intervals (−∞|log lo, c0), (c0, c1), …, (c_last, ∞|log hi)."""

    def h(s):
        return _h(law, p, s)

    s_lo = math.log(law.lo) if law.lo > 0 else -np.inf
    s_hi = math.log(law.hi) if math.isfinite(law.hi) else np.inf
    edges = np.concatenate([[s_lo], cuts_s, [s_hi]])
    out = np.empty(edges.size - 1)
    for i in range(edges.size - 1):
        a, b = edges[i], edges[i + 1]
        if not b > a:
            out[i] = 0.0
            continue
        val, _err = integrate.quad(h, a, b, limit=200, epsabs=0.0, epsrel=1e-12)
        out[i] = val
    return out


def g_numeric(dist, kappa, p: float = 2.0, *, moment_finite: bool | None = None):
    """G_p[F](κ) for a frozen ``scipy.stats`` continuous law F, by quadrature.

    Parameters
    ----------
    dist : frozen scipy.stats continuous distribution
        The law of one entry X (any location/scale; G depends on the law of |X|).
    kappa : float or array in [0, 1]
        Fraction of entries kept.
    p : float > 0
    moment_finite : bool, optional
        Whether E|X|^p < ∞. By default decided from the family's shape
        parameters (:func:`moment_is_finite`); required for other families.

    Returns
    -------
    G_p(κ) (float or array). If E|X|^p = ∞: 1 at κ = 0 and 0 for κ ∈ (0, 1]
    (Gribonval, Cevher & Davies 2012).

    Method: G^p = B(t_κ)/(B(t_κ) + T(t_κ)) with B, T the integrals of
    x^p f_{|X|}(x) below and above the quantile t_κ (P(|X| > t_κ) = κ), each
    computed by adaptive quadrature in s = log x over pieces cut at quantiles
    of |X|, so both the small and the large side keep full relative accuracy.
    Symmetric laws are detected (cdf(−x) = sf(x)) and use isf(κ/2) directly.
    A symmetric ``levy_stable`` law is routed to :func:`g_stable`.
    """
    _check_dist(dist)
    p = check_p(p)
    k, scalar = check_kappa(kappa)
    if moment_finite is None:
        finite = moment_is_finite(dist, p)
    else:
        finite = check_bool("moment_finite", moment_finite)
    if not finite:
        return scalar_or_array(np.where(k == 0.0, 1.0, 0.0), scalar)
    if dist.dist.name == "levy_stable":
        sh = _shape_dict(dist)
        if sh["beta"] == 0.0 and float(dist.kwds.get("loc", dist.args[2] if len(dist.args) > 2 else 0.0)) == 0.0:
            return g_stable(sh["alpha"], kappa, p)
    with np.errstate(all="ignore"):
        return scalar_or_array(_g_numeric_quad(dist, k, p), scalar)


def _g_numeric_quad(dist, k: np.ndarray, p: float) -> np.ndarray:
    law = _AbsLaw(dist)
    levels = np.array([1 - 1e-12, 1 - 1e-8, 1 - 1e-4, 0.99, 0.9, 0.5, 0.1, 1e-2, 1e-4, 1e-8, 1e-12, 1e-16])
    inner = np.array([law.isf(q) for q in levels])
    inner = inner[(inner > law.lo) & (inner < law.hi) & (inner > 0)]
    cuts = np.unique(np.log(inner))
    pieces = _moment_pieces(law, p, cuts)
    edges = np.concatenate([[-np.inf], cuts, [np.inf]])

    def h(u):
        return _h(law, p, u)

    def g_pow(kk: float) -> float:
        t = law.isf(kk)
        if not (t > law.lo):
            return 0.0
        s = math.log(t)
        j = int(np.searchsorted(edges, s, side="right")) - 1  # s in piece j
        left = float(np.sum(pieces[:j]))
        right = float(np.sum(pieces[j + 1 :]))
        a = max(edges[j], math.log(law.lo) if law.lo > 0 else -np.inf)
        b = min(edges[j + 1], math.log(law.hi) if math.isfinite(law.hi) else np.inf)
        if s > a:
            left += integrate.quad(h, a, s, limit=200, epsabs=0.0, epsrel=1e-12)[0]
        if b > s:
            right += integrate.quad(h, s, b, limit=200, epsabs=0.0, epsrel=1e-12)[0]
        gp = left / (left + right)
        if not math.isfinite(gp):
            raise ArithmeticError(f"quadrature failed for {dist.dist.name} at kappa={kk:g}")
        return gp

    return g_from_power(k, p, g_pow)

