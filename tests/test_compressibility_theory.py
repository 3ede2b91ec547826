"""Tests for theory.compressibility: closed forms vs quadrature vs Monte Carlo, properties, validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

from simulations.compressibility.api import relative_error_at
from simulations.stable import api as stable
from theory import compressibility as T

# (family, parameters, p) with E|X|^{2p} < ∞ so that the CLT tolerance below applies
MC_CASES = [
    ("pareto", {"alpha": 5.0}, 2.0),
    ("lomax", {"c": 5.0}, 2.0),
    ("genpareto", {"xi": 0.15}, 2.0),
    ("laplace", {}, 1.0),
    ("laplace", {}, 2.0),
    ("gennorm", {"r": 0.7}, 2.0),
    ("gennorm", {"r": 3.0}, 1.0),
    ("normal", {}, 2.0),
    ("student_t", {"nu": 5.0}, 2.0),
]
KAPPAS = (0.05, 0.2, 0.5)


def ratio_and_clt_sd(x, kappa, p):
    """Ĝ^p = (sum of the n−k smallest |x|^p)/(sum of all) and its CLT standard deviation.

    Ĝ^p = T̂/M̂ with T̂ = (1/n)Σ Z_i 1{Z_i ≤ Ẑ_(n−k)} (a trimmed mean at the empirical
    (1−κ)-quantile q) and M̂ = (1/n)Σ Z_i, Z = |X|^p. Influence functions:
    IF_T(z) = (z − q)1{z ≤ q} + q(1−κ) − T (the q-term accounts for the estimated quantile),
    IF_M(z) = z − M, IF_R = (IF_T − R·IF_M)/M, and sd = sqrt(mean(IF_R²)/n) (delta method;
    needs E Z² < ∞).
    """
    z = np.abs(np.asarray(x, dtype=np.float64)) ** p
    n = z.size
    k = math.ceil(kappa * n - 1e-9)
    zs = np.sort(z)
    q = zs[n - k - 1]
    body = zs[: n - k].sum() / n
    tot = zs.sum() / n
    R = body / tot
    ind = z <= q
    if_t = (z - q) * ind + q * (1.0 - kappa) - body
    if_m = z - tot
    if_r = (if_t - R * if_m) / tot
    return R, math.sqrt(np.mean(if_r**2) / n)


# --------------------------------------------------------------------------- Monte Carlo at n = 10^6
@pytest.mark.parametrize("name,params,p", MC_CASES, ids=[f"{c[0]}-{c[2]}-{c[1]}" for c in MC_CASES])
def test_monte_carlo_matches_closed_form(name, params, p):
    """|Ĝ^p − G^p| ≤ 5 sd (CLT sd per sample). Two-sided normal tail at 5 sd: 5.7e-7 per comparison,
    < 2e-5 over the 27 comparisons of this test; the ⌈κn⌉ discreteness bias is O(1/n) ≪ sd."""
    cf = T.closed_form(name)
    x = cf.scipy(**params).rvs(size=10**6, random_state=np.random.default_rng(20260101))
    for kappa in KAPPAS:
        R, sd = ratio_and_clt_sd(x, kappa, p)
        g = cf(kappa, p, **params)
        assert abs(R - g**p) <= 5 * sd, (kappa, R, g**p, sd)
        # the library's statistic is the same quantity
        assert relative_error_at(x, kappa, p) == pytest.approx(R ** (1 / p), rel=1e-10)


@pytest.mark.parametrize("alpha,p", [(1.5, 0.5), (1.8, 0.8), (0.8, 0.3)])
def test_monte_carlo_matches_stable(alpha, p):
    """SαS laws (no closed form): CMS draws at n = 10^6 vs g_stable, 5 sd CLT tolerance (2p < α)."""
    x = stable.rvs(alpha, size=10**6, seed=7)
    for kappa in KAPPAS:
        R, sd = ratio_and_clt_sd(x, kappa, p)
        assert abs(R - T.g_stable(alpha, kappa, p) ** p) <= 5 * sd


def test_clt_sd_matches_replicate_spread():
    """The CLT sd used above agrees with the spread over 40 independent replicates (n = 10^4, normal, p = 2).
    For 39 df the sample-sd/sd ratio lies in [0.6, 1.5] except with probability ≈ 1e-4."""
    rng = np.random.default_rng(11)
    rs, sds = [], []
    for _ in range(40):
        R, sd = ratio_and_clt_sd(rng.standard_normal(10**4), 0.2, 2.0)
        rs.append(R)
        sds.append(sd)
    ratio = np.std(rs, ddof=1) / np.mean(sds)
    assert 0.6 <= ratio <= 1.5


# --------------------------------------------------------------------------- closed form = quadrature = theory/REFERENCE.md
QUAD_CASES = [
    ("pareto", {"alpha": 3.0}, 2.0), ("pareto", {"alpha": 1.2}, 0.7),
    ("lomax", {"c": 2.5}, 2.0), ("lomax", {"c": 8.0}, 1.0),
    ("genpareto", {"xi": 0.45}, 2.0), ("genpareto", {"xi": 0.1}, 3.0),
    ("laplace", {}, 1.0), ("laplace", {}, 0.4),
    ("gennorm", {"r": 0.5}, 2.0), ("gennorm", {"r": 1.5}, 1.3),
    ("normal", {}, 2.0), ("normal", {}, 1.0),
    ("student_t", {"nu": 2.2}, 2.0), ("student_t", {"nu": 5.0}, 2.0), ("student_t", {"nu": 1.0}, 0.5),
]


@pytest.mark.parametrize("name,params,p", QUAD_CASES, ids=[f"{c[0]}-{c[2]}-{c[1]}" for c in QUAD_CASES])
def test_closed_form_equals_numeric_quadrature(name, params, p):
    cf = T.closed_form(name)
    ks = np.array([0.0, 1e-6, 1e-3, 0.05, 0.2, 0.5, 0.8, 0.99, 1.0])
    np.testing.assert_allclose(cf(ks, p, **params), T.g_numeric(cf.scipy(**params), ks, p), rtol=1e-8, atol=1e-10)


def test_closed_forms_match_reference_formulas():
    """The sympy results agree with the formulas written out by hand in theory/REFERENCE.md §2."""
    k = np.array([1e-4, 0.01, 0.1, 0.3, 0.7, 0.95])
    a, p = 3.0, 2.0
    np.testing.assert_allclose(T.closed_form("pareto")(k, p, alpha=a) ** p, 1 - k ** (1 - p / a), rtol=1e-12)
    np.testing.assert_allclose(T.closed_form("lomax")(k, p, c=a) ** p,
                               special.betaincc(a - p, p + 1, k ** (1 / a)), rtol=1e-12)   # = 1 − I_z(a, b)
    nu = 5.0
    w = special.betaincinv(nu / 2, 0.5, k)
    np.testing.assert_allclose(T.closed_form("student_t")(k, p, nu=nu) ** p,
                               special.betaincc((nu - p) / 2, (p + 1) / 2, w), rtol=1e-12)
    r = 0.8
    np.testing.assert_allclose(T.closed_form("gennorm")(k, p, r=r) ** p,
                               special.gammainc((p + 1) / r, special.gammainccinv(1 / r, k)), rtol=1e-12)
    np.testing.assert_allclose(T.closed_form("laplace")(k, 1.0), 1 - k * (1 + np.log(1 / k)), rtol=1e-12)


def test_sympy_derivation_is_readable_and_specializes():
    for name in T.closed_form_names():
        rows = T.derivation(name)
        assert len(rows) >= 6 and all(isinstance(t, str) and isinstance(l, str) for t, l in rows)
        assert T.closed_form(name).latex().startswith(r"G_p(\kappa)^p = ")
    # Laplace at p = 1 simplifies to the elementary 1 − κ(1 + ln(1/κ)) (theory/REFERENCE.md §2), derived by sympy
    k = T.KAPPA
    last = T.closed_form("laplace").steps[-1][1].rhs
    assert (last - (1 - k * (1 + T.sp.log(1 / k)))).simplify() == 0
    # Pareto: the Beta-kernel route gives the elementary form
    assert T.closed_form("pareto").expr.free_symbols == {k, T.P, T.sp.Symbol("alpha", positive=True)}


# --------------------------------------------------------------------------- infinite moments
def test_infinite_moment_gives_zero():
    ks = np.array([0.0, 0.1, 0.5, 1.0])
    expect = np.array([1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(T.closed_form("pareto")(ks, 2.0, alpha=1.5), expect)
    np.testing.assert_array_equal(T.closed_form("student_t")(ks, 3.0, nu=3.0), expect)
    np.testing.assert_array_equal(T.g_numeric(stats.cauchy(), ks, 1.0), expect)
    np.testing.assert_array_equal(T.g_stable(1.7, ks, 2.0), expect)
    np.testing.assert_array_equal(T.g_numeric(stats.levy_stable(1.7, 0.0), ks, 1.7), expect)
    assert T.g_numeric(stats.cauchy(), 0.3, 0.5) > 0  # p < 1: finite moment


@pytest.mark.parametrize("sampler,alpha", [("sas", 1.5), ("pareto", 1.5)])
def test_infinite_moment_ratio_decays_with_slope(sampler, alpha):
    """E|X|² = ∞ (α = 1.5 < p = 2): the median over 40 seeds of σ̄² decreases strictly in n and its log–log
    slope is 1 − p/α = −1/3 (the body sum grows like n, the total like n^{p/α}). Tolerance ±0.08 on the
    slope: the fitted slope's sd over seeds is ≈ 0.02 here."""
    p, kappa = 2.0, 0.1
    ns = [10**2, 10**3, 10**4, 10**5]
    rng = np.random.default_rng(3)
    med = []
    for n in ns:
        vals = []
        for _ in range(40):
            if sampler == "sas":
                x = stable.rvs(alpha, size=n, seed=rng)
            else:
                x = stats.pareto(b=alpha).rvs(size=n, random_state=rng)
            vals.append(relative_error_at(x, kappa, p) ** p)
        med.append(np.median(vals))
    med = np.array(med)
    assert np.all(np.diff(med) < 0)
    slope = np.polyfit(np.log(ns), np.log(med), 1)[0]
    assert abs(slope - (1 - p / alpha)) < 0.08, slope


# --------------------------------------------------------------------------- stable laws
def test_stable_continuity_at_two_and_small_alpha_series():
    ks = np.array([0.01, 0.1, 0.5])
    # α → 2: SαS → Gaussian
    np.testing.assert_allclose(T.g_stable(1.995, ks, 1.0), T.closed_form("normal")(ks, 1.0), atol=5e-3)
    assert np.all(T.g_stable(1.995, ks, 1.0) < T.closed_form("normal")(ks, 1.0))
    # Cauchy (α = 1) through the stable path vs the generic quadrature of scipy's cauchy law
    np.testing.assert_allclose(T.g_stable(1.0, ks, 0.5), T.g_numeric(stats.cauchy(), ks, 0.5), rtol=1e-8)


# --------------------------------------------------------------------------- properties (hypothesis)
family_params = st.one_of(
    st.tuples(st.just("pareto"), st.fixed_dictionaries({"alpha": st.floats(0.2, 20.0)})),
    st.tuples(st.just("lomax"), st.fixed_dictionaries({"c": st.floats(0.2, 20.0)})),
    st.tuples(st.just("genpareto"), st.fixed_dictionaries({"xi": st.floats(0.05, 3.0)})),
    st.tuples(st.just("laplace"), st.just({})),
    st.tuples(st.just("gennorm"), st.fixed_dictionaries({"r": st.floats(0.3, 8.0)})),
    st.tuples(st.just("normal"), st.just({})),
    st.tuples(st.just("student_t"), st.fixed_dictionaries({"nu": st.floats(0.3, 30.0)})),
)


@given(family_params, st.floats(0.1, 4.0), st.lists(st.floats(0.0, 1.0), min_size=2, max_size=12))
def test_g_bounds_monotone_endpoints(fp, p, ks):
    name, params = fp
    cf = T.closed_form(name)
    ks = np.sort(np.array(ks))
    g = cf(ks, p, **params)
    assert np.all((g >= 0) & (g <= 1))
    assert np.all(np.diff(g) <= 1e-12)
    assert cf(0.0, p, **params) == 1.0
    assert cf(1.0, p, **params) == 0.0


@given(st.floats(0.3, 3.0), st.floats(0.01, 5.0), st.floats(0.01, 5.0), st.floats(0.001, 0.999))
def test_pareto_heavier_tails_smaller_g(p, d1, d2, kappa):
    """Pareto I: G_p(κ)^p = 1 − κ^{1−p/α} is increasing in α (theory/REFERENCE.md §2): heavier tails, smaller error."""
    a1, a2 = sorted((p + d1, p + d2))
    cf = T.closed_form("pareto")
    assert cf(kappa, p, alpha=a1) <= cf(kappa, p, alpha=a2) + 1e-12


@given(st.floats(0.01, 0.99), st.sampled_from([(1.2, 1.5), (1.5, 1.8), (1.8, 1.95), (1.2, 2.0), (1.95, 2.0)]))
def test_stable_heavier_tails_smaller_g(kappa, alphas):
    """Same ordering observed for SαS laws at p = 1 (no closed form; checked numerically on a few α,
    each α costs one density table)."""
    a_heavy, a_light = alphas
    assert T.g_stable(a_heavy, kappa, 1.0) <= T.g_stable(a_light, kappa, 1.0) + 1e-9


# --------------------------------------------------------------------------- validation
@given(st.one_of(st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
                 st.floats(min_value=1 + 1e-9, allow_nan=False, allow_infinity=False)))
def test_bad_kappa(kappa):
    with pytest.raises(ValueError, match="kappa"):
        T.closed_form("normal")(kappa)
    with pytest.raises(ValueError, match="kappa"):
        T.g_numeric(stats.norm(), [0.5, kappa])
    with pytest.raises(ValueError, match="kappa"):
        T.g_stable(1.5, kappa, 1.0)


@given(st.floats(max_value=0.0, allow_nan=False, allow_infinity=False))
def test_bad_p(p):
    with pytest.raises(ValueError, match="p must"):
        T.closed_form("laplace")(0.5, p)
    with pytest.raises(ValueError, match="p must"):
        T.g_numeric(stats.norm(), 0.5, p)


@given(st.floats(max_value=0.0, allow_nan=False, allow_infinity=False))
def test_bad_law_parameters(v):
    with pytest.raises(ValueError, match="alpha"):
        T.closed_form("pareto")(0.5, 1.0, alpha=v)
    with pytest.raises(ValueError, match="nu"):
        T.closed_form("student_t")(0.5, 1.0, nu=v)
    with pytest.raises(ValueError, match="alpha"):
        T.g_stable(v, 0.5, 1.0)


def test_bad_arguments_misc():
    with pytest.raises(ValueError, match="alpha"):
        T.g_stable(2.5, 0.5)
    with pytest.raises(TypeError, match="dist"):
        T.g_numeric("norm", 0.5)
    with pytest.raises(ValueError, match="moment_finite"):
        T.g_numeric(stats.alpha(2.0), 0.5)  # family without a moment rule
    assert T.g_numeric(stats.alpha(2.0), 0.5, 0.5, moment_finite=True) > 0
    with pytest.raises(ValueError, match="name"):
        T.closed_form("weibull")
    with pytest.raises(TypeError, match="takes parameters"):
        T.closed_form("pareto")(0.5, 1.0, c=2.0)
    with pytest.raises(ValueError, match="kappa"):
        T.closed_form("normal")(np.nan)


@pytest.mark.parametrize("bad", [np.array(["pareto"]), ["pareto"], 3])
def test_closed_form_name_must_be_a_string(bad):
    """An array name raised "unhashable type" (from the cache) instead of naming the parameter."""
    with pytest.raises(TypeError, match="name must be one of"):
        T.closed_form(bad)


@pytest.mark.parametrize("flag", [1, "yes", np.array([True])])
def test_moment_finite_must_be_a_bool(flag):
    with pytest.raises(TypeError, match="moment_finite must be True or False"):
        T.g_numeric(stats.alpha(2.0), 0.5, 0.5, moment_finite=flag)


# --------------------------------------------------------------------------- limits of g_numeric, large p
def test_g_numeric_bounds_p_and_kappa():
    """p=1e300 raised ZeroDivisionError and kappa=5e-324 IndexError (its quantile overflowed)."""
    from theory.compressibility import quadrature

    for p in (1e300, quadrature.P_MAX * (1 + 1e-12)):
        with pytest.raises(ValueError, match="p must be in"):
            T.g_numeric(stats.norm(), 0.1, p)
    for k in (5e-324, [0.1, 1e-310]):
        with pytest.raises(ValueError, match="kappa"):
            T.g_numeric(stats.norm(), k)
    k = quadrature.KAPPA_MIN
    assert T.g_numeric(stats.norm(), k) == pytest.approx(T.closed_form("normal")(k, 2.0), rel=1e-14)
    # a power tail far beyond scipy's t.isf (inf there): the quantile is solved on logsf
    assert T.g_numeric(stats.t(3.0), [1e-300, 0.1], 2.0) == pytest.approx(
        T.closed_form("student_t")([1e-300, 0.1], 2.0, nu=3.0), rel=1e-12)


LARGE_P_CASES = [("normal", {}), ("laplace", {}), ("gennorm", {"r": 0.5}), ("gennorm", {"r": 4.0}),
                 ("student_t", {"nu": 400.0}), ("lomax", {"c": 500.0})]


@pytest.mark.parametrize("name,params", LARGE_P_CASES, ids=[c[0] + str(c[1]) for c in LARGE_P_CASES])
def test_g_numeric_is_accurate_up_to_p_max(name, params):
    """At p = 100 the quadrature cut the integrand off where x^{p+1} overflowed (gennorm r = 0.5: off by
    9e-2) and the Beta closed forms cancelled 1 − I_z(a, b) to 0 (Student-t ν = 400: G = 0 at p ≥ 50)."""
    from theory.compressibility import quadrature

    cf = T.closed_form(name)
    ks = np.array([1e-3, 0.1, 0.5, 0.9])
    p = quadrature.P_MAX
    got, want = T.g_numeric(cf.scipy(**params), ks, p), cf(ks, p, **params)
    assert np.all(got > 0) and np.all(want[:2] > 0)
    live = want > 0   # the closed forms' G^p underflows below ~1e-308 (gennorm r = 0.5, κ ≥ 0.5)
    np.testing.assert_allclose(got[live], want[live], rtol=1e-8)


def test_closed_form_complement_and_underflowing_power():
    """G_p^p below ~1e-16 was lost (1 − betainc); below 1e-308 G_p^p underflows but G_p does not."""
    import mpmath as mp

    with mp.workdps(40):
        nu, p, k = 400.0, 50.0, 0.1
        y = mp.findroot(lambda z: mp.betainc(nu / 2, 0.5, 0, z, regularized=True) - k, (mp.mpf("0.9"), mp.mpf("0.9999")),
                        solver="illinois")
        exact = float(mp.re(1 - mp.betainc((nu - p) / 2, (p + 1) / 2, 0, y, regularized=True)) ** (1 / p))
        assert T.closed_form("student_t")(k, p, nu=nu) == pytest.approx(exact, rel=1e-10)
        # gennorm r = 0.2, p = 100, κ = 0.5: G^p = P((p+1)/r, Q^{-1}(1/r, κ)) ~ 1e-700
        r, p, k = 0.2, 100.0, 0.5
        y = mp.findroot(lambda z: mp.gammainc(1 / r, z, mp.inf, regularized=True) - k, (mp.mpf(1), mp.mpf(20)),
                        solver="illinois")
        exact = float(mp.re(mp.gammainc((p + 1) / r, 0, y, regularized=True)) ** (1 / p))
        assert 0 < exact < 1e-6
        assert T.g_numeric(stats.gennorm(r), k, p) == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("bad", ["a", None, [1.0], np.array([1.0, 2.0]), True, 1j, object()])
def test_special_functions_check_their_arguments(bad):
    """RegIncBeta(2.0, [1], 0.5) raised AttributeError, RegIncBeta('a', ...) parsed the string."""
    from theory.compressibility import special_functions as sf

    for cls, names in ((sf.RegIncBeta, "abz"), (sf.InvRegIncBeta, "abq"), (sf.RegLowerGamma, "az"),
                       (sf.InvRegUpperGamma, "aq"), (sf.RegIncBetaC, "abz")):
        for i, name in enumerate(names):
            args = [sp.Rational(1, 2)] * len(names)
            args[i] = bad
            with pytest.raises(TypeError, match=f"argument {name} must be"):
                cls(*args)
    assert sf.RegIncBeta(2, 1, sp.Symbol("z")) == sp.Symbol("z") ** 2
    assert not {"RegIncBeta", "InvRegIncBeta", "RegLowerGamma", "InvRegUpperGamma"} & set(sf.__all__)
