"""theory.kesten at the edges: tiny g = ησ²/b (α huge), bounded work, stated limits.

Oracles: the closed form h(2) = 1 − 2ησ² + η²σ⁴(b+d+1)/b written out here, mpmath quadrature of
ρ = E log|1 − gU| (d = 1) at 40 digits, the Taylor expansion of E(1 − gU)^s derived independently
here, and Monte Carlo. Every call below used to take seconds to minutes and gigabytes, or raise.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from theory import kesten as K


def _rho_mpmath_d1(g, b):
    """ρ = E log|1 − gU|, U ~ χ²_b, at 40 digits (split at the kink u = 1/g)."""
    import mpmath as mp

    mp.mp.dps = 40
    g = mp.mpf(g)
    dens = lambda u: u ** (mp.mpf(b) / 2 - 1) * mp.exp(-u / 2) / (2 ** (mp.mpf(b) / 2) * mp.gamma(mp.mpf(b) / 2))  # noqa: E731
    f = lambda u: mp.log(abs(1 - g * u)) * dens(u)  # noqa: E731
    return float(mp.quad(f, [0, 1, 10, 100, 1 / g, mp.inf]))


@pytest.mark.parametrize("lr,b,sigma", [(0.6, 2, 1e-9), (1e-9, 2, 1.0), (1e-12, 1, 1.0)])
def test_tiny_g_is_alpha_above_max_with_the_right_rho(lr, b, sigma):
    """tail_index(0.6, 2, 3, sigma=1e-9) grew to 24 GB; now: status alpha_above_max, ρ ≈ −gb."""
    for d in (1, 3):
        r = K.tail_index(lr, b, d, sigma)
        assert r.status == "alpha_above_max" and r.alpha is None and r.finite_variance
        g = lr * sigma**2 / b
        assert r.rho < 0
        assert r.rho == pytest.approx(-g * b, rel=1e-6)  # first order of E log‖Me₁‖, |next| ~ g²b²
    curve = K.tail_index_curve([1e-10, 1e-9], 2, 3, s_max=400.0)
    assert list(curve["status"]) == ["alpha_above_max"] * 2 and np.all(np.isnan(curve["alpha"]))


@pytest.mark.parametrize("g,b", [(1e-7, 1), (3e-8, 2), (1e-6, 3)])
def test_rho_small_g_against_mpmath(g, b):
    assert K.rho(g * b, b, 1) == pytest.approx(_rho_mpmath_d1(g, b), rel=1e-9)


def test_sigma_underflow_is_alpha_above_max_not_zero_division():
    r = K.tail_index(0.6, 2, 3, sigma=1e-300)  # ZeroDivisionError before
    assert r.status == "alpha_above_max" and r.alpha is None and r.rho == 0.0
    assert K.log_h(2.0, 0.6, 2, 3, sigma=1e-300) == 0.0


@pytest.mark.parametrize("lr", [1e-87, 1e-20, 1e-9, 1e-6])
@pytest.mark.parametrize("d", [1, 3])
def test_h2_tiny_lr_against_closed_form(lr, d):
    """log_h(2.0, 1e-87, 2, 3) raised "Maximum allowed size exceeded"."""
    b = 2
    exact = math.log1p(-2 * lr + lr**2 * (b + d + 1) / b)
    assert K.log_h(2.0, lr, b, d) == pytest.approx(exact, rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("s,g", [(7.5, 1e-6), (40.0, 1e-7), (400.0, 1e-9)])
def test_log_h_small_g_d1_against_taylor(s, g):
    """d = 1, b = 1: h(s) = E(1 − gU)^s + O(e^{−1/(2g)}); to second order in g,
    E(1 − gU)^s = 1 − s g + s(s−1)/2 · 3 g² − s(s−1)(s−2)/6 · 15 g³ (E U^n = 1, 1, 3, 15)."""
    taylor = 1 - s * g + s * (s - 1) / 2 * 3 * g**2 - s * (s - 1) * (s - 2) / 6 * 15 * g**3
    assert K.log_h(s, g, 1, 1) == pytest.approx(math.log(taylor), rel=1e-5)


def test_moderate_g_unchanged_root():
    """Away from the edge the root still solves h(α) = 1 and α(η) is near C/η for small η."""
    r = K.tail_index(0.01, 2, 3, s_max=400.0)
    assert r.ok and K.log_h(r.alpha, 0.01, 2, 3) == pytest.approx(0.0, abs=1e-9)


def test_rho_at_d_max_against_monte_carlo():
    """ρ at the largest allowed d agrees with Monte Carlo (5 standard errors)."""
    b, d = 2, K.D_MAX
    g = 0.3 * 2 / (b + d + 1)
    rng = np.random.default_rng(5)
    n = 400_000
    U, W = rng.chisquare(b, n), rng.chisquare(d - 1, n)
    v = 0.5 * np.log((1 - g * U) ** 2 + g * g * U * W)
    assert abs(K.rho(g * b, b, d) - v.mean()) < 5 * v.std() / math.sqrt(n)


def test_stated_limits_raise_before_work():
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, 10000\]"):
        K.tail_index(0.1, 10**12, 3)
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, 10000\]"):
        K.lr_critical_divergence(10**12, 3)
    with pytest.raises(ValueError, match=r"d must be an integer in \[1, 10000\]"):
        K.rho(0.1, 2, 10**15)
    with pytest.raises(ValueError, match=r"m must be an integer in \[0, 5\]"):
        K.h_even_symbolic(12)  # took over two minutes


def test_h_even_symbolic_at_its_maximum_matches_moments():
    """h(10) (m = 5) at b = 1, d = 1: E(1 − gU)^10 with E χ²_1^n = (2n − 1)!!."""
    import sympy as sp

    g = sp.Rational(1, 7)
    syms = {str(x): x for x in K.h_even_symbolic(K.symbolic.M_MAX).free_symbols}
    expr = K.h_even_symbolic(K.symbolic.M_MAX).subs({syms["eta"]: g, syms["sigma"]: 1, syms["b"]: 1, syms["d"]: 1})
    moments = [sp.factorial2(2 * n - 1) for n in range(11)]
    exact = sum(sp.binomial(10, n) * (-g) ** n * moments[n] for n in range(11))
    assert sp.simplify(expr - exact) == 0


@pytest.mark.parametrize("lr", [1e-87, 1e-20, 1e-12, 1e-8])
@pytest.mark.parametrize("m,b,d", [(1, 2, 3), (2, 2, 3), (2, 1, 1), (1, 5, 40)])
def test_log_h_tiny_lr_relative_accuracy(lr, m, b, d):
    """log_h(2.0, 1e-87, 2, 3) returned 0.0 (h = 1 − 4·10⁻⁸⁷ rounds to 1); the oracle is the exact
    closed form h(2m) at rational arguments, its logarithm taken at 40 digits."""
    import sympy as sp

    expr = K.h_even_symbolic(m)
    syms = {str(x): x for x in expr.free_symbols}
    val = expr.subs({syms["eta"]: sp.Rational(lr), syms["sigma"]: 1, syms["b"]: b, syms["d"]: d})
    exact = float(sp.log(val).evalf(40))
    assert K.log_h(2.0 * m, lr, b, d) == pytest.approx(exact, rel=1e-10)


def _chi2_moment_fraction(n, k):
    out = 1
    for i in range(n):
        out *= k + 2 * i
    return out


@pytest.mark.parametrize("m", [3, 4, 5])
def test_h_even_symbolic_large_m_against_binomial_moments(m):
    """m > 2 is no longer passed through simplify; the value is unchanged: h(2m) at η = 1/7, σ = 1,
    b = 2, d = 3 from ((1 − gU)² + g²UW)^m = Σ_k C(m,k) (g²UW)^k Σ_j C(2(m−k), j) (−gU)^j."""
    from fractions import Fraction
    from math import comb

    import sympy as sp

    b, d, eta = 2, 3, Fraction(1, 7)
    g = eta / b
    exact = sum(comb(m, k) * g ** (2 * k) * _chi2_moment_fraction(k, d - 1)
                * sum(comb(2 * (m - k), j) * (-g) ** j * _chi2_moment_fraction(j + k, b) for j in range(2 * (m - k) + 1))
                for k in range(m + 1))
    expr = K.h_even_symbolic(m)
    syms = {str(x): x for x in expr.free_symbols}
    val = expr.subs({syms["eta"]: sp.Rational(1, 7), syms["sigma"]: 1, syms["b"]: b, syms["d"]: d})
    assert sp.Rational(exact.numerator, exact.denominator) == sp.nsimplify(val)


def test_m_max_is_the_documented_limit():
    assert f"M_MAX` = {K.symbolic.M_MAX}" in K.h_even_symbolic.__doc__
    with pytest.raises(ValueError, match=rf"m must be an integer in \[0, {K.symbolic.M_MAX}\]"):
        K.h_even_symbolic(K.symbolic.M_MAX + 1)


def test_alpha_at_fixed_ratio_checks_every_batch_size_first():
    with pytest.raises(ValueError, match=r"batch_sizes must be an integer in \[1, 10000\]"):
        K.alpha_at_fixed_ratio(0.05, 1, batch_sizes=(1, 2, 10**12))
    with pytest.raises(TypeError, match="batch_sizes"):
        K.alpha_at_fixed_ratio(0.05, 1, batch_sizes=5)
    with pytest.raises(ValueError, match=r"d must be an integer in \[1, 10000\]"):
        K.alpha_at_fixed_ratio(0.05, 10**6)
