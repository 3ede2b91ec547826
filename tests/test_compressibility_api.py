"""Tests for simulations.compressibility.api: best k-term errors against brute force and plain references."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from simulations.compressibility import api as C
from simulations.compressibility.study import barsbey_synthetic_study, ratio_vs_n

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
vectors = st.lists(finite, min_size=1, max_size=40)
p_values = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])


def ref_relative_errors(x, p):
    """Plain Python loop: sort magnitudes decreasingly, tail sums for every k."""
    mags = sorted((abs(float(v)) for v in np.ravel(x)), reverse=True)
    n = len(mags)
    if mags[0] > 0:  # σ_k/‖x‖ is scale free: work with x/max|x| so that |x|^p cannot under/overflow
        mags = [m / mags[0] for m in mags]
    total = sum(m**p for m in mags)
    out = []
    for k in range(n + 1):
        tail = sum(m**p for m in mags[k:])
        out.append(0.0 if total == 0 else (tail / total) ** (1.0 / p))
    return np.array(out)


def brute_sigma(x, k, p):
    """min over all supports S with |S| = k of ‖x − x·1_S‖_p (the best y on a support is x there)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    best = math.inf
    for S in itertools.combinations(range(n), k):
        r = x.copy()
        r[list(S)] = 0.0
        best = min(best, float(np.sum(np.abs(r) ** p)) ** (1.0 / p))
    return best


# --------------------------------------------------------------------------- brute force / references
@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.0])
def test_sigma_is_min_over_all_supports(p):
    rng = np.random.default_rng(1)
    for n in range(1, 7):
        x = rng.standard_t(2, size=n)
        norm = float(np.sum(np.abs(x) ** p)) ** (1 / p)
        r = C.relative_errors(x, p)
        for k in range(n + 1):
            b = brute_sigma(x, k, p)
            assert C.best_k_term_error(x, k, p) == pytest.approx(b, rel=1e-12, abs=1e-300)
            assert r[k] * norm == pytest.approx(b, rel=1e-12, abs=1e-15)
            # no k-sparse vector with arbitrary values does better than σ_k
            for _ in range(5):
                S = rng.choice(n, size=k, replace=False)
                y = np.zeros(n)
                y[S] = x[S] + rng.normal(scale=0.1, size=k)
                assert float(np.sum(np.abs(x - y) ** p)) ** (1 / p) >= b * (1 - 1e-12)


@given(vectors, p_values)
def test_relative_errors_match_python_loop(xs, p):
    x = np.array(xs)
    np.testing.assert_allclose(C.relative_errors(x, p), ref_relative_errors(x, p), rtol=1e-10, atol=1e-12)


def test_large_vector_radix_path_matches_numpy_reference():
    rng = np.random.default_rng(2)
    n = C._RADIX_MIN + 1234  # compiled radix-sort path
    x = rng.standard_cauchy(n)
    for p in (2.0, 1.0, 0.7):
        a = np.sort(np.abs(x) ** p)
        c = np.concatenate([[0.0], np.cumsum(a)])
        ref = (c[::-1] / c[-1]) ** (1 / p)
        np.testing.assert_allclose(C.relative_errors(x, p), ref, rtol=1e-9, atol=1e-12)
    # float32 input and 2-D axis handling on the radix path
    X = rng.standard_normal((2, n)).astype(np.float32)
    R = C.relative_errors(X, 2.0, axis=1)
    assert R.shape == (2, n + 1)
    np.testing.assert_allclose(R[1], C.relative_errors(X[1].astype(np.float64)), rtol=1e-6, atol=1e-7)


def test_tail_sums_keep_relative_accuracy():
    # one huge entry and many tiny ones: σ_1 must be accurate relative to itself, not to ‖x‖
    x = np.concatenate([[1e8], np.full(50000, 1e-3)])
    r = C.relative_errors(x, 2.0)
    exact = math.sqrt(50000 * 1e-6) / math.sqrt(1e16 + 50000 * 1e-6)
    assert r[1] == pytest.approx(exact, rel=1e-12)
    assert C.best_k_term_error(x, 1) == pytest.approx(math.sqrt(50000 * 1e-6), rel=1e-12)
    assert C.relative_error_at(x, 1 / 50001, 2.0) == pytest.approx(exact, rel=1e-12)


def test_axis_argument():
    rng = np.random.default_rng(3)
    X = rng.standard_t(3, size=(4, 7, 5))
    for ax in (0, 1, 2, -1):
        R = C.relative_errors(X, 1.5, axis=ax)
        shape = list(X.shape)
        shape[ax] += 1
        assert R.shape == tuple(shape)
        Xm = np.moveaxis(X, ax, -1).reshape(-1, X.shape[ax])
        Rm = np.moveaxis(R, ax, -1).reshape(-1, X.shape[ax] + 1)
        for row, rrow in zip(Xm, Rm):
            np.testing.assert_allclose(rrow, ref_relative_errors(row, 1.5), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- properties
@given(vectors, p_values)
def test_relative_errors_bounds_and_monotone(xs, p):
    r = C.relative_errors(np.array(xs), p)
    assert r.shape == (len(xs) + 1,)
    assert np.all((r >= 0) & (r <= 1))
    assert np.all(np.diff(r) <= 0)
    assert r[-1] == 0.0
    assert r[0] == (1.0 if np.any(np.array(xs) != 0) else 0.0)


@given(vectors, p_values, st.floats(min_value=1e-6, max_value=1e6), st.randoms(use_true_random=False))
def test_scale_sign_permutation_invariance(xs, p, scale, rnd):
    x = np.array(xs)
    # keep the scaled vector out of the subnormal range, where scaling itself loses digits
    assume(np.all((x == 0) | (np.abs(x) > 1e-280)))
    perm = list(range(len(xs)))
    rnd.shuffle(perm)
    signs = np.array([rnd.choice([-1.0, 1.0]) for _ in xs])
    y = scale * signs * x[perm]
    np.testing.assert_allclose(C.relative_errors(y, p), C.relative_errors(x, p), rtol=1e-9, atol=1e-12)


@given(vectors, st.floats(min_value=0.01, max_value=0.99), p_values)
def test_prunable_fraction_is_the_largest_admissible(xs, eps, p):
    x = np.array(xs)
    n = x.size
    r = ref_relative_errors(x, p)  # r[k] after keeping k, i.e. removing n − k
    f = C.prunable_fraction(x, eps, p)
    m = round(f * n)
    assert abs(f * n - m) < 1e-9
    assert r[n - m] <= eps * (1 + 1e-9)
    if m < n:
        assert r[n - m - 1] > eps * (1 - 1e-9)


@given(vectors, st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.01, max_value=0.99), p_values)
def test_is_compressible_agrees_with_relative_errors(xs, kappa, eps, p):
    x = np.array(xs)
    n = x.size
    k = C.kept_count(kappa, n)
    assert k in (math.floor(kappa * n), math.ceil(kappa * n))
    r = ref_relative_errors(x, p)[k]
    if abs(r - eps) > 1e-9:
        assert C.is_compressible(x, kappa, eps, p) == (r <= eps)
    assert C.relative_error_at(x, kappa, p) == pytest.approx(r, rel=1e-9, abs=1e-12)


def test_kept_count_rounding():
    assert C.kept_count(0.7, 10) == 7
    assert C.kept_count(0.71, 10) == 8
    assert C.kept_count(0.0, 10) == 0
    assert C.kept_count(1.0, 10) == 10
    assert C.kept_count(1 / 3, 3) == 1


def test_zero_vector_conventions():
    z = np.zeros(5)
    assert np.all(C.relative_errors(z) == 0)
    assert C.prunable_fraction(z, 0.1) == 1.0
    assert C.is_compressible(z, 0.0, 0.1)
    assert C.best_k_term_error(z, 2) == 0.0


# --------------------------------------------------------------------------- validation
bad_kappa = st.one_of(st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
                      st.floats(min_value=1 + 1e-9, allow_nan=False, allow_infinity=False))
bad_eps = st.one_of(st.floats(max_value=0.0, allow_nan=False, allow_infinity=False),
                    st.floats(min_value=1.0, allow_nan=False, allow_infinity=False))
bad_p = st.floats(max_value=0.0, allow_nan=False, allow_infinity=False)


@given(bad_kappa)
def test_bad_kappa(kappa):
    with pytest.raises(ValueError, match="kappa"):
        C.is_compressible([1.0, 2.0], kappa, 0.1)
    with pytest.raises(ValueError, match="kappa"):
        C.relative_error_at([1.0, 2.0], kappa)


@given(bad_eps)
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        C.prunable_fraction([1.0, 2.0], eps)
    with pytest.raises(ValueError, match="eps"):
        C.is_compressible([1.0, 2.0], 0.5, eps)


@given(bad_p)
def test_bad_p(p):
    for fn in (lambda: C.relative_errors([1.0], p), lambda: C.best_k_term_error([1.0], 0, p),
               lambda: C.prunable_fraction([1.0], 0.1, p), lambda: C.is_compressible([1.0], 0.5, 0.1, p)):
        with pytest.raises(ValueError, match="p must"):
            fn()


@pytest.mark.parametrize("x", [[], np.zeros((0, 3)), [1.0, np.nan], [np.inf, 1.0]])
def test_bad_vectors(x):
    with pytest.raises(ValueError, match="x"):
        C.relative_errors(x)
    with pytest.raises(ValueError, match="x"):
        C.prunable_fraction(x, 0.1)


def test_bad_k_and_types():
    with pytest.raises(ValueError, match="k"):
        C.best_k_term_error([1.0, 2.0], 3)
    with pytest.raises(TypeError, match="x"):
        C.relative_errors("abc")
    with pytest.raises(TypeError, match="p"):
        C.relative_errors([1.0], "2")
    with pytest.raises(ValueError, match="axis"):
        C.relative_errors(np.ones((2, 2)), axis=2)


# --------------------------------------------------------------------------- study helpers
def test_barsbey_study_trend_small():
    """iid and column-elliptical SαS: more prunable as α decreases; layer-elliptical: flat (Gaussian level)."""
    # The trend is a negative correlation between α and the prunable fraction. Measured with 300
    # replicates, the population correlation is ≈ −0.56 for iid and ≈ −0.36 for columns at
    # 100 × 100. Test: one-sided test of zero correlation at the 1 % level (Fisher z, n = 150
    # replicates: reject when r < tanh(−2.326/√147) ≈ −0.19), false-alarm rate 1 % under no
    # trend; power at the columns effect ≈ 0.99 (passed on seeds 0–11). 150 replicates take 0.3 s.
    n_reps = 150
    res = barsbey_synthetic_study(n_reps=n_reps, n_rows=100, n_cols=100, seed=0)
    a = res["alpha"]
    r_crit = np.tanh(-2.326 / np.sqrt(n_reps - 3))
    for key in ("iid", "columns"):
        assert np.corrcoef(a, res[key])[0, 1] < r_crit, key
    # whole layer one elliptical vector: the scalar factor cancels in the ratio, so the law of the
    # prunable fraction is that of a Gaussian matrix whatever α; its spread is tiny (sd ≈ 0.003 at n = 10^4)
    assert np.std(res["layer"]) < 0.01
    assert abs(np.corrcoef(a, res["layer"])[0, 1]) < 0.6
    assert np.mean(res["iid"]) > np.mean(res["layer"])
    # ... and that level is the Gaussian limit 1 − κ* with G_2(κ*) = 0.1 (theory, closed form)
    from theory.compressibility import closed_form, limit_prunable_fraction

    gauss = limit_prunable_fraction(lambda k: closed_form("normal")(k, 2.0), 0.1)
    assert abs(np.mean(res["layer"]) - gauss) < 0.005


def test_ratio_vs_n_shape_and_seed():
    ns = [100, 1000]
    from scipy import stats

    from simulations.compressibility.study import sas_sampler

    out1 = ratio_vs_n(stats.t(4.0), ns, kappa=0.1, p=2.0, n_seeds=3, seed=5)
    out2 = ratio_vs_n(stats.t(4.0), ns, kappa=0.1, p=2.0, n_seeds=3, seed=5)
    assert out1.shape == (2, 3)
    np.testing.assert_array_equal(out1, out2)
    out3 = ratio_vs_n(sas_sampler(1.5), ns, kappa=0.1, p=2.0, n_seeds=2, seed=5)
    assert out3.shape == (2, 2) and np.all((out3 > 0) & (out3 < 1))
    with pytest.raises(TypeError, match="law"):
        ratio_vs_n("t", ns, kappa=0.1)


# --------------------------------------------------------------------------- any p > 0, extreme scales
import mpmath  # noqa: E402


def _mp_log_sigma(x, k, p):
    """log σ_k(x)_p in 60-digit arithmetic (mpmath), from the exact doubles of x."""
    with mpmath.workdps(60):
        mags = sorted((abs(mpmath.mpf(float(v))) for v in np.ravel(x)), reverse=True)[k:]
        s = mpmath.fsum(v ** mpmath.mpf(p) for v in mags if v > 0)
        return mpmath.log(s) / mpmath.mpf(p)


def _mp_relative(x, k, p):
    with mpmath.workdps(60):
        mags = sorted((abs(mpmath.mpf(float(v))) for v in np.ravel(x)), reverse=True)
        pp = mpmath.mpf(p)
        tot = mpmath.fsum(v**pp for v in mags if v > 0)
        tail = mpmath.fsum(v**pp for v in mags[k:] if v > 0)
        return float((tail / tot) ** (1 / pp))


_RNG = np.random.default_rng(3)
_XS = [_RNG.standard_cauchy(40), _RNG.normal(size=25) * 1e200, _RNG.normal(size=25) * 1e-200,
       np.array([1.0, 1e-200, -1e-250, 0.0, 3e-300])]


@pytest.mark.parametrize("p", [1e-9, 0.5, 2.0])
@pytest.mark.parametrize("xi", range(len(_XS)))
def test_best_k_term_error_against_mpmath(p, xi):
    x = _XS[xi]
    for k in (0, 1, 3, x.size - 1):
        want = _mp_log_sigma(x, k, p)
        got = C.best_k_term_error(x, k, p, log=True)
        assert got == pytest.approx(float(want), rel=1e-13, abs=1e-13)
        if want < 709:
            assert C.best_k_term_error(x, k, p) == pytest.approx(float(mpmath.e**want), rel=1e-11)
        else:  # beyond the largest double: an error naming p; log=True gives its logarithm
            with pytest.raises(ValueError, match=r"\bp = .*log=True"):
                C.best_k_term_error(x, k, p)


def test_best_k_term_error_tiny_p_single_tail_entry_is_exact():
    # σ_2 of [3, -2, 0.5] keeps 3 and -2: the tail is the single entry 0.5, for any p
    for p in (1e-12, 1e-9, 1e-3, 1.0, 2.0, 1e3):
        assert C.best_k_term_error([3.0, -2.0, 0.5], 2, p) == pytest.approx(0.5, rel=1e-15)
    with pytest.raises(ValueError, match=r"\bp = 1e-09"):  # σ = (Σ ...)^(1e9) is beyond the largest double
        C.best_k_term_error(np.arange(10.0), 3, p=1e-9)
    assert C.best_k_term_error([1.0, 0.0], 1, p=1e-9) == 0.0
    assert C.best_k_term_error([1.0, 0.0], 1, p=1e-9, log=True) == -math.inf


@pytest.mark.parametrize("p", [1e-9, 0.05, 0.5, 2.0, 100.0])
@pytest.mark.parametrize("xi", range(len(_XS)))
def test_relative_error_at_against_mpmath(p, xi):
    x = _XS[xi]
    n = x.size
    for kappa in (0.0, 1 / n, 0.2, 0.5, 1.0):
        k = C.kept_count(kappa, n)
        want = _mp_relative(x, k, p)
        got = C.relative_error_at(x, kappa, p)
        assert got == pytest.approx(want, rel=1e-10, abs=1e-300)
        for eps in (0.05, 0.5, 0.9):
            if abs(want - eps) > 1e-9 * eps:
                assert C.is_compressible(x, kappa, eps, p) == (want <= eps)


def test_relative_error_at_no_underflow():
    # the tail entry's square (1e-400) underflows, the relative error 1e-200 does not
    assert C.relative_error_at([1.0, 1e-200], 0.5) == pytest.approx(1e-200, rel=1e-15)
    assert C.relative_error_at([1.0, 1e-4], 0.5, p=100.0) == pytest.approx(1e-4, rel=1e-13)
    assert C.best_k_term_error([1.0, 1e-200], 1) == pytest.approx(1e-200, rel=1e-15)
    assert not C.is_compressible([1.0, 1e-200], 0.5, 1e-250)


def test_kept_count_validation():
    with pytest.raises(ValueError, match="kappa"):
        C.kept_count(2.0, 10)  # was 20
    with pytest.raises(ValueError, match="kappa"):
        C.kept_count(-0.5, 10)  # was -5
    with pytest.raises(ValueError, match="n must"):
        C.kept_count(0.5, -1)
    with pytest.raises(TypeError, match="n must"):
        C.kept_count(0.5, 2.5)
    with pytest.raises(ValueError, match="n must"):
        C.kept_count(0.5, C.KEPT_N_MAX + 1)
    with pytest.raises(TypeError, match="kappa"):
        C.kept_count("0.5", 10)
    assert [C.kept_count(k, 7) for k in (0.0, 0.5, 1.0)] == [0, 4, 7]
    assert C.kept_count(0.3, 0) == 0


def test_vector_measures_p_range_and_flags():
    with pytest.raises(ValueError, match="p must"):
        C.relative_errors([1.0, 0.15], p=C.P_MAX_VECTOR * 2)
    with pytest.raises(ValueError, match="p must"):
        C.prunable_fraction([1.0, 0.15], 0.1, p=400.0)  # the flushed 0.15**400 would be "prunable"
    with pytest.raises(ValueError, match="eps"):
        C.prunable_fraction([1.0, 0.15], 1e-300, p=2.0)  # eps**p below EPS_POWER_MIN
    with pytest.raises(TypeError, match="log"):
        C.best_k_term_error([1.0, 2.0], 1, log=1)
    # at p = 16, the largest allowed, the vector path agrees with the scalar one
    x = np.array([1.0, 0.5, 0.25, 0.1])
    r = C.relative_errors(x, p=16.0)
    for k in range(5):
        assert r[k] == pytest.approx(C.relative_error_at(x, k / 4, 16.0), rel=1e-12, abs=1e-300)
    assert C.prunable_fraction(x, 0.3, p=16.0) == 0.5


@pytest.mark.parametrize("p", [1e-3, 1e-47, 1e-300, 5e-324])
def test_best_k_term_error_unrepresentable_is_an_error_naming_p(p):
    """σ_k ≥ 2^{1/p}·min tail entry overflows for these p: ValueError naming p, log=True stays finite."""
    x = np.arange(1.0, 21.0)
    with pytest.raises(ValueError, match=r"\bp\b"):
        C.best_k_term_error(x, 5, p)
    # independent oracle: log σ_5 = log Σ_{i ≤ 15} i^p / p, and for tiny p that is log 15 / p + log 15-th...
    with mpmath.workdps(60):
        want = mpmath.log(mpmath.fsum(mpmath.mpf(i) ** mpmath.mpf(p) for i in range(1, 16))) / mpmath.mpf(p)
    assert C.best_k_term_error(x, 5, p, log=True) == pytest.approx(float(want), rel=1e-12)


def test_best_k_term_error_overflow_at_huge_magnitudes():
    x = np.full(4, 1e308)
    assert C.best_k_term_error(x, 3, 2.0) == pytest.approx(1e308)
    assert C.best_k_term_error(x, 1, 2.0) == pytest.approx(math.sqrt(3) * 1e308)   # 1.73e308: still a double
    with pytest.raises(ValueError, match=r"\bp = 2"):   # ‖x‖₂ = 2e308 > the largest double 1.797e308
        C.best_k_term_error(x, 0, 2.0)
    assert C.best_k_term_error(x, 0, 2.0, log=True) == pytest.approx(math.log(1e308) + math.log(2.0), rel=1e-15)


# --------------------------------------------------------------------------- study limits


def test_ratio_vs_n_limits_checked_before_drawing():
    from scipy import stats

    from simulations.compressibility.study import DRAWS_MAX, N_MAX, N_SEEDS_MAX

    assert (N_MAX, N_SEEDS_MAX, DRAWS_MAX) == (2**25, 1000, 2**31)
    calls = []

    def law(n, rng):
        calls.append(n)
        return rng.normal(size=n)

    for kw, exc, param in [
        (dict(ns=(2**31,)), ValueError, "ns"), (dict(ns=(3, 2**40)), ValueError, "ns"), (dict(ns=()), ValueError, "ns"),
        (dict(ns="abc"), TypeError, "ns"), (dict(ns=(1.5,)), TypeError, "ns"), (dict(ns=[object()]), TypeError, "ns"),
        (dict(ns=(0,)), ValueError, "ns"), (dict(n_seeds=10**18), ValueError, "n_seeds"),
        (dict(n_seeds=2**31), ValueError, "n_seeds"), (dict(n_seeds=np.int64(2**62)), ValueError, "n_seeds"),
        (dict(n_seeds=1001), ValueError, "n_seeds"), (dict(ns=(2**25,), n_seeds=65), ValueError, "n_seeds"),
    ]:
        args = dict(ns=(50, 100), n_seeds=2) | kw
        with pytest.raises(exc, match=param):
            ratio_vs_n(law, kappa=0.5, **args)
    assert calls == []  # nothing was drawn
    assert ratio_vs_n(stats.norm(), 100, kappa=0.5, n_seeds=2).shape == (1, 2)


@pytest.mark.parametrize("law, msg", [
    (lambda n, rng: rng.normal(size=n - 1), "law must return n = 10"),
    (lambda n, rng: ["a"] * n, "law returned draws"),
    (lambda n, rng: np.full(n, np.inf), "law returned draws"),
])
def test_ratio_vs_n_checks_what_law_returns(law, msg):
    with pytest.raises((TypeError, ValueError), match=msg):
        ratio_vs_n(law, (10,), kappa=0.5)


def test_convergence_limits_domain():
    from scipy import special

    from simulations.compressibility.study import LIMITS_KAPPA_MIN, LIMITS_P_MAX, convergence_limits

    for kw, exc, param in [(dict(kappa=[1.0]), TypeError, "kappa"), (dict(kappa=5e-324), ValueError, "kappa"),
                           (dict(kappa=1.5), ValueError, "kappa"), (dict(p=1e300), ValueError, "p"),
                           (dict(p=np.float32(1e30)), ValueError, "p"), (dict(p=100.5), ValueError, "p"),
                           (dict(p=0.0), ValueError, "p")]:
        with pytest.raises(exc, match=param):
            convergence_limits(**kw)
    # at the ends of the domain the Laplace limit is the closed form G_p(κ)^p = P(Γ(p+1) ≤ −log κ)
    for kappa, p in [(0.1, LIMITS_P_MAX), (0.5, 50.0), (LIMITS_KAPPA_MIN, 2.0)]:
        got = convergence_limits(kappa, p)
        assert got["laplace"] == pytest.approx(special.gammainc(p + 1, -math.log(kappa)) ** (1 / p), rel=1e-12)
        assert got["student_t3"] == (0.0 if p >= 3 else got["student_t3"])
    assert convergence_limits(0.0)["normal"] == 1.0


def test_barsbey_study_alpha_range_starts_at_the_sub_gaussian_minimum():
    from simulations.compressibility.study import barsbey_synthetic_study
    from simulations.stable import SUB_GAUSSIAN_ALPHA_MIN

    with pytest.raises(ValueError, match=r"alpha_range\[0\]"):
        barsbey_synthetic_study(n_reps=1, n_rows=4, n_cols=4, alpha_range=(SUB_GAUSSIAN_ALPHA_MIN / 2, 2.0))
    with pytest.raises(TypeError, match="alpha_range"):
        barsbey_synthetic_study(n_reps=1, n_rows=4, n_cols=4, alpha_range=1.5)


def test_compressibility_figure_labels_its_panels_a_to_f_in_order():
    import re

    import matplotlib

    matplotlib.use("Agg")
    from simulations.compressibility import plots, study

    data = study.figure_data([100, 1000], 0.1, 2.0, n_seeds=2, barsbey=dict(n_reps=4, n_rows=20, n_cols=20), seed=1)
    fig = plots.compressibility_figure(data)
    letters = [re.match(r"\((\w)\)", ax.get_title()).group(1) for ax in fig.axes if ax.get_title()]
    assert letters == list("abcdef")
    assert all("G_" not in ax.get_title() or "[F]" in ax.get_title() for ax in fig.axes)
