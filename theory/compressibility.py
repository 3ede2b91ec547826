r"""Compressible distributions: the limit G_p[F](κ) of the relative best k-term error.

Result encoded (Gribonval, Cevher & Davies 2012, "Compressible distributions
for high-dimensional statistics", IEEE Trans. Inf. Theory 58(8):5016–5034;
the finite-moment limit is their Prop. 1, numbering as cited by Silva &
Derpich 2015, IEEE TSP 63(11); the number of the infinite-moment statement
was not verified. See also Amini, Unser & Marvasti 2011, "Compressibility of
deterministic and random infinite sequences", IEEE TSP 59(11):5193–5201): let
x_n = (X_1, …, X_n) have iid entries with law F, let k_n/n → κ ∈ (0, 1) and
p > 0, and let Q be the quantile function of |X|.

* If E|X|^p < ∞, then almost surely

      σ_{k_n}(x_n)_p / ‖x_n‖_p  →  G_p[F](κ),
      G_p[F](κ)^p = ∫_0^{1−κ} Q(u)^p du / ∫_0^1 Q(u)^p du
                  = E[|X|^p 1{|X| ≤ t_κ}] / E|X|^p,   P(|X| > t_κ) = κ,

  the share of E|X|^p carried by |X| below its (1−κ)-quantile.
* If E|X|^p = ∞, the ratio → 0 almost surely for every κ ∈ (0, 1]
  (the law is "ℓ_p-compressible"); for P(|X| > t) ~ c t^{−α}, p > α, the
  ratio^p decays like n^{1 − p/α} (slowly when α is close to p).

Conventions here: G_p(0) = 1 and G_p(1) = 0 (keeping nothing loses
everything, keeping everything loses nothing); in the infinite-moment case
G_p(κ) = 0 for every κ ∈ (0, 1]. G_p depends on F only through the law of
|X| and is invariant to the scale of X.

Provided:

* :func:`g_numeric` — G_p for any frozen ``scipy.stats`` continuous law
  (adaptive quadrature of x^p f_{|X|}(x) in log x, split at quantiles of |X|
  so heavy tails and narrow peaks are both integrated accurately);
* :func:`g_stable` — symmetric α-stable laws (a cached density grid of |X|
  plus the convergent/asymptotic tail series of the SαS density);
* :func:`closed_form` — sympy-derived closed forms of G_p(κ)^p for the
  Pareto I, Lomax, generalized Pareto, Laplace, generalized Gaussian, normal
  and Student-t laws. Each is derived in sympy (substitution to a Beta or
  Gamma kernel, identification of the kernel exponents, the quantile from
  the survival function); :func:`derivation` returns the steps for display.

``theory`` does not import the simulation code; it uses only the shared input
validation helpers.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from scipy import integrate, interpolate, optimize, special, stats

from theory.validation import check_alpha, check_array, check_positive, check_real

__all__ = [
    "g_numeric",
    "g_stable",
    "closed_form",
    "closed_form_names",
    "derivation",
    "ClosedForm",
    "moment_is_finite",
    "limit_prunable_fraction",
    "KAPPA",
    "P",
]

KAPPA = sp.Symbol("kappa", positive=True)
P = sp.Symbol("p", positive=True)


# ----------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------
def _check_kappa(kappa: Any) -> tuple[np.ndarray, bool]:
    scalar = np.ndim(kappa) == 0
    if scalar:
        k = np.array([check_real("kappa", kappa, 0.0, 1.0)])
    else:
        k = check_array("kappa", kappa, dtype=np.float64)
        if k.size and (k.min() < 0.0 or k.max() > 1.0):
            bad = k[(k < 0.0) | (k > 1.0)][0]
            raise ValueError(f"kappa must be in [0, 1], got {bad:g}")
    return k, scalar


def _check_p(p: Any) -> float:
    return check_positive("p", p)


def _out(vals: np.ndarray, scalar: bool):
    return float(vals[0]) if scalar else vals


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
    p = _check_p(p)
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
    p = _check_p(p)
    k, scalar = _check_kappa(kappa)
    if moment_finite is None:
        finite = moment_is_finite(dist, p)
    else:
        if not isinstance(moment_finite, (bool, np.bool_)):
            raise TypeError(f"moment_finite must be a bool or None, got {type(moment_finite).__name__}")
        finite = bool(moment_finite)
    if not finite:
        return _out(np.where(k == 0.0, 1.0, 0.0), scalar)
    if dist.dist.name == "levy_stable":
        sh = _shape_dict(dist)
        if sh["beta"] == 0.0 and float(dist.kwds.get("loc", dist.args[2] if len(dist.args) > 2 else 0.0)) == 0.0:
            return g_stable(sh["alpha"], kappa, p)
    with np.errstate(all="ignore"):
        return _out(_g_numeric_quad(dist, k, p), scalar)


def _g_numeric_quad(dist, k: np.ndarray, p: float) -> np.ndarray:
    law = _AbsLaw(dist)
    levels = np.array([1 - 1e-12, 1 - 1e-8, 1 - 1e-4, 0.99, 0.9, 0.5, 0.1, 1e-2, 1e-4, 1e-8, 1e-12, 1e-16])
    inner = np.array([law.isf(q) for q in levels])
    inner = inner[(inner > law.lo) & (inner < law.hi) & (inner > 0)]
    cuts = np.unique(np.log(inner))
    pieces = _moment_pieces(law, p, cuts)
    edges = np.concatenate([[-np.inf], cuts, [np.inf]])
    out = np.empty_like(k)
    for i, kk in enumerate(k):
        if kk == 0.0:
            out[i] = 1.0
            continue
        if kk == 1.0:
            out[i] = 0.0
            continue
        t = law.isf(kk)
        if not (t > law.lo):
            out[i] = 0.0
            continue
        s = math.log(t)
        j = int(np.searchsorted(edges, s, side="right")) - 1  # s in piece j
        left = float(np.sum(pieces[:j]))
        right = float(np.sum(pieces[j + 1 :]))
        a = max(edges[j], math.log(law.lo) if law.lo > 0 else -np.inf)
        b = min(edges[j + 1], math.log(law.hi) if math.isfinite(law.hi) else np.inf)

        def h(u):
            return _h(law, p, u)

        if s > a:
            left += integrate.quad(h, a, s, limit=200, epsabs=0.0, epsrel=1e-12)[0]
        if b > s:
            right += integrate.quad(h, s, b, limit=200, epsabs=0.0, epsrel=1e-12)[0]
        gp = left / (left + right)
        if not math.isfinite(gp):
            raise ArithmeticError(f"quadrature failed for {dist.dist.name} at kappa={kk:g}")
        out[i] = min(1.0, max(0.0, gp)) ** (1.0 / p)
    return out


# ----------------------------------------------------------------------------------------------
# symmetric α-stable laws
# ----------------------------------------------------------------------------------------------
_SERIES_TERMS = 8


def _sas_series_coeffs(alpha: float) -> np.ndarray:
    """c_k with f(x) ≈ Σ_k c_k x^{−αk−1}, x → ∞, for SαS(scale 1) (Bergström series; convergent for α<1)."""
    ks = np.arange(1, _SERIES_TERMS + 1)
    return (
        (-1.0) ** (ks + 1) / np.pi * special.gamma(alpha * ks + 1.0) / special.factorial(ks)
        * np.sin(ks * np.pi * alpha / 2.0)
    )


@functools.lru_cache(maxsize=32)
def _stable_tables(alpha: float):
    """Cached grid of the |X| density of SαS(α, scale 1) in s = log x, and the switch point to the series."""
    c = _sas_series_coeffs(alpha)
    ks = np.arange(1, _SERIES_TERMS + 1)
    # switch where the truncated series is accurate: the last two kept terms (one of them can vanish,
    # sin(kπα/2) = 0) are ≤ 1e-15 of the first
    x_sw = 20.0

    def _last_terms(xx):
        return float(np.max(np.abs(c[-2:]) * xx ** (-alpha * ks[-2:])))

    while _last_terms(x_sw) > 1e-15 * abs(c[0]) * x_sw ** (-alpha) and x_sw < 1e8:
        x_sw *= 1.25
    nk = _SERIES_TERMS
    s_min = math.log(1e-6)
    s_max = math.log(x_sw)
    s = np.linspace(s_min, s_max, 1601)
    x = np.exp(s)
    f = 2.0 * stats.levy_stable.pdf(x, alpha, 0.0)
    f0 = 2.0 * special.gamma(1.0 + 1.0 / alpha) / np.pi  # density of |X| at 0
    return s, f, f0, x_sw, c[:nk], ks[:nk]


def _stable_parts(alpha: float, p: float):
    s, f, f0, x_sw, c, ks = _stable_tables(alpha)
    x = np.exp(s)
    # cumulative mass and p-moment of |X| on the grid (integration in s), plus the part below e^{s_min}
    mass_integrand = x * f
    mom_integrand = x ** (p + 1.0) * f
    mass = integrate.cumulative_simpson(mass_integrand, x=s, initial=0.0) + f0 * x[0]
    mom = integrate.cumulative_simpson(mom_integrand, x=s, initial=0.0) + f0 * x[0] ** (p + 1.0) / (p + 1.0)
    # beyond x_sw: |X| density 2 Σ c_k x^{−αk−1}
    tail_mass = float(np.sum(2.0 * c * x_sw ** (-alpha * ks) / (alpha * ks)))
    tail_mom = float(np.sum(2.0 * c * x_sw ** (p - alpha * ks) / (alpha * ks - p)))
    return s, mass, mom, x_sw, c, ks, tail_mass, tail_mom


def g_stable(alpha: float, kappa, p: float = 2.0):
    """G_p(κ) for a symmetric α-stable law (any scale; β = 0).

    E|X|^p < ∞ iff p < α (or α = 2); otherwise G = 0 on (0, 1]. For α = 2 the
    law is Gaussian and the normal closed form is used. For α < 2 the density
    of |X| is tabulated once per α (scipy ``levy_stable.pdf`` on 1601 points of
    log x ∈ [log 10⁻⁶, log x_sw]), integrated with cumulative Simpson in log x
    and interpolated with cubic splines; below 10⁻⁶ the density is constant
    (f(0) = Γ(1+1/α)/π per side) and above x_sw the Bergström series
    f(x) = (1/π) Σ_k (−1)^{k+1} Γ(αk+1)/k! sin(kπα/2) x^{−αk−1}
    (Nolan 2020, §3.7; asymptotic for α > 1) is integrated term by term,
    x_sw chosen so the truncated terms are below 10⁻¹⁴ relative.
    """
    alpha = check_alpha(alpha)
    p = _check_p(p)
    k, scalar = _check_kappa(kappa)
    if alpha == 2.0:
        return closed_form("normal")(kappa, p)
    if p >= alpha:
        return _out(np.where(k == 0.0, 1.0, 0.0), scalar)
    s, mass, mom, x_sw, c, ks, tail_mass, tail_mom = _stable_parts(alpha, p)
    total_mass = mass[-1] + tail_mass
    total_mom = mom[-1] + tail_mom
    mass_spl = interpolate.CubicSpline(s, mass)
    mom_spl = interpolate.CubicSpline(s, mom)
    out = np.empty_like(k)
    for i, kk in enumerate(k):
        if kk == 0.0:
            out[i] = 1.0
            continue
        if kk == 1.0:
            out[i] = 0.0
            continue
        if kk <= tail_mass:
            # quantile in the series region: Σ 2c_k t^{−αk}/(αk) = κ
            fn = lambda lt: float(np.sum(2.0 * c * np.exp(-alpha * ks * lt) / (alpha * ks))) - kk  # noqa: E731
            lt = optimize.brentq(fn, math.log(x_sw) - 1e-12, math.log(x_sw) + 800.0 / alpha, xtol=1e-15)
            above = float(np.sum(2.0 * c * np.exp((p - alpha * ks) * lt) / (alpha * ks - p)))
            gp = 1.0 - above / total_mom
        else:
            target = total_mass - kk  # P(|X| ≤ t) on the normalized scale
            if target <= mass[0]:
                # t below the grid: P(|X| ≤ t) ≈ f0 t
                t = target / (mass[0] / math.exp(s[0]))
                below = mom[0] * (t / math.exp(s[0])) ** (p + 1.0)
            else:
                lt = optimize.brentq(lambda u: float(mass_spl(u)) - target, s[0], s[-1], xtol=1e-14)
                below = float(mom_spl(lt))
            gp = below / total_mom
        out[i] = min(1.0, max(0.0, gp)) ** (1.0 / p)
    return _out(out, scalar)


# ----------------------------------------------------------------------------------------------
# special functions used in the closed forms (printable, lambdified to scipy.special)
# ----------------------------------------------------------------------------------------------
class RegIncBeta(sp.Function):
    """Regularized incomplete beta I_z(a, b) = ∫_0^z y^{a−1}(1−y)^{b−1} dy / B(a, b)."""

    nargs = 3

    @classmethod
    def eval(cls, a, b, z):
        if z == 0:
            return sp.S.Zero
        if z == 1:
            return sp.S.One
        if b == 1:
            return z**a
        if a == 1:
            return 1 - (1 - z) ** b

    def _latex(self, printer):
        a, b, z = (printer._print(t) for t in self.args)
        return rf"I_{{{z}}}\left({a}, {b}\right)"


class InvRegIncBeta(sp.Function):
    """Inverse in z of I_z(a, b): I_{w}(a, b) = q ⇔ w = InvRegIncBeta(a, b, q)."""

    nargs = 3

    @classmethod
    def eval(cls, a, b, q):
        if b == 1:
            return q ** (1 / a)
        if a == 1:
            return 1 - (1 - q) ** (1 / b)

    def _latex(self, printer):
        a, b, q = (printer._print(t) for t in self.args)
        return rf"I^{{-1}}_{{{q}}}\left({a}, {b}\right)"


class RegLowerGamma(sp.Function):
    """Regularized lower incomplete gamma P(a, z) = γ(a, z)/Γ(a)."""

    nargs = 2

    @classmethod
    def eval(cls, a, z):
        if z == 0:
            return sp.S.Zero

    def _latex(self, printer):
        a, z = (printer._print(t) for t in self.args)
        return rf"P\left({a}, {z}\right)"


class InvRegUpperGamma(sp.Function):
    """Inverse in z of Q(a, z) = Γ(a, z)/Γ(a): Q(a, w) = q ⇔ w = InvRegUpperGamma(a, q)."""

    nargs = 2

    @classmethod
    def eval(cls, a, q):
        if a == 1:
            return -sp.log(q)

    def _latex(self, printer):
        a, q = (printer._print(t) for t in self.args)
        return rf"Q^{{-1}}\left({a}, {q}\right)"


_NUMERIC_FUNCS = {
    "RegIncBeta": special.betainc,
    "InvRegIncBeta": special.betaincinv,
    "RegLowerGamma": special.gammainc,
    "InvRegUpperGamma": special.gammainccinv,
}


# ----------------------------------------------------------------------------------------------
# sympy derivations
# ----------------------------------------------------------------------------------------------
def _kernel_exponents(expr: sp.Expr, y: sp.Symbol, kind: str):
    """Write expr = A · y^{a−1} (1−y)^{b−1} (kind 'beta') or A · y^{a−1} e^{−y} (kind 'gamma').

    The exponents are read off the coefficients of log y, log(1−y) and y in the
    expanded logarithm; A must come out free of y (checked).
    """
    L = sp.expand(sp.expand_log(sp.log(sp.powsimp(sp.simplify(expr), force=True)), force=True))
    ly = sp.log(y)
    a1 = sp.simplify(L.coeff(ly))
    rest = sp.expand(L - a1 * ly)
    if kind == "beta":
        l1y = sp.log(1 - y)
        b1 = sp.simplify(rest.coeff(l1y))
        rest = sp.expand(rest - b1 * l1y)
        logA = sp.simplify(rest)
        if logA.has(y):
            raise RuntimeError(f"not a Beta kernel in {y}: {expr}")
        return sp.simplify(sp.exp(logA)), sp.simplify(a1 + 1), sp.simplify(b1 + 1)
    lin = sp.simplify(rest.coeff(y))
    if sp.simplify(lin + 1) != 0:
        raise RuntimeError(f"not a Gamma kernel in {y}: {expr}")
    logA = sp.simplify(rest + y)
    if logA.has(y):
        raise RuntimeError(f"not a Gamma kernel in {y}: {expr}")
    return sp.simplify(sp.exp(logA)), sp.simplify(a1 + 1)


@dataclass(frozen=True)
class _Eqn:
    """A displayed equation ``lhs = rhs`` with a LaTeX left-hand side."""

    lhs: str
    rhs: Any

    def latex(self) -> str:
        return f"{self.lhs} = {sp.latex(self.rhs)}"


def _latex(e) -> str:
    return e.latex() if isinstance(e, _Eqn) else sp.latex(e)


@dataclass
class ClosedForm:
    """A sympy-derived closed form of G_p(κ)^p for one family of laws.

    ``expr`` is G_p(κ)^p in the symbols ``KAPPA``, ``P`` and ``params``;
    ``condition`` the derived condition for E|X|^p < ∞ (when it fails,
    G_p = 0 on (0, 1]); ``steps`` the derivation as (text, sympy expression)
    pairs; ``scipy_law(**params)`` the matching frozen scipy law.
    """

    name: str
    params: tuple
    expr: sp.Expr
    condition: sp.Basic
    steps: list
    scipy_law: Callable[..., Any]
    domain: dict = field(default_factory=dict)
    _fn: Callable | None = None

    def latex(self) -> str:
        return r"G_p(\kappa)^p = " + sp.latex(self.expr)

    def _numeric(self):
        if self._fn is None:
            self._fn = sp.lambdify(
                (KAPPA, P) + tuple(self.params), self.expr, modules=[_NUMERIC_FUNCS, "scipy", "numpy"]
            )
        return self._fn

    def check_params(self, **params) -> dict:
        names = {str(s) for s in self.params}
        if set(params) != names:
            raise TypeError(f"{self.name} takes parameters {sorted(names)}, got {sorted(params)}")
        out = {}
        for key, (lo, hi) in self.domain.items():
            v = check_real(key, params[key], lo, hi, low_open=True)
            out[key] = v
        return out

    def moment_finite(self, p: float, **params) -> bool:
        vals = self.check_params(**params)
        cond = self.condition.subs({P: p, **{s: vals[str(s)] for s in self.params}})
        return bool(cond)

    def __call__(self, kappa, p: float = 2.0, **params):
        """G_p(κ) (not its p-th power) for κ in [0, 1]; 0 on (0, 1] when E|X|^p = ∞."""
        p = _check_p(p)
        vals = self.check_params(**params)
        k, scalar = _check_kappa(kappa)
        if not self.moment_finite(p, **vals):
            return _out(np.where(k == 0.0, 1.0, 0.0), scalar)
        out = np.empty_like(k)
        mid = (k > 0.0) & (k < 1.0)
        out[k == 0.0] = 1.0
        out[k == 1.0] = 0.0
        if np.any(mid):
            args = [vals[str(s)] for s in self.params]
            with np.errstate(all="ignore"):
                gp = np.asarray(self._numeric()(k[mid], p, *args), dtype=np.float64) * np.ones(int(mid.sum()))
            out[mid] = np.clip(gp, 0.0, 1.0) ** (1.0 / p)
        return _out(out, scalar)

    def scipy(self, **params):
        return self.scipy_law(**self.check_params(**params))


def _finish(name, params, steps, f_abs, x, y, x_of_y, kind, scipy_law, domain, extra_steps=()):
    """Shared tail of a derivation: substitute x = φ(y), identify the kernel, form G_p^p."""
    p = P
    kappa = KAPPA
    t = sp.Symbol("t", positive=True)
    dx = sp.diff(x_of_y, y)
    steps.append((r"Density of $|X|$ on its support", _Eqn(r"f_{|X|}(x)", f_abs)))
    steps.append((r"Substitution", sp.Eq(x, x_of_y)))
    # p-th moment integrand in y, and its kernel
    # |dx/dy|: the Beta substitutions are decreasing in y (y → 0 ⇔ x → ∞), the Gamma ones increasing
    jac = -dx if kind == "beta" else dx
    integrand_p = sp.powsimp(sp.simplify(x_of_y**p * f_abs.subs(x, x_of_y) * jac), force=True)
    integrand_0 = sp.powsimp(sp.simplify(f_abs.subs(x, x_of_y) * jac), force=True)
    a_sym, b_sym, A_sym = sp.symbols("a b A")
    if kind == "beta":
        A, a, b = _kernel_exponents(integrand_p, y, "beta")
        A0, a0, b0 = _kernel_exponents(integrand_0, y, "beta")
        norm0 = sp.simplify(sp.gammasimp(A0 * sp.beta(a0, b0)))
        steps.append((r"$x^p f_{|X|}(x)\,|dx/dy|$ is a Beta kernel $A\,y^{a-1}(1-y)^{b-1}$ with",
                      sp.Tuple(sp.Eq(A_sym, A), sp.Eq(a_sym, a), sp.Eq(b_sym, b))))
        moment = sp.gammasimp(A * sp.beta(a, b))
        y_t = sp.simplify(sp.solve(sp.Eq(x_of_y, t), y)[0])
        steps.append((r"Threshold $t$ in the $y$ variable", _Eqn(r"y_t", y_t)))
        steps.append((r"$E|X|^p = A\,B(a, b)$ (finite iff $a > 0$ and $b > 0$)", _Eqn(r"\mathbb{E}|X|^p", moment)))
        condition = sp.And(sp.Gt(a, 0), sp.Gt(b, 0))
        # survival function of |X| (p = 0): A0 B(a0,b0) I_{y_t}(a0, b0), A0 B(a0, b0) must be 1
        if sp.simplify(norm0 - 1) != 0:
            raise RuntimeError(f"{name}: density does not integrate to 1 ({norm0})")
        # which end of (0,1) does x → ∞ map to?  the tail {x > t} is y ∈ (0, y_t) if φ decreasing
        decreasing = sp.simplify(sp.limit(x_of_y, y, 0, "+")) == sp.oo
        if not decreasing:
            raise RuntimeError(f"{name}: substitution must send y → 0 to x → ∞")
        sf = RegIncBeta(a0, b0, y_t)
        steps.append((r"$P(|X| > t) = I_{y_t}(a_0, b_0)$ with $p = 0$ exponents", _Eqn(r"P(|X| > t)", sf)))
        y_k = InvRegIncBeta(a0, b0, kappa)
        steps.append((r"Solve $P(|X| > t_\kappa) = \kappa$", _Eqn(r"y_{t_\kappa}", y_k)))
        tail_share = RegIncBeta(a, b, y_k)
    else:
        A, a = _kernel_exponents(integrand_p, y, "gamma")
        A0, a0 = _kernel_exponents(integrand_0, y, "gamma")
        norm0 = sp.simplify(sp.gammasimp(A0 * sp.gamma(a0)))
        steps.append((r"$x^p f_{|X|}(x)\,|dx/dy|$ is a Gamma kernel $A\,y^{a-1}e^{-y}$ with",
                      sp.Tuple(sp.Eq(A_sym, A), sp.Eq(a_sym, a))))
        moment = sp.gammasimp(A * sp.gamma(a))
        y_t = sp.simplify(sp.solve(sp.Eq(x_of_y, t), y)[0])
        steps.append((r"Threshold $t$ in the $y$ variable", _Eqn(r"y_t", y_t)))
        steps.append((r"$E|X|^p = A\,\Gamma(a)$ (finite iff $a > 0$)", _Eqn(r"\mathbb{E}|X|^p", moment)))
        condition = sp.Gt(a, 0)
        if sp.simplify(norm0 - 1) != 0:
            raise RuntimeError(f"{name}: density does not integrate to 1 ({norm0})")
        increasing = sp.simplify(sp.limit(x_of_y, y, sp.oo)) == sp.oo
        if not increasing:
            raise RuntimeError(f"{name}: substitution must send y → ∞ to x → ∞")
        sf = 1 - RegLowerGamma(a0, y_t)
        steps.append((r"$P(|X| > t) = Q(a_0, y_t) = 1 - P(a_0, y_t)$", _Eqn(r"P(|X| > t)", sf)))
        y_k = InvRegUpperGamma(a0, kappa)
        steps.append((r"Solve $P(|X| > t_\kappa) = \kappa$", _Eqn(r"y_{t_\kappa}", y_k)))
        tail_share = 1 - RegLowerGamma(a, y_k)
    g_pow = sp.simplify(1 - tail_share)
    steps.append((r"$G_p(\kappa)^p = 1 - E[|X|^p; |X| > t_\kappa]/E|X|^p$", _Eqn(r"G_p(\kappa)^p", g_pow)))
    for text, e in extra_steps:
        steps.append((text, e(g_pow)))
    return ClosedForm(name, tuple(params), g_pow, condition, steps, scipy_law, domain)


def _pareto() -> ClosedForm:
    alpha = sp.Symbol("alpha", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = alpha * x ** (-alpha - 1)
    steps = [(r"Pareto I law, $P(X > x) = x^{-\alpha}$ for $x \ge 1$", _Eqn(r"F(x)", 1 - x**-alpha))]
    return _finish(
        "pareto", (alpha,), steps, f, x, y, y ** (-1 / alpha), "beta",
        lambda alpha: stats.pareto(b=alpha), {"alpha": (0.0, None)},
    )


def _lomax() -> ClosedForm:
    c = sp.Symbol("c", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = c * (1 + x) ** (-c - 1)
    steps = [(r"Lomax (Pareto II) law, $P(X > x) = (1+x)^{-c}$", _Eqn(r"F(x)", 1 - (1 + x) ** -c))]
    return _finish(
        "lomax", (c,), steps, f, x, y, (1 - y) / y, "beta",
        lambda c: stats.lomax(c=c), {"c": (0.0, None)},
    )


def _genpareto() -> ClosedForm:
    xi = sp.Symbol("xi", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = (1 + xi * x) ** (-1 - 1 / xi)
    steps = [(r"Generalized Pareto law, shape $\xi > 0$: $P(X > x) = (1+\xi x)^{-1/\xi}$",
              _Eqn(r"F(x)", 1 - (1 + xi * x) ** (-1 / xi)))]
    return _finish(
        "genpareto", (xi,), steps, f, x, y, (1 - y) / (xi * y), "beta",
        lambda xi: stats.genpareto(c=xi), {"xi": (0.0, None)},
    )


def _student_t() -> ClosedForm:
    nu = sp.Symbol("nu", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = 2 * sp.gamma((nu + 1) / 2) / (sp.sqrt(nu * sp.pi) * sp.gamma(nu / 2)) * (1 + x**2 / nu) ** (-(nu + 1) / 2)
    steps = [(r"Student-$t_\nu$ law (symmetric)", _Eqn(r"f(x)", f / 2))]
    return _finish(
        "student_t", (nu,), steps, f, x, y, sp.sqrt(nu * (1 - y) / y), "beta",
        lambda nu: stats.t(df=nu), {"nu": (0.0, None)},
    )


def _gennorm() -> ClosedForm:
    r = sp.Symbol("r", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = r / sp.gamma(1 / r) * sp.exp(-(x**r))
    steps = [(r"Generalized Gaussian law, $f(x) \propto e^{-|x|^r}$", _Eqn(r"f(x)", f / 2))]
    return _finish(
        "gennorm", (r,), steps, f, x, y, y ** (1 / r), "gamma",
        lambda r: stats.gennorm(beta=r), {"r": (0.0, None)},
    )


def _laplace() -> ClosedForm:
    x, y = sp.symbols("x y", positive=True)
    f = sp.exp(-x)
    steps = [(r"Laplace law, $f(x) = e^{-|x|}/2$", _Eqn(r"f(x)", f / 2))]

    def p1(g):
        g1 = sp.expand_func(g.subs(P, 1).replace(RegLowerGamma, lambda a, z: sp.lowergamma(a, z) / sp.gamma(a)))
        return _Eqn(r"G_1(\kappa)", sp.factor(sp.simplify(g1)))

    return _finish(
        "laplace", (), steps, f, x, y, y, "gamma", lambda: stats.laplace(), {},
        extra_steps=[(r"$p = 1$ (not compressible: $G_1 > 0$ for every $\kappa < 1$)", p1)],
    )


def _normal() -> ClosedForm:
    x, y = sp.symbols("x y", positive=True)
    f = sp.sqrt(2 / sp.pi) * sp.exp(-(x**2) / 2)
    steps = [(r"Standard normal law", _Eqn(r"f(x)", f / 2))]
    return _finish(
        "normal", (), steps, f, x, y, sp.sqrt(2 * y), "gamma", lambda: stats.norm(), {},
    )


_BUILDERS = {
    "pareto": _pareto,
    "lomax": _lomax,
    "genpareto": _genpareto,
    "laplace": _laplace,
    "gennorm": _gennorm,
    "normal": _normal,
    "student_t": _student_t,
}


def closed_form_names() -> tuple[str, ...]:
    return tuple(_BUILDERS)


@functools.cache
def closed_form(name: str) -> ClosedForm:
    """The sympy-derived closed form of G_p(κ)^p for the family ``name`` (see :func:`closed_form_names`).

    Families and their scipy twins: ``pareto`` (α: scipy pareto(b=α)),
    ``lomax`` (c), ``genpareto`` (ξ > 0: scipy genpareto(c=ξ)), ``laplace``,
    ``gennorm`` (r: density ∝ exp(−|x|^r), scipy gennorm(beta=r)), ``normal``,
    ``student_t`` (ν). Calling the result, ``cf(kappa, p, **params)``, returns
    G_p(κ); ``cf.latex()`` the formula; ``cf.steps`` the derivation.
    """
    if name not in _BUILDERS:
        raise ValueError(f"name must be one of {sorted(_BUILDERS)}, got {name!r}")
    return _BUILDERS[name]()


def derivation(name: str) -> list[tuple[str, str]]:
    """The derivation of ``closed_form(name)`` as (text, LaTeX) pairs, for display in a notebook."""
    cf = closed_form(name)
    rows = [(text, _latex(e)) for text, e in cf.steps]
    rows.append((r"Moment condition $E|X|^p < \infty$", sp.latex(cf.condition)))
    return rows


def limit_prunable_fraction(g: Callable[[float], float], eps: float) -> float:
    """1 − κ* with G(κ*) = ε: the limiting fraction of iid entries prunable at relative error ε.

    ``g`` is κ ↦ G_p(κ) (non-increasing from G(0) = 1 to G(1) = 0), e.g.
    ``lambda k: closed_form("normal")(k, 2.0)``. If G ≤ ε on (0, 1] (infinite
    moment) the answer is 1.
    """
    eps = check_real("eps", eps, 0.0, 1.0, low_open=True, high_open=True)
    tiny = 1e-15
    if g(tiny) <= eps:
        return 1.0
    kstar = optimize.brentq(lambda k: g(k) - eps, tiny, 1.0, xtol=1e-14, rtol=1e-13)
    return 1.0 - kstar
