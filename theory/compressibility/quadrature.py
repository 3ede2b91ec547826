"""G_p[F](κ) for any frozen ``scipy.stats`` continuous law, by adaptive quadrature.

G_p[F](κ)^p = E[|X|^p 1{|X| ≤ t_κ}] / E|X|^p with P(|X| > t_κ) = κ (Gribonval, Cevher &
Davies 2012, IEEE Trans. Inf. Theory 58(8), Prop. 1), and G_p = 0 on (0, 1] when E|X|^p = ∞.
Whether the moment is finite is read off the family's tail index (:func:`moment_is_finite`);
the two integrals are computed in s = log x over pieces cut at quantiles of |X|, so heavy
tails and narrow peaks both keep full relative accuracy. The integrand x^{p+1} f_{|X|}(x) is
evaluated in log space, each piece scaled by its own maximum, so neither a huge moment nor a
far-out peak (large p) overflows or is cut off. ``p`` is at most :data:`P_MAX` = 100 and a
positive ``kappa`` at least :data:`KAPPA_MIN` = 2^-1022 (see the constants).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import integrate, optimize, stats

from theory.compressibility.common import check_kappa, check_p, scalar_or_array
from theory.compressibility.stable_law import g_stable
from theory.validation import check_bool

__all__ = ["g_numeric", "moment_is_finite", "P_MAX", "KAPPA_MIN"]

#: largest p of :func:`g_numeric`: up to p = 100 the quadrature agrees with the closed forms
#: (normal, Laplace, generalized Gaussian r = 0.5 and 4, Student-t, Lomax) to ~1e-9 or better
#: (the tests check p = 100); beyond, G_p^p of a light-tailed law underflows (~1e-300 at p ≈ 300
#: for the normal law) and the quantile and quadrature errors are raised to the power 1/p
P_MAX = 100.0
#: smallest positive κ of :func:`g_numeric` (the smallest normal double, 2^-1022): the quantile
#: of |X| at level κ is that of X at κ/2, which is lost to underflow below it
KAPPA_MIN = 2.0**-1022


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

    def logpdf(self, x):
        """log f_{|X|}(x) (−inf outside the support)."""
        with np.errstate(all="ignore"):
            if self.sym:
                return math.log(2.0) + self.dist.logpdf(x)
            return np.logaddexp(self.dist.logpdf(x), self.dist.logpdf(-x))

    def sf(self, t):
        if self.sym:
            return 2.0 * self.dist.sf(t)
        return self.dist.sf(t) + self.dist.cdf(-t)

    def isf(self, q: float) -> float:
        """t with P(|X| > t) = q, q ∈ (0, 1)."""
        if self.sym or self.nonneg:
            qq = q / 2.0 if self.sym else q
            t = float(self.dist.isf(qq))
            if not math.isfinite(t) and qq > 0.0 and not math.isfinite(self.hi):
                t = self._isf_log(qq)   # scipy's isf can give inf far in a power tail
            return t
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

    def _isf_log(self, q: float) -> float:
        """t with sf(t) = q solved in log t on log sf (inf if sf(e^709) > q still)."""
        def f(u):
            return float(self.dist.logsf(math.exp(u))) - math.log(q)

        lo = math.log(max(float(self.dist.isf(1e-12)), 1.0))
        if not f(709.0) < 0.0:
            return math.inf
        if not f(lo) > 0.0:
            return math.inf
        return math.exp(optimize.brentq(f, lo, 709.0, xtol=1e-15, rtol=1e-15, maxiter=400))


_S_GRID = np.linspace(-745.0, 709.0, 2909)   # log x from the smallest to the largest double, step 0.5


def _log_h(law: _AbsLaw, p: float, s):
    """log of the integrand of E|X|^p in s = log x: (p+1)s + log f_{|X|}(e^s); −inf where x over/underflows
    or the density is not finite (scipy densities can give nan at extreme arguments: negligible there)."""
    s = np.asarray(s, dtype=np.float64)
    with np.errstate(all="ignore"):
        v = (p + 1.0) * s + law.logpdf(np.exp(s))
    v = np.where(np.isfinite(v) & (s <= 709.0) & (s >= -745.0), v, -np.inf)
    return v


class _LogIntegrand:
    """x^{p+1} f_{|X|}(x) in s = log x, tabulated on a coarse grid to find where it peaks."""

    def __init__(self, law: _AbsLaw, p: float):
        self.law, self.p = law, p
        self.grid = _log_h(law, p, _S_GRID)

    def peak(self) -> float | None:
        """log x of the largest integrand value (refined between grid points), None if it vanishes."""
        if not np.any(np.isfinite(self.grid)):
            return None
        i = int(np.argmax(self.grid))
        lo, hi = _S_GRID[max(i - 1, 0)], _S_GRID[min(i + 1, _S_GRID.size - 1)]
        res = optimize.minimize_scalar(lambda s: -float(_log_h(self.law, self.p, s)), bounds=(lo, hi),
                                       method="bounded", options={"xatol": 1e-6})
        return float(res.x) if np.isfinite(res.fun) else float(_S_GRID[i])

    def log_integral(self, a: float, b: float) -> float:
        """log ∫_a^b x^{p+1} f_{|X|}(x) ds, the integrand scaled by its maximum on [a, b]."""
        if not b > a:
            return -np.inf
        inside = (_S_GRID > a) & (_S_GRID < b)
        ends = [e for e in (a, b, 0.5 * (a + b)) if math.isfinite(e)]
        cand = np.concatenate([self.grid[inside], _log_h(self.law, self.p, np.array(ends, dtype=np.float64))])
        shift = float(np.max(cand)) if cand.size else -np.inf
        if not math.isfinite(shift):
            return -np.inf

        def h(s):
            return math.exp(float(_log_h(self.law, self.p, s)) - shift)

        val, _err = integrate.quad(h, a, b, limit=200, epsabs=0.0, epsrel=1e-12)
        return shift + math.log(val) if val > 0.0 else -np.inf


def _logsumexp(v) -> float:
    v = np.asarray(v, dtype=np.float64)
    if v.size == 0 or not np.any(np.isfinite(v)):
        return -np.inf
    m = float(np.max(v))
    return m + math.log(float(np.sum(np.exp(v - m))))


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

    Limits: p ∈ (0, :data:`P_MAX`] = (0, 100] and κ ∈ {0} ∪ [:data:`KAPPA_MIN`, 1] =
    {0} ∪ [2^-1022, 1] (ValueError naming the argument otherwise).

    Method: G^p = B(t_κ)/(B(t_κ) + T(t_κ)) with B, T the integrals of
    x^p f_{|X|}(x) below and above the quantile t_κ (P(|X| > t_κ) = κ), each
    computed by adaptive quadrature in s = log x over pieces cut at quantiles
    of |X| and at the integrand's peak, so both the small and the large side keep full
    relative accuracy; the pieces are summed in log space (G^p = exp(log B − log(B + T))).
    Symmetric laws are detected (cdf(−x) = sf(x)) and use isf(κ/2) directly.
    A symmetric ``levy_stable`` law is routed to :func:`g_stable`.
    """
    _check_dist(dist)
    p = check_p(p)
    if p > P_MAX:
        raise ValueError(f"p must be in (0, {P_MAX:g}] (P_MAX, where the quadrature is accurate), got {p:g}")
    k, scalar = check_kappa(kappa)
    if np.any((k > 0.0) & (k < KAPPA_MIN)):
        raise ValueError(f"kappa must be 0 or in [2**-1022, 1] (KAPPA_MIN), got {float(np.min(k[k > 0])):g}")
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
    integrand = _LogIntegrand(law, p)
    s_lo = math.log(law.lo) if law.lo > 0 else -np.inf
    s_hi = math.log(law.hi) if math.isfinite(law.hi) else np.inf
    cuts = np.log(inner)
    peak = integrand.peak()
    if peak is not None and s_lo < peak < s_hi:
        cuts = np.append(cuts, peak)
    cuts = np.unique(cuts)
    edges = np.concatenate([[s_lo], cuts, [s_hi]])
    log_pieces = np.array([integrand.log_integral(edges[i], edges[i + 1]) for i in range(edges.size - 1)])

    def log_g_pow(kk: float) -> float:
        t = law.isf(kk)
        if not math.isfinite(t):
            raise ValueError(f"kappa={kk:g}: the quantile of |X| of the {dist.dist.name} law is not finite")
        if not (t > law.lo):
            return -np.inf
        s = math.log(t)
        if s >= s_hi:
            return 0.0
        j = int(np.searchsorted(edges, s, side="right")) - 1  # s in piece j
        left = [*log_pieces[:j], integrand.log_integral(edges[j], s)]
        right = [*log_pieces[j + 1:], integrand.log_integral(s, edges[j + 1])]
        log_left, log_right = _logsumexp(left), _logsumexp(right)
        if not math.isfinite(log_left):
            return -np.inf
        lg = log_left - float(np.logaddexp(log_left, log_right))
        if math.isnan(lg):
            raise ArithmeticError(f"quadrature failed for {dist.dist.name} at kappa={kk:g}")
        return min(lg, 0.0)

    # G = exp(log G^p / p): no underflow of G^p (≪ 1e-308 for light tails at large p)
    out = np.empty_like(k)
    for i, kk in enumerate(k):
        out[i] = 1.0 if kk == 0.0 else 0.0 if kk == 1.0 else math.exp(log_g_pow(float(kk)) / p)
    return out

