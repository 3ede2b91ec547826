"""α-stable laws: closed forms in sympy, each with a fast numeric twin.

Parameterizations (Nolan 2020, *Univariate Stable Distributions*, Def. 1.7 and
Def. 1.8; Samorodnitsky & Taqqu 1994, Def. 1.1.6). ``X ~ S(α, β, γ, δ; k)``
with α ∈ (0, 2], β ∈ [−1, 1], scale γ > 0 and location δ:

* **S1** (k = 1, Samorodnitsky–Taqqu's S_α(σ, β, μ)), log-characteristic function
  ``−γ^α|t|^α [1 − iβ sgn(t) tan(πα/2)] + iδt`` (α ≠ 1) and
  ``−γ|t| [1 + iβ (2/π) sgn(t) ln|t|] + iδt`` (α = 1);
* **S0** (k = 0), continuous in all four parameters:
  ``−γ^α|t|^α [1 + iβ tan(πα/2) sgn(t)(|γt|^{1−α} − 1)] + iδt`` (α ≠ 1) and
  ``−γ|t| [1 + iβ (2/π) sgn(t) ln(γ|t|)] + iδt`` (α = 1).

The two describe the same law when δ₀ = δ₁ + βγ tan(πα/2) (α ≠ 1) or
δ₀ = δ₁ + β(2/π)γ ln γ (α = 1) (Nolan 2020, Prop. 1.3). For β = 0 they coincide.
Scale γ = 1 at α = 2 is N(0, 2), not N(0, 1).

Every result comes in two forms:

* ``*_expr(...)`` returns a :class:`sympy.Expr` in the module's symbols
  (:data:`alpha`, :data:`beta`, :data:`sigma` (the scale γ), :data:`delta`, :data:`t`, :data:`p`,
  :data:`x`), printable with :func:`sympy.latex`;
* the plain name (``cf``, ``abs_moment``, ``tail_constant``, ...) is the
  validated numeric function, built once from the expression with
  :func:`sympy.lambdify` (cached) and vectorised over NumPy arrays.

Inputs are checked with :mod:`theory.validation` (ValueError/TypeError naming
the parameter and its range). The numeric functions return finite numbers or raise: a result
that float64 cannot hold (E|X|^p or a tail term beyond ~1.8e308) is a ``ValueError`` naming the
arguments, and :func:`log_abs_mean`/:func:`log_abs_var` need α ≥ :data:`ALPHA_MIN` = 1e-150
(Var ln|X| ∝ 1/α² overflows below ~1e-154). The one documented infinity is
:func:`abs_moment` = ``inf`` for p ≥ α < 2 (an infinite moment).
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import sympy as sp

from .validation import check_alpha, check_array, check_beta, check_bool, check_choice, check_positive, check_real

__all__ = [
    "ALPHA_MIN",
    "alpha",
    "beta",
    "sigma",
    "delta",
    "t",
    "p",
    "x",
    "log_cf_expr",
    "cf_expr",
    "cf",
    "loc_s0_minus_s1_expr",
    "s0_to_s1_loc",
    "s1_to_s0_loc",
    "abs_moment_expr",
    "abs_moment",
    "log_abs_mean_expr",
    "log_abs_var_expr",
    "log_abs_mean",
    "log_abs_var",
    "tail_constant_expr",
    "tail_constant",
    "tail_asymptotic_expr",
    "tail_asymptotic",
]

# ---------------------------------------------------------------------------- symbols
alpha = sp.Symbol("alpha", positive=True)
beta = sp.Symbol("beta", real=True)
sigma = sp.Symbol("sigma", positive=True)  # scale: γ in Nolan, σ in Samorodnitsky & Taqqu
delta = sp.Symbol("delta", real=True)  # location (δ₀ or δ₁ by parameterization)
t = sp.Symbol("t", real=True)
p = sp.Symbol("p", real=True)
x = sp.Symbol("x", positive=True)

#: smallest α of :func:`log_abs_mean` and :func:`log_abs_var` (1/α² must stay far from overflow)
ALPHA_MIN = 1e-150
#: log of the largest float64 (results above exp(_LOG_MAX) are not representable)
_LOG_MAX = float(np.log(np.finfo(np.float64).max))

_PARAMS = ("S0", "S1")
_SIDES = ("two", "upper", "lower")


# ---------------------------------------------------------------------------- validation
def _alpha(a) -> float:
    return check_alpha(a)


def _beta(b) -> float:
    return check_beta(b)


def _scale(s) -> float:
    return check_positive("scale", s)


def _real(name: str, value: Any) -> float:
    return check_real(name, value)


def _array(name: str, v: Any) -> np.ndarray:
    return check_array(name, v, dtype=np.float64)


# ---------------------------------------------------------------------------- characteristic function
def log_cf_expr(param: str = "S0", alpha_is_one: bool = False) -> sp.Expr:
    """ln E e^{itX} for X ~ S(α, β, γ, δ; param), as a sympy expression in t.

    S1, α ≠ 1: −γ^α|t|^α [1 − iβ sgn(t) tan(πα/2)] + iδt;
    S1, α = 1: −γ|t| [1 + iβ(2/π) sgn(t) ln|t|] + iδt
    (Samorodnitsky & Taqqu 1994, Def. 1.1.6; Nolan 2020, Def. 1.8).
    S0, α ≠ 1: −γ^α|t|^α [1 + iβ tan(πα/2) sgn(t)(|γt|^{1−α} − 1)] + iδt;
    S0, α = 1: −γ|t| [1 + iβ(2/π) sgn(t) ln(γ|t|)] + iδt (Nolan 2020, Def. 1.7).
    With ``alpha_is_one`` the α = 1 formula is returned (α does not appear).
    """
    check_choice("param", param, _PARAMS)
    alpha_is_one = check_bool("alpha_is_one", alpha_is_one)
    I, pi = sp.I, sp.pi
    at = sp.Abs(t)
    sg = sp.sign(t)
    if alpha_is_one:
        if param == "S1":
            return -sigma * at * (1 + I * beta * 2 / pi * sg * sp.log(at)) + I * delta * t
        return -sigma * at * (1 + I * beta * 2 / pi * sg * sp.log(sigma * at)) + I * delta * t
    tan = sp.tan(pi * alpha / 2)
    if param == "S1":
        return -(sigma**alpha) * at**alpha * (1 - I * beta * sg * tan) + I * delta * t
    return -(sigma**alpha) * at**alpha * (1 + I * beta * tan * sg * ((sigma * at) ** (1 - alpha) - 1)) + I * delta * t


def cf_expr(param: str = "S0", alpha_is_one: bool = False) -> sp.Expr:
    """E e^{itX} = exp(:func:`log_cf_expr`) (same sources)."""
    return sp.exp(log_cf_expr(param, alpha_is_one))


def cf(t_values, alpha: float, beta: float = 0.0, scale: float = 1.0, loc: float = 0.0, *, param: str = "S0"):
    """Characteristic function E e^{itX}, X ~ S(α, β, scale, loc; param), at real ``t_values``.

    Numeric twin of :func:`cf_expr`, evaluated as exp(Re) · e^{i Im} of :func:`log_cf_expr`
    with v = γ|t| and u = v^α computed in log space: Re = −u (α ≠ 1) or −v (α = 1);
    Im = uβ sgn(t) tan(πα/2) + δt (S1), −β sgn(t) tan(πα/2)(v − u) + δt (S0, using
    u·v^{1−α} = v), −(2/π)βv sgn(t) ln|t| + δt (S1, α = 1) and the same with ln v (S0, α = 1).
    So a huge γ|t| gives the limit 0 (no overflow) and a tiny scale no 0·∞. At t = 0 the
    value is 1. Returns complex (array or scalar). ``ValueError`` if the phase is not
    representable (|δt| or the skewness term overflows float64 where |cf| > 0).
    """
    a = _alpha(alpha)
    b = _beta(beta)
    s = _scale(scale)
    d = _real("loc", loc)
    check_choice("param", param, _PARAMS)
    tt = _array("t_values", t_values)
    with np.errstate(all="ignore"):
        at = np.abs(tt)
        sg = np.sign(tt)
        log_v = math.log(s) + np.log(np.where(tt == 0.0, 1.0, at))
        v = np.exp(log_v)
        im = d * tt
        if a == 1.0:
            re = -v
            if b != 0.0:
                lg = log_v if param == "S0" else np.log(np.where(tt == 0.0, 1.0, at))
                im = im - (2.0 / math.pi) * b * v * sg * lg
        else:
            u = np.exp(a * log_v)
            re = -u
            if b != 0.0:
                tan = math.tan(0.5 * math.pi * a)
                im = im + (b * tan * sg * u if param == "S1" else -b * tan * sg * (v - u))
        modulus = np.exp(re)
        live = (modulus > 0.0) & (tt != 0.0)
        if np.any(live & ~np.isfinite(im)):
            raise ValueError("the phase of the characteristic function overflows float64: "
                             f"t_values, loc={d:g} or scale={s:g} too large (|loc * t| or the skewness term > 1.8e308)")
        val = np.where(live, modulus * np.exp(1j * np.where(live, im, 0.0)), 0.0 + 0.0j)
    val = np.where(tt == 0.0, 1.0 + 0.0j, val)
    return complex(val) if tt.ndim == 0 else val


# ---------------------------------------------------------------------------- S0 <-> S1
def loc_s0_minus_s1_expr(alpha_is_one: bool = False) -> sp.Expr:
    """δ₀ − δ₁ for the same law: βγ tan(πα/2) (α ≠ 1), β(2/π)γ ln γ (α = 1).

    Source: Nolan 2020, Prop. 1.3 (eq. 1.7). Checked in the tests by equating
    the two characteristic functions.
    """
    if check_bool("alpha_is_one", alpha_is_one):
        return beta * 2 / sp.pi * sigma * sp.log(sigma)
    return beta * sigma * sp.tan(sp.pi * alpha / 2)


def _shift(a: float, b: float, s: float) -> float:
    if a == 1.0:
        return b * (2.0 / math.pi) * s * math.log(s)
    return b * s * math.tan(0.5 * math.pi * a)


def s1_to_s0_loc(loc1: float, alpha: float, beta: float = 0.0, scale: float = 1.0) -> float:
    """δ₀ = δ₁ + (δ₀ − δ₁): the S0 location of the law S(α, β, scale, loc1; S1)."""
    a, b, s = _alpha(alpha), _beta(beta), _scale(scale)
    return _real("loc1", loc1) + _shift(a, b, s)


def s0_to_s1_loc(loc0: float, alpha: float, beta: float = 0.0, scale: float = 1.0) -> float:
    """δ₁ = δ₀ − (δ₀ − δ₁): the S1 location of the law S(α, β, scale, loc0; S0)."""
    a, b, s = _alpha(alpha), _beta(beta), _scale(scale)
    return _real("loc0", loc0) - _shift(a, b, s)


# ---------------------------------------------------------------------------- moments
def abs_moment_expr(gaussian: bool = False) -> sp.Expr:
    """E|X|^p for symmetric X ~ SαS(γ) (β = 0, δ = 0), −1 < p < α:

        E|X|^p = γ^p 2^p Γ((1+p)/2) Γ(1 − p/α) / (√π Γ(1 − p/2)).

    Sources: Samorodnitsky & Taqqu 1994, Property 1.2.16 (E|X|^p < ∞ iff
    p < α) and Property 1.2.17 (E|X|^p of a symmetric stable law), which
    reduces to this Gamma-function form (also in Shao & Nikias 1993, Proc.
    IEEE 81, and Nolan 2020, ch. 3; property numbers not re-checked against
    the book). Verified in the tests against quadrature of scipy's density
    and the Cauchy/Gaussian closed forms. With ``gaussian=True`` the α = 2 form
    γ^p 2^p Γ((1+p)/2)/√π = E|N(0, 2γ²)|^p, valid for every p > −1.
    """
    gaussian = check_bool("gaussian", gaussian)
    base = sigma**p * 2**p * sp.gamma((1 + p) / 2) / sp.sqrt(sp.pi)
    if gaussian:
        return base
    return base * sp.gamma(1 - p / alpha) / sp.gamma(1 - p / 2)


@functools.cache
def _log_abs_moment_fn(gaussian: bool):
    """ln E|X|^p (lambdified, Γ as ln Γ): every Γ argument is > 0 for −1 < p < α."""
    log_expr = sp.expand_log(sp.log(abs_moment_expr(gaussian)), force=True).replace(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.gamma), lambda e: sp.loggamma(e.args[0].args[0]))
    return sp.lambdify((p, alpha, sigma), log_expr, modules=["scipy", "numpy"], dummify=True)


def abs_moment(p_values, alpha: float, scale: float = 1.0):
    """E|X|^p of X ~ SαS(scale) (symmetric, S0 = S1), numeric twin of :func:`abs_moment_expr`.

    ``p_values`` (the exponents p) must be > −1 (the moment diverges at the origin otherwise:
    ValueError). For α < 2 and p ≥ α the moment is infinite and **``inf`` is returned**
    (Samorodnitsky & Taqqu 1994, Property 1.2.16), so ``abs_moment`` can be
    evaluated on a grid crossing α. At α = 2 (Gaussian N(0, 2 scale²)) every
    p > −1 is finite. Evaluated as exp(ln E|X|^p) with ln Γ, so only a moment beyond
    float64 (~1.8e308, e.g. p ≳ 340 at α = 2) is refused (ValueError naming p_values and scale).
    """
    a = _alpha(alpha)
    s = _scale(scale)
    pp = _array("p_values", p_values)
    if np.any(pp <= -1.0):
        raise ValueError(f"p_values must be in (-1, inf) (E|X|^p diverges at 0 for p <= -1), got min {pp.min():g}")
    fin = np.ones(pp.shape, dtype=bool) if a == 2.0 else pp < a
    safe = np.where(fin, pp, 0.0)
    with np.errstate(all="ignore"):
        log_val = np.asarray(_log_abs_moment_fn(a == 2.0)(safe, a, s), dtype=float)
    if np.any(fin & ~(log_val < _LOG_MAX)):
        worst = float(np.max(np.where(fin, log_val, -np.inf)))
        raise ValueError(f"E|X|^p overflows float64 (ln E|X|^p = {worst:.4g} > {_LOG_MAX:.4g}) for p_values up to "
                         f"{float(np.max(pp[fin])):g} at alpha={a:g}, scale={s:g}")
    val = np.where(fin, np.exp(log_val), np.inf)
    return float(val) if pp.ndim == 0 else val


def log_abs_mean_expr() -> sp.Expr:
    """E ln|X| = γ_E (1/α − 1) + ln γ for X ~ SαS(γ).

    Derived as d/dp ln E|X|^p at p = 0 from :func:`abs_moment_expr`
    (the tests redo that differentiation in sympy; Cauchy and Gaussian checks).
    """
    return sp.EulerGamma * (1 / alpha - 1) + sp.log(sigma)


def log_abs_var_expr() -> sp.Expr:
    """Var ln|X| = (π²/6)(1/α² + 1/2) for X ~ SαS(γ) (any γ).

    Second derivative of ln E|X|^p at p = 0 (the cumulant of ln|X|); checked
    symbolically in the tests. Enters the sd of the block-sum tail-index estimator.
    """
    return sp.pi**2 / 6 * (1 / alpha**2 + sp.Rational(1, 2))


def _alpha_log_abs(a) -> float:
    a = _alpha(a)
    if a < ALPHA_MIN:
        raise ValueError(f"alpha must be in [{ALPHA_MIN:g}, 2] (ALPHA_MIN) for the moments of ln|X|, got {a:g}")
    return a


def log_abs_mean(alpha: float, scale: float = 1.0) -> float:
    """Numeric twin of :func:`log_abs_mean_expr`; α in [:data:`ALPHA_MIN`, 2]."""
    a, s = _alpha_log_abs(alpha), _scale(scale)
    return float(np.euler_gamma * (1.0 / a - 1.0) + math.log(s))


def log_abs_var(alpha: float) -> float:
    """Numeric twin of :func:`log_abs_var_expr`; α in [:data:`ALPHA_MIN`, 2] (1/α² overflows below ~1e-154)."""
    a = _alpha_log_abs(alpha)
    return float(math.pi**2 / 6.0 * (1.0 / a**2 + 0.5))


# ---------------------------------------------------------------------------- tails
def tail_constant_expr(form: str = "gamma") -> sp.Expr:
    """Two-sided tail constant C_α: P(|X| > x) ~ C_α γ^α x^{−α} as x → ∞ (α < 2).

    ``form="gamma"``: C_α = (2/π) Γ(α) sin(πα/2);
    ``form="st"``:    C_α = (1 − α)/(Γ(2 − α) cos(πα/2)) (α ≠ 1; Samorodnitsky
    & Taqqu 1994, Property 1.2.15, whose one-sided statement is
    P(X > x) ~ C_α (1 + β)/2 σ^α x^{−α}, C_α = (∫_0^∞ x^{−α} sin x dx)^{−1};
    the same constant appears as (1/π)Γ(α)sin(πα/2)·(1 + β) in Weron's
    handbook chapter). The two forms agree by Euler's reflection formula;
    C_1 = 2/π (Cauchy). At α = 2 the law is Gaussian and the formula gives
    C_2 = 0 (no power tail). Checked in the tests against scipy's sf.
    """
    check_choice("form", form, ("gamma", "st"))
    if form == "st":
        return (1 - alpha) / (sp.gamma(2 - alpha) * sp.cos(sp.pi * alpha / 2))
    return 2 / sp.pi * sp.gamma(alpha) * sp.sin(sp.pi * alpha / 2)


def tail_constant(alpha: float) -> float:
    """C_α = (2/π) Γ(α) sin(πα/2) (two-sided; see :func:`tail_constant_expr`). 0 at α = 2.

    Evaluated as Γ(1 + α) · sin(πα/2)/(πα/2) (= np.sinc(α/2)), finite for every α ∈ (0, 2]
    (C_α → 1 as α → 0, where Γ(α) alone overflows).
    """
    a = _alpha(alpha)
    if a == 2.0:
        return 0.0
    return float(math.gamma(1.0 + a) * np.sinc(0.5 * a))


def tail_asymptotic_expr(side: str = "two") -> sp.Expr:
    """Leading term of the tail of X ~ S(α, β, γ, δ), α < 2 (Samorodnitsky & Taqqu 1994, Property 1.2.15):

    * ``"two"``:   P(|X| > x) ~ C_α γ^α x^{−α};
    * ``"upper"``: P(X > x)  ~ C_α (1 + β)/2 γ^α x^{−α};
    * ``"lower"``: P(X < −x) ~ C_α (1 − β)/2 γ^α x^{−α}.

    The location does not enter the leading term.
    """
    check_choice("side", side, _SIDES)
    lead = tail_constant_expr() * sigma**alpha * x ** (-alpha)
    if side == "two":
        return lead
    sgn = 1 if side == "upper" else -1
    return lead * (1 + sgn * beta) / 2


def tail_asymptotic(x_values, alpha: float, beta: float = 0.0, scale: float = 1.0, *, side: str = "two"):
    """Numeric twin of :func:`tail_asymptotic_expr` at ``x_values`` > 0 (α < 2 required).

    Use it where scipy's ``levy_stable.sf`` is unreliable (deep tails, α ≳ 1.3).
    It is the leading term only: the relative error is O(x^{−α}) for β = 0. Computed as
    w C_α exp(α ln(scale/x)); ``ValueError`` where that exceeds float64 (x ≪ scale, far from
    the tail where the term means anything).
    """
    a, b, s = _alpha(alpha), _beta(beta), _scale(scale)
    if a == 2.0:
        raise ValueError("alpha must be in (0, 2) for a power-law tail, got 2 (Gaussian tail)")
    check_choice("side", side, _SIDES)
    xx = _array("x_values", x_values)
    if np.any(xx <= 0):
        raise ValueError("x_values must be in (0, inf)")
    w = 1.0 if side == "two" else (0.5 * (1.0 + b) if side == "upper" else 0.5 * (1.0 - b))
    log_ratio = a * (math.log(s) - np.log(xx))
    if np.any(log_ratio >= _LOG_MAX):
        raise ValueError(f"the tail term C_alpha (scale/x)^alpha overflows float64 for x_values down to "
                         f"{float(np.min(xx)):g} at scale={s:g}, alpha={a:g} (x must not be far below the scale)")
    with np.errstate(under="ignore"):
        val = w * tail_constant(a) * np.exp(log_ratio)
    return float(val) if xx.ndim == 0 else val
