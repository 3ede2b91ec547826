"""Checks of theory.noise_injection against closed forms, Monte Carlo and the two-layer simulator."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from simulations.compressibility import api as cm
from simulations.noise_injection import ensemble as tl
from theory import noise_injection as ni


def test_step_size_bound_and_steps():
    assert ni.step_size_bound(100, 1.5) == pytest.approx(100 ** -1.75)
    assert ni.step_size_bound(1, 2.0) == 1.0
    np.testing.assert_allclose(ni.step_size_bound([10, 1000], 2.0), [1e-2, 1e-6])
    assert ni.STEP_SIZE_BOUND.subs({ni.n_sym: 16, ni.alpha_sym: 2}) == sp.Rational(1, 256)
    assert ni.satisfies_step_size_condition(1e-6, 1000, 2.0)
    assert not ni.satisfies_step_size_condition(1.01e-6, 1000, 2.0)
    assert ni.steps_required(1.0, 10_000, 1.5) == 10**7
    assert ni.chaos_rate(400) == pytest.approx(0.05)


def test_predicted_trend_and_exponent():
    assert ni.predicted_error_exponent(1.5) == pytest.approx(0.5 - 1 / 1.5)
    assert ni.predicted_error_exponent(2.0) == 0.0
    assert ni.predicted_trend(1.9, 0.1) == "decreasing"
    assert ni.predicted_trend(2.0, 1.0) == "flat" and ni.predicted_trend(1.5, 0.0) == "flat"
    assert ni.trend_consistent(1.5, 1.0, (-0.3, -0.05))
    assert not ni.trend_consistent(1.5, 1.0, (-0.3, 0.01))
    assert ni.trend_consistent(2.0, 1.0, (-0.01, 0.02))
    assert not ni.trend_consistent(2.0, 1.0, (-0.2, -0.1))
    assert ni.predicted_limit(1.5, 1.0, 0.1) == 0.0


def test_mckean_vlasov_structure():
    mv = ni.mckean_vlasov()
    s = mv["symbols"]
    # the noise enters additively with coefficient σ; the Euler scheme's noise is σ η^{1/α} ξ
    assert mv["sde"].rhs.coeff(sp.Symbol("dL^alpha_t")) == s["sigma"]
    noise_term = mv["euler"].rhs.coeff(sp.Symbol("xi_{k+1}"))
    assert sp.simplify(noise_term - s["sigma"] * s["eta"] ** (1 / s["alpha"])) == 0
    assert mv["euler"].rhs.has(mv["drift"])


@pytest.mark.parametrize("noise,d,init_var,sigma,t", [("entry", 4, 0.25, 1.0, 2.0), ("neuron", 5, 0.2, 1.0, 5.0),
                                                     ("neuron", 3, 1.0, 0.3, 1.0), ("neuron", 1, 1.0, 1.0, 1.0)])
@pytest.mark.parametrize("kappa", [0.1, 0.5])
def test_gaussian_limit_matches_monte_carlo(noise, d, init_var, sigma, t, kappa):
    """Independent oracle: sample θ = θ0 + N(0, 2σ²t) noise (per entry, or one scalar per neuron)
    and compute the relative error with simulations.compressibility.api. With 2·10⁵ neurons the
    Monte Carlo sd of the ratio is < 2·10⁻³; tolerance 0.01 (> 5 sd)."""
    rng = np.random.default_rng(7)
    n = 200_000
    th = rng.normal(0, math.sqrt(init_var), (n, d))
    v = 2 * sigma**2 * t
    th += rng.normal(0, math.sqrt(v), (n, d) if noise == "entry" else (n, 1))
    mc = cm.relative_error_at(np.linalg.norm(th, axis=1), kappa)
    g = ni.gaussian_noise_limit(kappa, d, init_var=init_var, sigma=sigma, t=t, noise=noise)
    assert g == pytest.approx(mc, abs=0.01)


def test_gaussian_limit_agrees_with_compressibility_module_for_chi_law():
    d = 6
    g = ni.gaussian_noise_limit(0.2, d, init_var=0.5, sigma=1.0, t=1.0, noise="entry")
    assert g == pytest.approx(ni.predicted_limit(2.0, 1.0, 0.2, norm_law=stats.chi(d)), rel=1e-6)


def test_gaussian_limit_matches_drift_free_simulation():
    """The simulator with x ≡ 0 (no gradient) is the drift-free picture exactly: at n = 20000 the
    pruning error must be within 0.01 of the Gaussian-noise limit (finite-n sd ~ 3·10⁻³)."""
    d, n, steps, lr, sigma = 4, 20_000, 10, 0.1, 1.0
    X, Y = np.zeros((2, d)), np.zeros((2, 1))
    for noise in ("neuron", "entry"):
        r = tl.train_ensemble(n, 2.0, sigma, lr, steps=steps, data=(X, Y), noise=noise, kappas=(0.1, 0.3), seed=3)
        for q, kappa in enumerate((0.1, 0.3)):
            g = ni.gaussian_noise_limit(kappa, d, init_var=1.0 / d, sigma=sigma, t=steps * lr, noise=noise)
            assert r.prune_error[0, -1, q] == pytest.approx(g, abs=0.01)


@given(st.one_of(st.floats(max_value=0.0), st.floats(min_value=2.0001, max_value=1e9)))
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        ni.step_size_bound(10, alpha)
    with pytest.raises(ValueError, match="alpha"):
        ni.predicted_trend(alpha, 1.0)


@given(st.floats(min_value=-1e9, max_value=-1e-9))
def test_bad_sigma_and_lr(v):
    with pytest.raises(ValueError, match="sigma"):
        ni.predicted_trend(1.5, v)
    with pytest.raises(ValueError, match="lr"):
        ni.satisfies_step_size_condition(v, 10, 1.5)


def test_other_validation():
    with pytest.raises(ValueError, match="n"):
        ni.step_size_bound(0, 1.5)
    with pytest.raises(ValueError, match="kappa"):
        ni.gaussian_noise_limit(1.5, 3, init_var=1.0, sigma=1.0, t=1.0)
    with pytest.raises(ValueError, match="noise"):
        ni.gaussian_noise_limit(0.1, 3, init_var=1.0, sigma=1.0, t=1.0, noise="layer")
    with pytest.raises(ValueError, match="norm_law"):
        ni.predicted_limit(2.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="slope_ci"):
        ni.trend_consistent(1.5, 1.0, (0.1, -0.1))


@pytest.mark.parametrize("call", [lambda n: ni.step_size_bound(n, 1.5), ni.chaos_rate])
def test_widths_are_checked_arrays(call):
    """A string width raised numpy's "could not convert string to float", naming no parameter."""
    with pytest.raises(TypeError, match="n must be an array of"):
        call("ten")
    with pytest.raises(ValueError, match="n must contain only finite"):
        call([10.0, np.inf])
    with pytest.raises(ValueError, match="n must be >= 1"):
        call([10.0, 0.5])
    assert call(np.array([1.0, 4.0])).shape == (2,)


@pytest.mark.parametrize("bad", [0.1, (0.1,), (0.1, 0.2, 0.3), "ab"])
def test_slope_ci_must_be_a_pair(bad):
    with pytest.raises(ValueError, match="slope_ci must be a pair"):
        ni.trend_consistent(1.5, 1.0, bad)


@pytest.mark.parametrize("call", [lambda n: ni.step_size_bound(n, 1.5), ni.chaos_rate])
def test_widths_are_integers_not_bools(call):
    """n=True and n=1.5 were accepted as widths."""
    with pytest.raises(TypeError, match="n must be a width"):
        call(True)
    with pytest.raises(TypeError, match="n must be a width"):
        call(np.array([True, False]))
    with pytest.raises(ValueError, match="n must hold integer widths"):
        call(1.5)
    np.testing.assert_allclose(call([1, 4.0, 1e4]), [call(1), call(4), call(10_000)])


@pytest.mark.parametrize("law", [object(), 3, "norm", stats.norm])
def test_norm_law_is_checked_even_when_unused(law):
    """norm_law=object() was ignored for σ > 0, α < 2 (limit 0) and accepted."""
    with pytest.raises(TypeError, match="norm_law"):
        ni.predicted_limit(1.5, 0.5, 0.5, norm_law=law)
    assert ni.predicted_limit(1.5, 0.5, 0.5, norm_law=stats.norm()) == 0.0


def test_error_exponent_needs_alpha_min():
    """alpha=5e-324 returned -inf (1/α overflows)."""
    with pytest.raises(ValueError, match="alpha"):
        ni.predicted_error_exponent(5e-324)
    assert ni.predicted_error_exponent(ni.ALPHA_MIN) == pytest.approx(0.5 - 1 / ni.ALPHA_MIN)


@pytest.mark.parametrize("kappa", [0.1, 0.5])
def test_gaussian_noise_limit_for_huge_noise(kappa):
    """sigma=1e300 raised OverflowError (σ² in Python floats). G_2 is scale-free: entry noise gives the
    χ²_d form, neuron noise with 2σ²td ≫ init_var the χ²_1 form."""
    d = 3
    chi_d = math.sqrt(stats.chi2.cdf(stats.chi2.ppf(1 - kappa, d), d + 2))
    chi_1 = math.sqrt(stats.chi2.cdf(stats.chi2.ppf(1 - kappa, 1), 3))
    kw = dict(init_var=1.0, sigma=1e300, t=1.0)
    assert ni.gaussian_noise_limit(kappa, d, **kw) == pytest.approx(chi_d, rel=1e-12)
    assert ni.gaussian_noise_limit(kappa, d, noise="neuron", **kw) == pytest.approx(chi_1, rel=1e-12)
    assert ni.gaussian_noise_limit(kappa, d, noise="neuron", init_var=5e-324, sigma=0.5, t=1.0) == pytest.approx(
        chi_1, rel=1e-12)
    # ordinary arguments: the same value as the variances themselves, (λ_a, λ_b) = (1 + 2σ²td, 1)
    direct = ni._quadform_g2(kappa, 1.0 + 2 * 0.25 * 1.0 * d, 1.0, d)
    assert ni.gaussian_noise_limit(kappa, d, noise="neuron", init_var=1.0, sigma=0.5, t=1.0) == pytest.approx(
        direct, rel=1e-9)
