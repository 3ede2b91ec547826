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
from theory.kesten import quadrature as Q


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


# ---------------------------------------------------------------- ησ² = lr·sigma² up to LR_SIGMA2_MAX
def _rho_large_g_mc(es2, b, d, n=400_000, seed=0):
    """ρ = log g + ½ E log((1/g − U)² + UW), g = ησ²/b (Monte Carlo of the same law, rescaled by g)."""
    rng = np.random.default_rng(seed)
    g = es2 / b
    U = rng.chisquare(b, n)
    W = rng.chisquare(d - 1, n) if d > 1 else 0.0
    return math.log(g) + 0.5 * float(np.mean(np.log((1.0 / g - U) ** 2 + U * W)))


@pytest.mark.parametrize("es2,b,d", [(1e50, 1, 1), (1e99, 2, 3), (1e99, 5, 5)])
def test_rho_at_huge_step_sizes_against_monte_carlo(es2, b, d):
    """rho(1e160, 2, 1) was nan ((1 − gU)² overflowed); up to LR_SIGMA2_MAX it is finite and right."""
    r = K.rho(es2, b, d)
    assert math.isfinite(r)
    assert abs(r - _rho_large_g_mc(es2, b, d)) < 0.02
    assert K.rho(es2 / 1e40, b, d, sigma=1e20) == pytest.approx(r, rel=1e-12)  # only ησ² matters


@pytest.mark.parametrize("call", [
    lambda: K.rho(1e160, 2, 1),
    lambda: K.rho(0.5, 5, 5, sigma=1e300),
    lambda: K.log_h(0.5, 1e300, 5, 5),
    lambda: K.h(0.5, 0.5, 5, 5, sigma=4.0881019501508383e+123),
    lambda: K.tail_index(0.5, 5, 5, sigma=1e300),
    lambda: K.h2(1e300, 5, 5),
    lambda: K.h4(0.5, 5, 5, sigma=1e300),
])
def test_lr_sigma2_above_its_limit_names_lr_and_sigma(call):
    with pytest.raises(ValueError, match=r"lr \* sigma\*\*2 must be at most LR_SIGMA2_MAX = 1e\+100"):
        call()


def test_lr_sigma2_limit_in_the_curve_and_the_monotonicity_checks():
    with pytest.raises(ValueError, match=r"max\(lrs\) \* sigma\*\*2"):
        K.tail_index_curve((0.1, 0.5), 5, 5, sigma=1e300)
    with pytest.raises(ValueError, match=r"lr \* sigma2\*\*2"):
        K.check_monotone_sigma(0.5, 1e300, 0.1, 2, 3)
    with pytest.raises(ValueError, match=r"lr2 \* sigma\*\*2"):
        K.check_monotone_lr(0.1, 1e300, 2, 3)
    with pytest.raises(ValueError, match=r"ratio \* max\(batch_sizes\) \* sigma\*\*2"):
        K.alpha_at_fixed_ratio(1e300, batch_sizes=(1, 2))
    with pytest.raises(ValueError, match=r"ratio \* max\(batch_sizes\) \* sigma\*\*2"):
        K.alpha_at_fixed_ratio(batch_sizes=(1, 2), sigma=1e300)


def test_h_and_h4_beyond_float64_raise_and_log_h_still_answers():
    """h(s) used to return inf (documented) and h4 raised OverflowError; log h is the way there."""
    lh = K.log_h(1600.0, 1e90, 5, 5)
    assert lh > 709.8 and math.isfinite(lh)
    with pytest.raises(ValueError, match=r"h\(s\) overflows float64 at s=1600.*use log_h"):
        K.h(1600.0, 1e90, 5, 5)
    with pytest.raises(ValueError, match=r"h\(4\) overflows float64 at lr=3e\+90"):
        K.h4(3e90, 5, 5)
    # below the overflow h4 is the closed form (1 − 2ησ² + ...)²-type polynomial: compare with log h(4)
    assert math.log(K.h4(1e10, 5, 5)) == pytest.approx(K.log_h(4.0, 1e10, 5, 5), rel=1e-9)


def test_critical_step_sizes_scale_as_one_over_sigma_squared():
    """lr_critical_variance(sigma=1e-300) divided by zero, lr_critical_divergence(sigma=1e223) overflowed."""
    b, d = 5, 5
    assert K.lr_critical_variance(b, d, sigma=1e100) == pytest.approx(2 * b / (b + d + 1) * 1e-200, rel=1e-15)
    c = K.lr_critical_divergence(b, d)
    assert abs(K.rho(c, b, d)) < 1e-9
    assert K.lr_critical_divergence(b, d, sigma=1e100) == pytest.approx(c * 1e-200, rel=1e-12)
    assert K.lr_critical_divergence(b, d, lr_max=1e-300) == pytest.approx(c, rel=1e-12)  # a bracket hint only
    for s in (1e-300, 5e-324, 1e300):
        with pytest.raises(ValueError, match="sigma must leave the critical step size"):
            K.lr_critical_variance(b, d, sigma=s)
    with pytest.raises(ValueError, match="sigma must leave the critical step size"):
        K.lr_critical_divergence(b, d, sigma=1e-300)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: K.lr_critical_divergence(5, 5, lr_max=-8965391554507362.0), ValueError, "lr_max"),
    (lambda: K.lr_critical_divergence(5, 5, lr_max="a"), TypeError, "lr_max"),
    (lambda: K.lr_critical_divergence(5, 5, lr_max=True), TypeError, "lr_max"),
    (lambda: K.lr_critical_divergence(5, 5, lr_max=np.array([1.0, 2.0])), TypeError, "lr_max"),
    (lambda: K.tail_index_curve((0.1, 0.5), 5, 5, xtol="a"), TypeError, "xtol"),
    (lambda: K.tail_index_curve((0.1, 0.5), 5, 5, xtol=True), TypeError, "xtol"),
    (lambda: K.check_monotone_lr("a", 0.2, 2, 3), TypeError, "lr1"),
    (lambda: K.check_monotone_lr(0.1, object(), 2, 3), TypeError, "lr2"),
    (lambda: K.check_monotone_lr(0.3, 0.2, 2, 3), ValueError, "lr1 must be less than lr2"),
    (lambda: K.check_monotone_sigma("a", 1.0, 0.1, 2, 3), TypeError, "sigma1"),
    (lambda: K.check_monotone_sigma(0.5, "a", 0.1, 2, 3), TypeError, "sigma2"),
    (lambda: K.check_monotone_batch_size(1.5, 2, 0.1, 3), TypeError, "b1"),
    (lambda: K.check_monotone_batch_size(1, "a", 0.1, 3), TypeError, "b2"),
    (lambda: K.check_monotone_batch_size(3, 2, 0.1, 3), ValueError, "b1 must be less than b2"),
    (lambda: K.check_monotone_d(1.5, 3, 0.1, 2), TypeError, "d1"),
    (lambda: K.check_monotone_d(1, "a", 0.1, 2), TypeError, "d2"),
    (lambda: K.alpha_at_fixed_ratio(batch_sizes=()), ValueError, "batch_sizes"),
])
def test_arguments_are_checked_under_their_own_names(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("call,exc,match", [
    (lambda: Q.log_h_g("a", 0.1, 2, 3), TypeError, "s"),
    (lambda: Q.log_h_g(True, 0.1, 2, 3), TypeError, "s"),
    (lambda: Q.log_h_g(float("inf"), 0.1, 2, 3), ValueError, "s"),
    (lambda: Q.log_h_g(2.1888629715034252e16, 0.1, 2, 3), ValueError, "s"),  # used to run for minutes
    (lambda: Q.log_h_g(-1.0, 0.1, 2, 3), ValueError, "s"),
    (lambda: Q.log_h_g(1.0, True, 2, 3), TypeError, "g"),
    (lambda: Q.log_h_g(1.0, 1.3e225, 2, 3), ValueError, "g"),
    (lambda: Q.log_h_g(1.0, 0.1, 0, 3), ValueError, "b"),
    (lambda: Q.log_h_g(1.0, 0.1, 1.5, 3), TypeError, "b"),
    (lambda: Q.log_h_g(1.0, 0.1, 2**63, 3), ValueError, "b"),
    (lambda: Q.log_h_g(1.0, 0.1, 2, -1), ValueError, "d"),
    (lambda: Q.log_h_g(1.0, 0.1, 2, None), TypeError, "d"),
    (lambda: Q.rho_g(-1e300, 2, 3), ValueError, "g"),
    (lambda: Q.rho_g(0.1, 10**18, 3), ValueError, "b"),
    (lambda: Q.rho_g(0.1, 2, 1.5), TypeError, "d"),
])
def test_quadrature_entry_points_check_their_arguments(call, exc, match):
    with pytest.raises(exc, match=rf"^{match} must"):
        call()


def test_quadrature_entry_points_agree_with_the_public_functions():
    assert Q.rho_g(0.3 / 2, 2, 3) == K.rho(0.3, 2, 3)
    assert Q.log_h_g(1.5, 0.3 / 2, 2, 3) == K.log_h(1.5, 0.3, 2, 3)
    r = K.rho(0.3, 2, 3)  # s in (−1, 0) is allowed (h(s) finite), and log h(s) = sρ + O(s²)
    assert Q.log_h_g(-1e-3, 0.3 / 2, 2, 3) == pytest.approx(-1e-3 * r, rel=1e-2)
