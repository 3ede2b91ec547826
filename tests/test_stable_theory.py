"""theory.stable: sympy expressions, their numeric twins, and independent oracles.

Oracles: closed-form special cases (Gaussian α = 2, Cauchy α = 1, Lévy α = 1/2,
β = 1), quadrature of scipy.stats.levy_stable's density (computed by Nolan's
integral representation, not from our formulas), scipy's sf, and symbolic
identities (reflection formula, derivatives of the moment function).
Quadrature tolerances are a few times quad's own reported error.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from theory import stable as ts


@pytest.fixture
def scipy_param():
    cls = type(stats.levy_stable)
    saved = cls.__dict__["parameterization"]

    def set_param(p):
        cls.parameterization = p

    yield set_param
    cls.parameterization = saved


PARAMS = [(1.5, 0.5, 2.0, 0.3), (0.8, -0.3, 0.7, -1.0), (1.0, 0.6, 3.0, 0.2), (1.0, -1.0, 0.5, 0.0), (2.0, 0.0, 1.2, 0.4)]


# ------------------------------------------------------------------ symbolic vs numeric
@pytest.mark.parametrize("param", ["S0", "S1"])
@pytest.mark.parametrize("case", PARAMS)
def test_cf_numeric_twin_matches_sympy(param, case):
    a, b, s, d = case
    expr = ts.cf_expr(param, alpha_is_one=(a == 1.0))
    for tv in (-2.3, -0.4, 0.7, 1.9):
        sym = complex(expr.subs({ts.t: tv, ts.alpha: a, ts.beta: b, ts.sigma: s, ts.delta: d}).evalf(30))
        assert ts.cf(tv, a, b, s, d, param=param) == pytest.approx(sym, rel=1e-12, abs=1e-14)
    assert ts.cf(0.0, a, b, s, d, param=param) == 1.0


def test_moment_and_tail_twins_match_sympy():
    for a, pv, s in [(1.5, 0.6, 2.0), (0.7, -0.4, 0.3), (1.9, 1.2, 1.0)]:
        sym = float(ts.abs_moment_expr().subs({ts.alpha: a, ts.p: pv, ts.sigma: s}).evalf(30))
        assert ts.abs_moment(pv, a, s) == pytest.approx(sym, rel=1e-12)
        c = float(ts.tail_constant_expr().subs(ts.alpha, a).evalf(30))
        assert ts.tail_constant(a) == pytest.approx(c, rel=1e-13)
        for side, b in [("two", 0.0), ("upper", 0.4), ("lower", -0.2)]:
            e = ts.tail_asymptotic_expr(side).subs({ts.alpha: a, ts.beta: b, ts.sigma: s, ts.x: 7.5})
            assert ts.tail_asymptotic(7.5, a, b, s, side=side) == pytest.approx(float(e.evalf(30)), rel=1e-12)
        assert ts.log_abs_mean(a, s) == pytest.approx(
            float(ts.log_abs_mean_expr().subs({ts.alpha: a, ts.sigma: s}).evalf(30)), rel=1e-12
        )
        assert ts.log_abs_var(a) == pytest.approx(float(ts.log_abs_var_expr().subs(ts.alpha, a).evalf(30)), rel=1e-12)
    assert ts.abs_moment(3.0, 2.0, 1.5) == pytest.approx(
        float(ts.abs_moment_expr(gaussian=True).subs({ts.p: 3, ts.sigma: 1.5}).evalf(30)), rel=1e-12
    )


def test_expressions_print_as_latex():
    for e in (ts.cf_expr("S0"), ts.cf_expr("S1", True), ts.abs_moment_expr(), ts.tail_constant_expr()):
        assert isinstance(e, sp.Expr) and len(sp.latex(e)) > 10


def test_log_moments_are_derivatives_of_the_moment_function():
    """E ln|X| = d/dp E|X|^p and Var ln|X| = d²/dp² ln E|X|^p at p = 0 (symbolically)."""
    lm = sp.log(ts.abs_moment_expr())
    d1 = sp.diff(lm, ts.p).subs(ts.p, 0)
    d2 = sp.diff(lm, ts.p, 2).subs(ts.p, 0)
    assert sp.simplify(sp.expand_func(d1 - ts.log_abs_mean_expr())) == 0
    assert sp.simplify(sp.expand_func(d2 - ts.log_abs_var_expr())) == 0


def test_tail_constant_two_forms_agree():
    for a in (0.3, 0.8, 1.2, 1.5, 1.99):
        st_form = float(ts.tail_constant_expr("st").subs(ts.alpha, a))
        assert ts.tail_constant(a) == pytest.approx(st_form, rel=1e-12)
    assert float(sp.limit(ts.tail_constant_expr("st"), ts.alpha, 1)) == pytest.approx(2 / math.pi)
    assert ts.tail_constant(1.0) == pytest.approx(2 / math.pi, rel=1e-15)
    assert ts.tail_constant(2.0) == 0.0


# ------------------------------------------------------------------ closed-form special cases
def test_cf_special_cases():
    tt = np.array([-3.0, -0.5, 0.2, 1.0, 4.0])
    # α = 2: N(0, 2σ²)
    np.testing.assert_allclose(ts.cf(tt, 2.0, 0.0, 1.3), np.exp(-(1.3**2) * tt**2), rtol=1e-13)
    # α = 1, β = 0: Cauchy(δ, σ)
    np.testing.assert_allclose(ts.cf(tt, 1.0, 0.0, 0.7, 0.5), np.exp(-0.7 * np.abs(tt) + 0.5j * tt), rtol=1e-13)
    # α = 1/2, β = 1, S1: Lévy distribution with c = σ, cf exp(−√(−2iσt))
    np.testing.assert_allclose(ts.cf(tt, 0.5, 1.0, 0.8, param="S1"), np.exp(-np.sqrt(-2j * 0.8 * tt)), rtol=1e-12)


def test_s0_s1_conversion_equates_the_characteristic_functions():
    tt = np.linspace(-3, 3, 13)
    for a, b, s, d0 in PARAMS + [(1.7, -0.9, 0.4, 2.0), (1.0, 0.3, 1.0, 0.0)]:
        d1 = ts.s0_to_s1_loc(d0, a, b, s)
        np.testing.assert_allclose(ts.cf(tt, a, b, s, d0, param="S0"), ts.cf(tt, a, b, s, d1, param="S1"), rtol=1e-11)
        assert ts.s1_to_s0_loc(d1, a, b, s) == pytest.approx(d0, abs=1e-12)
        shift = ts.loc_s0_minus_s1_expr(a == 1.0).subs({ts.alpha: a, ts.beta: b, ts.sigma: s})
        assert d0 - d1 == pytest.approx(float(shift), abs=1e-12)


def test_s0_is_continuous_at_alpha_one():
    """S0's point: its cf is continuous in α at 1 for β ≠ 0 (S1's is not)."""
    tt = np.array([-2.0, -0.3, 0.5, 1.7])
    at1 = ts.cf(tt, 1.0, 0.7, 2.0, param="S0")
    for eps in (1e-6, -1e-6):
        np.testing.assert_allclose(ts.cf(tt, 1.0 + eps, 0.7, 2.0, param="S0"), at1, atol=1e-4)
    assert np.max(np.abs(ts.cf(tt, 1.0 + 1e-6, 0.7, 2.0, param="S1") - ts.cf(tt, 1.0, 0.7, 2.0, param="S1"))) > 0.1


def test_moment_special_cases():
    # Cauchy: E|X|^p = σ^p / cos(πp/2), |p| < 1
    for pv in (-0.7, -0.2, 0.3, 0.9):
        assert ts.abs_moment(pv, 1.0, 2.0) == pytest.approx(2.0**pv / math.cos(math.pi * pv / 2), rel=1e-12)
    # Gaussian N(0, 2σ²): E|X| = 2σ/√π, E X² = 2σ², E|X|^4 = 12σ⁴ (all p at α = 2)
    s = 1.3
    assert ts.abs_moment(1.0, 2.0, s) == pytest.approx(2 * s / math.sqrt(math.pi), rel=1e-13)
    assert ts.abs_moment(2.0, 2.0, s) == pytest.approx(2 * s**2, rel=1e-13)
    assert ts.abs_moment(4.0, 2.0, s) == pytest.approx(12 * s**4, rel=1e-13)
    assert ts.abs_moment(0.0, 1.3) == pytest.approx(1.0)
    # infinite at and above α
    np.testing.assert_array_equal(ts.abs_moment(np.array([1.5, 2.0, 3.0]), 1.5), np.inf)
    assert np.isfinite(ts.abs_moment(np.array([0.5, 1.49]), 1.5)).all()


def test_log_moment_special_cases():
    # Cauchy: E ln|X| = ln σ, Var = π²/4; Gaussian N(0,2): E ln|X| = −γ_E/2, Var = π²/8
    assert ts.log_abs_mean(1.0, 3.0) == pytest.approx(math.log(3.0))
    assert ts.log_abs_var(1.0) == pytest.approx(math.pi**2 / 4)
    assert ts.log_abs_mean(2.0) == pytest.approx(-np.euler_gamma / 2)
    assert ts.log_abs_var(2.0) == pytest.approx(math.pi**2 / 8)


# ------------------------------------------------------------------ against scipy's density
@pytest.mark.parametrize("case", [(1.5, 0.5, 0.7), (0.8, -0.3, 1.3), (1.0, 0.5, 0.7)])
def test_cf_equals_fourier_transform_of_scipy_pdf(case, scipy_param):
    """φ(t) = ∫ e^{itx} f(x) dx by QAWF quadrature of scipy's S1 density (standard scale, δ = 0)."""
    a, b, tv = case
    scipy_param("S1")
    f = lambda v: stats.levy_stable.pdf(v, a, b)  # noqa: E731
    re, e1 = integrate.quad(lambda v: f(v) + f(-v), 0, np.inf, weight="cos", wvar=tv, limlst=100)
    im, e2 = integrate.quad(lambda v: f(v) - f(-v), 0, np.inf, weight="sin", wvar=tv, limlst=100)
    assert abs(complex(re, im) - ts.cf(tv, a, b, param="S1")) < 1e-6 + 10 * (e1 + e2)


@pytest.mark.parametrize("alpha,pv", [(1.5, 0.6), (0.8, 0.3), (1.8, -0.4)])
def test_abs_moment_equals_quadrature_of_scipy_pdf(alpha, pv):
    """E|X|^p = 2∫_0^L x^p f(x) dx + tail, tail from the density's leading term αC_α x^{−α−1}/2 per side.

    The neglected remainder is O(L^{p−2α}); L is chosen so that it is < 1e-4 relative.
    """
    f = lambda v: stats.levy_stable.pdf(v, alpha, 0.0)  # noqa: E731 (β = 0: S0 = S1)
    big = 200.0 if alpha > 1 else 5000.0
    pts = [1.0, 10.0, 100.0] if alpha > 1 else [1.0, 10.0, 100.0, 1000.0]
    body, err = integrate.quad(lambda v: 2 * v**pv * f(v), 0, big, points=pts, limit=200)
    c = ts.tail_constant(alpha)
    tail = alpha * c * big ** (pv - alpha) / (alpha - pv)
    assert body + tail == pytest.approx(ts.abs_moment(pv, alpha), rel=2e-3)


@pytest.mark.parametrize("alpha", [0.5, 0.8, 1.2, 1.5, 1.8])
def test_tail_asymptotic_vs_scipy_sf(alpha):
    """2·sf(x)/(C_α x^{−α}) → 1: within 2.5% where the asymptote is 1e-3, and closer than where it is 1e-2.

    (Deeper in the tail scipy's sf underflows to 0 for α ≳ 0.8 — not usable there.)
    """
    c = ts.tail_constant(alpha)
    ratios = []
    for level in (1e-2, 1e-3):
        xv = (c / level) ** (1 / alpha)
        ratios.append(2 * stats.levy_stable.sf(xv, alpha, 0.0) / ts.tail_asymptotic(xv, alpha))
    assert abs(ratios[1] - 1) < 0.025
    assert abs(ratios[1] - 1) <= abs(ratios[0] - 1) + 1e-4


def test_tail_exact_for_cauchy():
    xv = np.array([10.0, 100.0, 1000.0])
    exact = 1 - 2 * np.arctan(xv) / np.pi
    # exact = (2/π) arctan(1/x) = (2/π)(1/x − 1/(3x³) + …): relative error 1/(3x²)
    assert np.all(np.abs(ts.tail_asymptotic(xv, 1.0) / exact - 1) < 0.5 / xv**2)
    # one-sided split by β
    up = ts.tail_asymptotic(50.0, 1.3, 0.6, 2.0, side="upper")
    lo = ts.tail_asymptotic(50.0, 1.3, 0.6, 2.0, side="lower")
    assert up + lo == pytest.approx(ts.tail_asymptotic(50.0, 1.3, 0.6, 2.0))
    assert up / lo == pytest.approx(1.6 / 0.4)


# ------------------------------------------------------------------ validation
bad_alpha = st.one_of(st.floats(max_value=0.0), st.floats(min_value=2.0, exclude_min=True), st.just(float("nan")))


@given(bad_alpha)
def test_bad_alpha(a):
    for fn in (
        lambda: ts.cf(1.0, a),
        lambda: ts.abs_moment(0.1, a),
        lambda: ts.tail_constant(a),
        lambda: ts.tail_asymptotic(2.0, a),
        lambda: ts.log_abs_mean(a),
        lambda: ts.log_abs_var(a),
        lambda: ts.s0_to_s1_loc(0.0, a),
    ):
        with pytest.raises(ValueError, match="alpha"):
            fn()


@given(st.one_of(st.floats(min_value=1.0, exclude_min=True), st.floats(max_value=-1.0, exclude_max=True)))
def test_bad_beta(b):
    with pytest.raises(ValueError, match="beta"):
        ts.cf(1.0, 1.5, b)
    with pytest.raises(ValueError, match="beta"):
        ts.s1_to_s0_loc(0.0, 1.5, b)
    with pytest.raises(ValueError, match="beta"):
        ts.tail_asymptotic(2.0, 1.5, b, side="upper")


@given(st.one_of(st.floats(max_value=0.0), st.just(float("inf")), st.just(float("nan"))))
def test_bad_scale(s):
    with pytest.raises(ValueError, match="scale"):
        ts.cf(1.0, 1.5, 0.0, s)
    with pytest.raises(ValueError, match="scale"):
        ts.abs_moment(0.5, 1.5, s)


@given(st.floats(max_value=-1.0))
def test_bad_p(pv):
    with pytest.raises(ValueError, match="p_values must"):
        ts.abs_moment(pv, 1.5)


def test_bad_misc():
    with pytest.raises(ValueError, match="param"):
        ts.cf(1.0, 1.5, param="S2")
    with pytest.raises(ValueError, match="side"):
        ts.tail_asymptotic(2.0, 1.5, side="left")
    with pytest.raises(ValueError, match="alpha"):
        ts.tail_asymptotic(2.0, 2.0)
    with pytest.raises(ValueError, match="x_values must"):
        ts.tail_asymptotic(-1.0, 1.5)
    with pytest.raises(ValueError, match="t_values must"):
        ts.cf(np.nan, 1.5)
    with pytest.raises(TypeError, match="t_values must"):
        ts.cf("1", 1.5)
    with pytest.raises(TypeError, match="alpha"):
        ts.tail_constant("1.5")


@pytest.mark.parametrize("flag", [1, "yes", np.array([True]), None])
def test_expression_flags_must_be_bools(flag):
    """alpha_is_one="no" (a non-empty string) used to select the α = 1 formula."""
    with pytest.raises(TypeError, match="alpha_is_one must be True or False"):
        ts.log_cf_expr("S1", flag)
    with pytest.raises(TypeError, match="alpha_is_one must be True or False"):
        ts.cf_expr("S0", alpha_is_one=flag)
    with pytest.raises(TypeError, match="alpha_is_one must be True or False"):
        ts.loc_s0_minus_s1_expr(flag)
    with pytest.raises(TypeError, match="gaussian must be True or False"):
        ts.abs_moment_expr(flag)


# ------------------------------------------------------------------ extreme but valid arguments
def test_cf_extreme_scales_give_the_limits():
    """A huge scale gave OverflowError (γ^α in Python floats), a tiny one NaN (0·∞ in |γt|^{1−α})."""
    tv = np.array([0.5, 1.0])
    for param in ("S0", "S1"):
        for b in (0.0, 0.7):
            np.testing.assert_array_equal(ts.cf(tv, 1.5, b, 1e300, param=param), 0.0)   # exp(−(γ|t|)^α) → 0
            np.testing.assert_array_equal(ts.cf(tv, 1.0, b, 1e300, param=param), 0.0)
            # γ → 0: the law tends to δ_0, E e^{itX} → 1 (S0 phase −β tan(πα/2)(v − v^α), v = γ|t|)
            np.testing.assert_allclose(ts.cf(tv, 1.5, b, 5e-324, param=param), 1.0, atol=1e-12)
    # the rewritten S0 phase equals the sympy expression at ordinary arguments
    expr = ts.cf_expr("S0")
    for tv_, a, b, s, d in [(0.7, 1.3, 0.6, 1.7, 0.2), (-2.0, 0.6, -0.4, 0.3, -1.0)]:
        exact = complex(expr.subs({ts.t: tv_, ts.alpha: a, ts.beta: b, ts.sigma: s, ts.delta: d}).evalf(30))
        assert abs(ts.cf(tv_, a, b, s, d) - exact) < 1e-13


def test_cf_phase_overflow_names_the_arguments():
    with pytest.raises(ValueError, match="loc"):
        ts.cf(1e200, 1.5, 0.0, 1e-300, 1e200)


def test_tail_constant_for_tiny_alpha():
    """tail_constant(5e-324) overflowed (Γ(α) ~ 1/α); C_α = Γ(1+α) sinc(α/2) → 1."""
    import mpmath as mp

    for a in (5e-324, 1e-300, 1e-8, 0.3, 1.0, 1.7):
        exact = float(2 / mp.pi * mp.gamma(mp.mpf(a)) * mp.sin(mp.pi * mp.mpf(a) / 2))
        assert ts.tail_constant(a) == pytest.approx(exact, rel=1e-14)


def test_log_abs_moments_need_alpha_min():
    """log_abs_var(5e-324) raised ZeroDivisionError, log_abs_mean returned inf."""
    for fn in (ts.log_abs_var, ts.log_abs_mean):
        with pytest.raises(ValueError, match="alpha"):
            fn(5e-324)
        with pytest.raises(ValueError, match="alpha"):
            fn(ts.ALPHA_MIN / 2)
    assert ts.log_abs_var(ts.ALPHA_MIN) == pytest.approx(math.pi**2 / 6 / ts.ALPHA_MIN**2, rel=1e-14)
    assert ts.log_abs_mean(ts.ALPHA_MIN) == pytest.approx(np.euler_gamma / ts.ALPHA_MIN, rel=1e-14)


def test_abs_moment_in_log_space():
    """An overflowing moment returned inf (p = 1e300 at α = 2); one with overflowing factors was lost."""
    import mpmath as mp

    with pytest.raises(ValueError, match="p_values"):
        ts.abs_moment((1e300,), 2.0)
    with pytest.raises(ValueError, match="scale"):
        ts.abs_moment(1.4, 1.5, 1e300)      # 1e300^1.4 is beyond float64
    # Γ(1 − p/α) = Γ(181) overflows alone, γ^p = 1e-270 compensates
    pv, a, s = -0.9, 0.005, 1e300
    exact = (mp.mpf(s) ** pv * 2**mp.mpf(pv) * mp.gamma((1 + mp.mpf(pv)) / 2) * mp.gamma(1 - mp.mpf(pv) / a)
             / (mp.sqrt(mp.pi) * mp.gamma(1 - mp.mpf(pv) / 2)))
    assert ts.abs_moment(pv, a, s) == pytest.approx(float(exact), rel=1e-12)
    np.testing.assert_array_equal(ts.abs_moment((0.5, 1.0), 1.0), [ts.abs_moment(0.5, 1.0), np.inf])


def test_tail_asymptotic_overflow_is_refused():
    """scale=1e300 raised OverflowError; x = 1e-300 returned inf."""
    with pytest.raises(ValueError, match="x_values"):
        ts.tail_asymptotic((10.0, 100.0), 1.5, scale=1e300)
    with pytest.raises(ValueError, match="x_values"):
        ts.tail_asymptotic(1e-300, 1.5)
    assert ts.tail_asymptotic(1e300, 1.5, scale=1e300) == pytest.approx(ts.tail_constant(1.5), rel=1e-14)


@pytest.mark.parametrize("call", [lambda v: ts.cf(v, 1.5), lambda v: ts.abs_moment(v, 1.5),
                                  lambda v: ts.tail_asymptotic(v, 1.5)])
def test_value_arrays_are_named_as_parameters(call):
    with pytest.raises(TypeError, match="_values"):
        call("abc")
    with pytest.raises(ValueError, match="_values"):
        call([np.nan])
