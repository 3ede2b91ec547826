"""theory.kesten.goldie: Goldie's tail constant of X = AX + B, against closed forms and simulated tails.

Oracles: scipy quadrature of the Lomax/Pareto integrals; scipy.stats samplers (Lomax, Pareto) and
KS tests for the stationary law; the recursion simulated here with numpy (Lomax case) and by the
numba SGD chains of simulations.kesten (1-D SGD case), whose empirical x^α P(|X| > x) at large x
is compared with C within a binomial standard error; h'(α) by finite differences of the
quadrature theory.kesten.log_h for the denominator.

Statistical tolerances: |estimate − truth| ≤ 4 combined standard errors (normal approximation:
false-alarm rate 6e-5 per comparison, the seeds fixed). The power of the tail checks is shown by
the negative controls (non-stationary X, wrong α), which the same tolerance rejects.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.special as sps
import scipy.stats as st

from theory import kesten as K
from theory.kesten import goldie as G

Z = 4.0  # standard errors allowed (two-sided normal false-alarm rate 6.3e-5)


# ----------------------------------------------------------------------------- the explicit Lomax case
@pytest.mark.parametrize("alpha", [0.5, 1.5, 2.5])
def test_lomax_closed_forms_by_quadrature(alpha):
    """E A^α = 1, m = E A^α ln A, E ln A and the numerator E[X^α − (X−1)^α] (X Pareto) by scipy quad."""
    lomax = st.lomax(alpha + 1.0)
    ex = G.lomax_perpetuity_exact(alpha)

    def expect(f):
        return si.quad(lambda t: f(t) * lomax.pdf(t), 0.0, 1.0, limit=200)[0] + \
            si.quad(lambda t: f(t) * lomax.pdf(t), 1.0, np.inf, limit=200)[0]

    assert expect(lambda t: t**alpha) == pytest.approx(1.0, rel=1e-9)
    assert expect(lambda t: t**alpha * math.log(t) if t > 0 else 0.0) == pytest.approx(ex["m"], rel=1e-8)
    assert expect(lambda t: math.log(t) if t > 0 else 0.0) == pytest.approx(ex["mean_log_a"], rel=1e-7)
    pareto = st.pareto(alpha)
    num = si.quad(lambda y: (y**alpha - (y - 1.0) ** alpha) * pareto.pdf(y), 1.0, np.inf, limit=400)[0]
    assert num == pytest.approx(ex["numerator"], rel=1e-7)
    # the harmonic number H_α = ψ(α+1) + γ, written independently as Σ_k α/(k(k+α))
    k = np.arange(1, 2_000_001, dtype=float)
    assert ex["m"] == pytest.approx(float(np.sum(alpha / (k * (k + alpha)))), rel=1e-5)
    assert ex["c"] == 1.0 and ex["numerator"] / ex["denominator"] == pytest.approx(1.0)


@pytest.mark.parametrize("alpha", [0.6, 1.5])
def test_lomax_recursion_preserves_the_pareto_law(alpha):
    """X ~ Pareto(α) and A ~ Lomax(α+1) (scipy) ⇒ AX + 1 ~ Pareto(α) (KS, p > 1e-3); the sampler's A is Lomax."""
    rng = np.random.default_rng(7)
    n = 50_000
    x = st.pareto(alpha).rvs(n, random_state=rng)
    a = st.lomax(alpha + 1.0).rvs(n, random_state=rng)
    assert st.kstest(a * x + 1.0, st.pareto(alpha).cdf).pvalue > 1e-3
    a2, b2 = G.lomax_perpetuity_sampler(alpha)(n, np.random.default_rng(8))
    assert np.all(b2 == 1.0)
    assert st.kstest(a2, st.lomax(alpha + 1.0).cdf).pvalue > 1e-3
    assert st.kstest(G.lomax_perpetuity_rvs(alpha, n, seed=9), st.pareto(alpha).cdf).pvalue > 1e-3
    # power: the recursion at another α does not preserve this Pareto law
    a3 = st.lomax(alpha + 1.5).rvs(n, random_state=rng)
    assert st.kstest(a3 * x + 1.0, st.pareto(alpha).cdf).pvalue < 1e-6


@pytest.mark.parametrize("alpha,known_m", [(0.5, False), (0.8, False), (1.2, True), (1.5, True)])
def test_goldie_formula_on_exact_stationary_samples(alpha, known_m):
    """C from scipy's Pareto X and Lomax A is 1 (C₊ = 1, C₋ = 0) within 4 se.

    Without ``m`` the denominator's terms A^α ln A have finite variance only for α < 1
    (P(A^α > t) = t^{−(α+1)/α}); above, the closed-form m is passed and only the numerator is
    estimated (finite variance for α < 2; near 2 its variance estimate is unreliable, E X^{2α−2}
    being barely finite, so α ≤ 1.5 here). Over seeds 100–104 the largest |z| was 2.3.
    """
    rng = np.random.default_rng(11)
    n = 400_000
    x = st.pareto(alpha).rvs(n, random_state=rng)
    a = st.lomax(alpha + 1.0).rvs(n, random_state=rng)
    m = G.lomax_perpetuity_exact(alpha)["m"] if known_m else None
    r = G.goldie_constant(alpha, a, np.ones(n), x, m=m)
    assert r.a_nonnegative and r.c_minus == 0.0 and r.c == r.c_plus
    assert abs(r.c - 1.0) <= Z * r.se, (r.c, r.se)
    assert abs(r.moment - 1.0) <= Z * r.moment_se + 1e-12
    assert 0.0 < r.se < 0.05
    # the formula is implicit: X from a non-stationary law (X = 1, the chain after one step from 0)
    # gives a wrong constant (exact m, so that only the numerator's law of X differs)
    wrong = G.goldie_constant(alpha, a, np.ones(n), np.ones(n), m=G.lomax_perpetuity_exact(alpha)["m"])
    assert abs(wrong.c - 1.0) > Z * wrong.se + Z * r.se


def _simulate_lomax(alpha, n, steps, rng):
    """The recursion X ← AX + 1, A ~ Lomax(α+1) by inversion, written here independently of the module."""
    x = np.zeros(n)
    for _ in range(steps):
        x = (rng.random(n) ** (-1.0 / (alpha + 1.0)) - 1.0) * x + 1.0
    return x


@pytest.mark.parametrize("alpha", [0.6, 0.9])
def test_simulated_lomax_tail_matches_goldie(alpha):
    """x^α P(X > x) of 10⁶ simulated chains (80 steps from 0) against C = 1 and the Monte Carlo C.

    At x with P(X > x) = 10⁻³ the binomial se of x^α P̂ is √(p(1−p)/n)·x^α ≈ 3.2 %; the chains are
    within e^{80 E ln A} ≈ 1e-27 of stationarity (E ln A = −H_α ≤ −0.7). ``goldie_constant_mc`` is
    seeded differently (independent samples).
    """
    n = 1_000_000
    xs = _simulate_lomax(alpha, n, 80, np.random.default_rng(21))
    mc = G.goldie_constant_mc(alpha, G.lomax_perpetuity_sampler(alpha), n=200_000, steps=80, seed=22)
    assert abs(mc.c - 1.0) <= Z * mc.se
    for p in (1e-2, 1e-3):
        x = p ** (-1.0 / alpha)
        ph = float(np.mean(xs > x))
        se = math.sqrt(p * (1 - p) / n) * x**alpha
        assert abs(ph * x**alpha - 1.0) <= Z * se, (p, ph * x**alpha, se)
        assert abs(ph * x**alpha - mc.c) <= Z * math.hypot(se, mc.se)
    assert np.all(xs >= 1.0 - 1e-12)  # the support of Pareto I: P(X < −x) = 0, C₋ = 0


def test_stationary_samples_match_the_exact_law():
    """stationary_samples of the Lomax perpetuity ~ Pareto(α) (KS, p > 1e-3); same seed, same numbers."""
    alpha = 1.2
    xs = G.stationary_samples(G.lomax_perpetuity_sampler(alpha), 40_000, steps=60, seed=3)
    assert st.kstest(xs, st.pareto(alpha).cdf).pvalue > 1e-3
    assert np.array_equal(xs, G.stationary_samples(G.lomax_perpetuity_sampler(alpha), 40_000, steps=60, seed=3))
    short = G.stationary_samples(G.lomax_perpetuity_sampler(alpha), 40_000, steps=1, seed=3)
    assert np.all(short == 1.0)  # one step from 0 gives B = 1 exactly


# ----------------------------------------------------------------------------- one-dimensional SGD
def _dlog_h(alpha, lr, b, eps=1e-5):
    """m_α = h'(α) = (d/ds) log h(s) at s = α (h(α) = 1), by a central difference of the quadrature."""
    return (K.log_h(alpha + eps, lr, b, 1) - K.log_h(alpha - eps, lr, b, 1)) / (2 * eps)


@pytest.mark.parametrize("lr,b", [(0.8, 1), (1.2, 2)])
def test_sgd_denominator_and_moment_against_quadrature(lr, b):
    """For 1-D SGD the Monte Carlo mean of |A|^α is 1 and that of |A|^α ln|A| is h'(α), within 4 se."""
    alpha = K.tail_index(lr, b, 1).alpha
    m = _dlog_h(alpha, lr, b)
    r = G.goldie_constant_mc(alpha, G.sgd_1d_sampler(lr, b), n=200_000, steps=100, seed=4)
    assert abs(r.moment - 1.0) <= Z * r.moment_se
    assert abs(r.denominator - alpha * m) <= Z * r.denominator_se
    assert abs(r.mean_log_a - K.rho(lr, b, 1)) <= 0.02  # E ln|A| = ρ (mean of 2·10⁵ terms of sd ≲ 2)
    assert not r.a_nonnegative and r.c_plus == r.c_minus == pytest.approx(r.c / 2)


@pytest.mark.parametrize("lr,b", [(0.8, 1), (1.2, 2)])
def test_sgd_chain_tail_matches_goldie(lr, b):
    """x^α P(|X| > x) of 2·10⁵ numba SGD chains (simulations.kesten.run_sgd, d = 1, 120 steps from 0; e^{120ρ} < 1e-20) against
    C = E[|AX+B|^α − |AX|^α]/(α h'(α)) (Monte Carlo numerator, quadrature h'(α)).

    x is where C x^{−α} = 5·10⁻³ (1000 exceedances; binomial se ≈ 3.2 %): measured at 10⁶ chains the
    pre-asymptotic deviation of x^α P(|X| > x) from C there is below 1 %. Both one-sided tails are C/2.
    """
    from simulations.kesten import run_sgd

    alpha = K.tail_index(lr, b, 1).alpha
    m = _dlog_h(alpha, lr, b)
    r = G.goldie_constant_mc(alpha, G.sgd_1d_sampler(lr, b), n=200_000, steps=100, seed=5, m=m)
    n = 200_000
    xs = run_sgd(lr, b, 1, n_chains=n, steps=120, seed=6).x[:, 0]
    assert np.all(np.isfinite(xs))
    p = 5e-3
    x = (r.c / p) ** (1.0 / alpha)
    for est, target, se_c, pp in ((np.mean(np.abs(xs) > x), r.c, r.se, p), (np.mean(xs > x), r.c_plus, r.se_plus, p / 2),
                                  (np.mean(xs < -x), r.c_minus, r.se_minus, p / 2)):
        se = math.sqrt(pp * (1 - pp) / n) * x**alpha
        assert abs(est * x**alpha - target) <= Z * math.hypot(se, se_c), (est * x**alpha, target, se, se_c)
    # power: the constant at a wrong index (α ± 0.15) is rejected by the same comparison
    for wrong in (alpha - 0.15, alpha + 0.15):
        est = float(np.mean(np.abs(xs) > x)) * x**wrong
        se = math.sqrt(p * (1 - p) / n) * x**wrong
        assert abs(est - r.c) > Z * math.hypot(se, r.se)


# ----------------------------------------------------------------------------- argument checks
def test_errors_name_the_parameter():
    a = np.array([0.5, 2.0, 1.0])
    with pytest.raises(ValueError, match="alpha"):
        G.goldie_constant(0.0, a, a, a)
    with pytest.raises(ValueError, match="same length"):
        G.goldie_constant(1.0, a, a[:2], a)
    with pytest.raises(TypeError, match="a"):
        G.goldie_constant(1.0, "abc", a, a)
    with pytest.raises(ValueError, match="x"):
        G.goldie_constant(1.0, a, a, np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="a: the samples"):
        G.goldie_constant(1.0, np.array([0.5, 0.25, 0.1]), a, a)  # all |a| < 1: E|A|^α ln|A| < 0
    with pytest.raises(ValueError, match="m"):
        G.goldie_constant(1.0, a, a, a, m=-1.0)
    with pytest.raises(ValueError, match="m must be in"):  # 1/(α m) would overflow
        G.goldie_constant(1.5, a, a, a, m=5e-324)
    with pytest.raises(ValueError, match="alpha"):  # U^(−1/α) would overflow
        G.lomax_perpetuity_rvs(1e-300, 5)
    with pytest.raises(ValueError, match="x: "):
        G.goldie_constant(2.0, a, a, np.full(3, 1e200))
    with pytest.raises(TypeError, match="draw_ab"):
        G.stationary_samples(3, 10)
    with pytest.raises(ValueError, match="n"):
        G.stationary_samples(G.lomax_perpetuity_sampler(1.0), 2**40)
    with pytest.raises(ValueError, match="GOLDIE_WORK_MAX"):
        G.stationary_samples(G.lomax_perpetuity_sampler(1.0), 10**7, steps=10**4)
    with pytest.raises(ValueError, match="draw_ab"):
        G.stationary_samples(lambda n, rng: (np.ones(n + 1), np.ones(n)), 10)
    with pytest.raises(ValueError, match="draw_ab"):
        G.stationary_samples(lambda n, rng: (np.full(n, 3.0), np.ones(n)), 10, steps=1000)  # diverges
    with pytest.raises(TypeError, match="seed"):
        G.stationary_samples(G.lomax_perpetuity_sampler(1.0), 10, seed="x")
    with pytest.raises(ValueError, match="lr"):
        G.sgd_1d_sampler(-1.0, 1)
    with pytest.raises(ValueError, match="batch_size"):
        G.sgd_1d_sampler(0.5, 0)
    assert sps.digamma(2.0) + np.euler_gamma == pytest.approx(G.lomax_perpetuity_exact(1.0)["m"])
