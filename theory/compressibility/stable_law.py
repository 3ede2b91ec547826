"""G_p(κ) for symmetric α-stable laws: a cached density grid of |X| and the Bergström tail series.

E|X|^p < ∞ iff p < α (or α = 2), so G_p = 0 on (0, 1] for p ≥ α < 2 (Gribonval, Cevher &
Davies 2012); for p < α the density of |X| (scipy ``levy_stable.pdf``) is integrated in
log x and the far tail f(x) = (1/π) Σ_k (−1)^{k+1} Γ(αk+1)/k! sin(kπα/2) x^{−αk−1}
(Nolan 2020, *Univariate Stable Distributions*, §3.7) term by term.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import integrate, interpolate, optimize, special, stats

from theory.compressibility.closed_forms import closed_form
from theory.compressibility.common import check_kappa, check_p, g_from_power, scalar_or_array
from theory.validation import check_alpha

__all__ = ["g_stable"]

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
    p = check_p(p)
    k, scalar = check_kappa(kappa)
    if alpha == 2.0:
        return closed_form("normal")(kappa, p)
    if p >= alpha:
        return scalar_or_array(np.where(k == 0.0, 1.0, 0.0), scalar)
    s, mass, mom, x_sw, c, ks, tail_mass, tail_mom = _stable_parts(alpha, p)
    total_mass = mass[-1] + tail_mass
    total_mom = mom[-1] + tail_mom
    mass_spl = interpolate.CubicSpline(s, mass)
    mom_spl = interpolate.CubicSpline(s, mom)

    def g_pow(kk: float) -> float:
        if kk <= tail_mass:
            # quantile in the series region: Σ 2c_k t^{−αk}/(αk) = κ
            fn = lambda lt: float(np.sum(2.0 * c * np.exp(-alpha * ks * lt) / (alpha * ks))) - kk  # noqa: E731
            lt = optimize.brentq(fn, math.log(x_sw) - 1e-12, math.log(x_sw) + 800.0 / alpha, xtol=1e-15)
            above = float(np.sum(2.0 * c * np.exp((p - alpha * ks) * lt) / (alpha * ks - p)))
            return 1.0 - above / total_mom
        target = total_mass - kk  # P(|X| ≤ t) on the normalized scale
        if target <= mass[0]:
            # t below the grid: P(|X| ≤ t) ≈ f0 t
            t = target / (mass[0] / math.exp(s[0]))
            below = mom[0] * (t / math.exp(s[0])) ** (p + 1.0)
        else:
            lt = optimize.brentq(lambda u: float(mass_spl(u)) - target, s[0], s[-1], xtol=1e-14)
            below = float(mom_spl(lt))
        return below / total_mom

    out = g_from_power(k, p, g_pow)
    return scalar_or_array(out, scalar)
