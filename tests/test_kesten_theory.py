"""theory.kesten: h(s), ρ, the tail index α, closed forms, monotonicity; agreement with SGD chains.

Oracles: nested adaptive quadrature (scipy), sympy χ² moments derived independently
here, direct simulation of M = I − (η/b)Σ a_i a_iᵀ with numpy, and Monte-Carlo
chains from simulations.kesten.chains with the Hill estimator.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as hs

from theory import kesten as K


# ----------------------------------------------------------------------------- the ‖Me₁‖² identity
@pytest.mark.parametrize("eta,b,d,sigma", [(0.4, 3, 4, 1.0), (0.2, 1, 6, 1.5), (0.9, 5, 1, 0.7)])
def test_norm_identity_by_simulation(eta, b, d, sigma):
    """‖M e₁‖² with M formed explicitly =ᵈ (1 − cσ²U)² + c²σ⁴UW (two-sample KS).

    Fixed seed; under H0 the KS p-value is uniform, so the 1e-3 cut has a 0.1%
    false-alarm rate per case (and is deterministic here).
    """
    rng = np.random.default_rng(12345)
    n = 20_000
    c = eta / b
    a = sigma * rng.standard_normal((n, b, d))
    # M e1 = e1 − c Σ_i a_i a_i1
    me1 = -c * np.einsum("nbd,nb->nd", a, a[:, :, 0])
    me1[:, 0] += 1.0
    lhs = np.sum(me1**2, axis=1)
    U = rng.chisquare(b, n)
    W = rng.chisquare(d - 1, n) if d > 1 else np.zeros(n)
    rhs = (1 - c * sigma**2 * U) ** 2 + c**2 * sigma**4 * U * W
    assert st.ks_2samp(lhs, rhs).pvalue > 1e-3
    # and h(s) is its s/2 moment: Monte-Carlo check at s = 1 (5 standard errors)
    v = np.sqrt(lhs)
    assert abs(v.mean() - K.h(1.0, eta, b, d, sigma)) < 5 * v.std() / math.sqrt(n)


def test_product_moment_is_h_power():
    """E‖M_2 M_1 e₁‖^s = h(s)² (isotropy), by simulation: 5 standard errors."""
    rng = np.random.default_rng(7)
    eta, b, d, s, n = 0.5, 2, 3, 1.0, 200_000
    c = eta / b
    x = np.zeros((n, d))
    x[:, 0] = 1.0
    for _ in range(2):
        a = rng.standard_normal((n, b, d))
        x = x - c * np.einsum("nbd,nb->nd", a, np.einsum("nbd,nd->nb", a, x))
    v = np.linalg.norm(x, axis=1) ** s
    assert abs(v.mean() - K.h(s, eta, b, d) ** 2) < 5 * v.std() / math.sqrt(n)


# ----------------------------------------------------------------------------- h(s) and ρ vs quadrature
def _h_quad(s, eta, b, d, sigma=1.0):
    """Independent oracle: adaptive quad over U (split at the kink 1/g); the W-expectation
    in closed form with mpmath's arbitrary-precision Tricomi function:
    E[(A + BW)^p] = (2B)^p U(−p, 1−k−p, A/(2B)), W ~ χ²_{d−1}, k = (d−1)/2."""
    import mpmath as mp

    mp.mp.dps = 30
    g = eta * sigma**2 / b
    ustar = 1.0 / g
    p = s / 2

    def inner(u):
        A = (1 - g * u) ** 2
        if d == 1:
            return A**p
        B = g * g * u
        k = 0.5 * (d - 1)
        return float((2 * B) ** p * mp.hyperu(-p, 1 - k - p, A / (2 * B)))

    f = lambda u: inner(u) * st.chi2.pdf(u, b)  # noqa: E731
    return sum(si.quad(f, lo, hi, epsabs=0, epsrel=1e-11, limit=200)[0] for lo, hi in [(0, ustar), (ustar, np.inf)])


@pytest.mark.parametrize(
    "s,eta,b,d,sigma", [(1.5, 0.3, 1, 1, 1.0), (0.6, 0.7, 1, 2, 1.0), (3.3, 0.2, 4, 5, 1.2), (7.3, 0.1, 3, 5, 1.0)]
)
def test_h_against_nested_quadrature(s, eta, b, d, sigma):
    assert K.h(s, eta, b, d, sigma) == pytest.approx(_h_quad(s, eta, b, d, sigma), rel=1e-8)


@pytest.mark.parametrize("eta,b,d", [(0.3, 1, 1), (0.5, 2, 3), (0.2, 5, 10), (1.2, 3, 2)])
def test_rho_against_monte_carlo(eta, b, d):
    """ρ = ½E log((1−gU)² + g²UW): 10⁶ draws, 5 standard errors (false alarm < 1e-6)."""
    rng = np.random.default_rng(99)
    n, g = 1_000_000, eta / b
    U = rng.chisquare(b, n)
    W = rng.chisquare(d - 1, n) if d > 1 else np.zeros(n)
    v = 0.5 * np.log((1 - g * U) ** 2 + g * g * U * W)
    assert abs(K.rho(eta, b, d) - v.mean()) < 5 * v.std() / math.sqrt(n)


def test_rho_against_quadrature_d1():
    g = 0.3
    f = lambda u: np.log(abs(1 - g * u)) * st.chi2.pdf(u, 1)  # noqa: E731
    ref = si.quad(f, 0, 1 / g, limit=400)[0] + si.quad(f, 1 / g, np.inf, limit=400)[0]
    assert K.rho(0.3, 1, 1) == pytest.approx(ref, abs=1e-8)


# ----------------------------------------------------------------------------- closed forms
def test_h2_symbolic_matches_expected_form():
    eta, sigma, b, d = sp.symbols("eta sigma b d", positive=True)
    expected = 1 - 2 * eta * sigma**2 + eta**2 * sigma**4 * (b + d + 1) / b
    assert sp.simplify(K.h2_symbolic() - expected) == 0
    assert sp.simplify(K.variance_boundary_symbolic() - 2 * b / (sigma**2 * (b + d + 1))) == 0


def _h4_by_hand(eta, b, d, sigma):
    """E[((1−gU)² + g²UW)²] from raw χ² moments, written out independently of the module."""
    g = eta * sigma**2 / b
    EU = [1, b, b * (b + 2), b * (b + 2) * (b + 4), b * (b + 2) * (b + 4) * (b + 6)]
    k = d - 1
    EW, EW2 = k, k * (k + 2)
    e1 = sum(math.comb(4, i) * (-g) ** i * EU[i] for i in range(5))  # E(1−gU)^4
    e2 = g**2 * EW * (EU[1] - 2 * g * EU[2] + g * g * EU[3])  # E[U(1−gU)²] E W
    e3 = g**4 * EU[2] * EW2
    return e1 + 2 * e2 + e3


@given(
    eta=hs.floats(0.01, 2.0),
    b=hs.integers(1, 12),
    d=hs.integers(1, 30),
    sigma=hs.floats(0.3, 2.0),
)
def test_h2_h4_integrals_equal_closed_forms(eta, b, d, sigma):
    assume(eta * sigma**2 / b < 3.0)
    assert K.h(2.0, eta, b, d, sigma) == pytest.approx(K.h2(eta, b, d, sigma), rel=1e-9)
    assert K.h2(eta, b, d, sigma) == pytest.approx(1 - 2 * eta * sigma**2 + eta**2 * sigma**4 * (b + d + 1) / b, rel=1e-12)
    assert K.h4(eta, b, d, sigma) == pytest.approx(_h4_by_hand(eta, b, d, sigma), rel=1e-10)
    assert K.h(4.0, eta, b, d, sigma) == pytest.approx(K.h4(eta, b, d, sigma), rel=1e-8)


@pytest.mark.parametrize("b,d,sigma", [(1, 1, 1.0), (2, 3, 1.0), (5, 10, 0.5), (3, 100, 2.0)])
def test_alpha_equals_two_on_the_boundary(b, d, sigma):
    eta_c = K.lr_critical_variance(b, d, sigma)
    r = K.tail_index(eta_c, b, d, sigma)
    assert r.ok and r.alpha == pytest.approx(2.0, abs=1e-8)
    assert K.tail_index(0.99 * eta_c, b, d, sigma).alpha > 2.0
    above = K.tail_index(1.01 * eta_c, b, d, sigma)  # for large d the band α < 2 is very narrow
    assert above.status == "no_stationary_law" or above.alpha < 2.0


@pytest.mark.parametrize("eta,b,d", [(0.6, 2, 3), (0.05, 1, 1), (1.0, 5, 5)])
def test_root_solves_h_equals_one(eta, b, d):
    r = K.tail_index(eta, b, d)
    assert r.ok and r.rho < 0
    assert K.log_h(r.alpha, eta, b, d) == pytest.approx(0.0, abs=1e-9)
    assert K.log_h(0.5 * r.alpha, eta, b, d) < 0 < K.log_h(1.5 * r.alpha, eta, b, d)


def test_no_stationary_law_is_a_status():
    b, d = 2, 3
    eta_div = K.lr_critical_divergence(b, d)
    assert K.rho(eta_div, b, d) == pytest.approx(0.0, abs=1e-9)
    r = K.tail_index(1.05 * eta_div, b, d)
    assert r.status == "no_stationary_law" and r.alpha is None and r.rho >= 0 and r.finite_variance is None
    near = K.tail_index(0.98 * eta_div, b, d)
    assert near.ok and 0 < near.alpha < 0.5  # α → 0 at the divergence boundary
    curve = K.tail_index_curve(np.linspace(0.1, 2.0, 12), b, d)
    assert np.all(np.isnan(curve["alpha"]) == (curve["status"] != "ok"))
    assert set(curve["status"]) >= {"ok", "no_stationary_law"}


# ----------------------------------------------------------------------------- monotonicity
_eta = hs.floats(0.02, 1.5)
_b = hs.integers(1, 8)
_d = hs.integers(1, 20)


@given(eta=_eta, f=hs.floats(1.02, 1.5), b=_b, d=_d)
def test_alpha_decreasing_in_eta(eta, f, b, d):
    chk = K.check_monotone_lr(eta, eta * f, b, d)
    assume(chk.applies)
    assert chk.holds, chk


@given(eta=_eta, s1=hs.floats(0.5, 1.5), f=hs.floats(1.02, 1.4), b=_b, d=_d)
def test_alpha_decreasing_in_sigma(eta, s1, f, b, d):
    chk = K.check_monotone_sigma(s1, s1 * f, eta, b, d)
    assume(chk.applies)
    assert chk.holds, chk


@given(eta=_eta, b=_b, db=hs.integers(1, 5), d=_d)
def test_alpha_increasing_in_b_at_fixed_eta(eta, b, db, d):
    chk = K.check_monotone_batch_size(b, b + db, eta, d)
    assume(chk.applies)
    assert chk.holds, chk


@given(eta=_eta, b=_b, d=_d, dd=hs.integers(1, 10))
def test_alpha_decreasing_in_d(eta, b, d, dd):
    chk = K.check_monotone_d(d, d + dd, eta, b)
    assume(chk.applies)
    assert chk.holds, chk


def test_alpha_not_a_function_of_ratio():
    """At fixed η/b, α changes with b (and decreases), unlike at fixed η where it increases."""
    out = K.alpha_at_fixed_ratio(0.05, d=1, batch_sizes=(1, 5, 20, 40))
    a = out["alpha"]
    assert np.all(np.isfinite(a)) and np.ptp(a) > 1.0
    assert np.all(np.diff(a) < 0)
    assert K.tail_index(0.5, 1, 1).alpha < K.tail_index(0.5, 5, 1).alpha  # fixed η: increasing


# ----------------------------------------------------------------------------- validation
@given(bad=hs.sampled_from([0.0, -1.0, math.nan, math.inf]))
def test_invalid_eta_sigma(bad):
    with pytest.raises(ValueError, match="lr"):
        K.tail_index(bad, 2, 3)
    with pytest.raises(ValueError, match="sigma"):
        K.tail_index(0.1, 2, 3, bad)


@given(b=hs.integers(-5, 0), d=hs.integers(-5, 0))
def test_invalid_b_d(b, d):
    with pytest.raises(ValueError, match="batch_size must"):
        K.tail_index(0.1, b, 3)
    with pytest.raises(ValueError, match="d must"):
        K.tail_index(0.1, 2, d)
    with pytest.raises(ValueError, match="s must"):
        K.h(-1.0, 0.1, 2, 3)
    with pytest.raises(TypeError):
        K.tail_index(0.1, 2.5, 3)


# ----------------------------------------------------------------------------- Monte Carlo agreement
@pytest.mark.parametrize("eta,b,d", [(0.6, 2, 3), (0.9, 3, 2), (1.0, 5, 5)])
def test_theory_alpha_matches_sgd_chains(eta, b, d):
    """Hill on ‖x‖ of 8000 online chains (400 steps) vs the root of h(α) = 1.

    Tolerance 25%: the Hill estimator with k = 200 upper order statistics has
    sd ≈ α/√k ≈ 7% (asymptotic normality, √k(α̂ − α) → N(0, α²)); 25% is ~3.5 sd,
    leaving room for the second-order bias of Kesten tails (a calibration run
    with 20 000 chains, k ∈ {100, …, 800}, gave |bias| ≲ 5% at these settings).
    """
    from simulations.kesten.chains import run_sgd
    from simulations.tail_index.estimators import hill

    theory = K.tail_index(eta, b, d)
    res = run_sgd(eta, b, d, n_chains=8000, steps=400, noise_sd=1.0, seed=2024)
    assert res.n_diverged == 0
    norms = np.linalg.norm(res.final(), axis=1)
    est = hill(norms, k=200)
    assert est == pytest.approx(theory.alpha, rel=0.25)
