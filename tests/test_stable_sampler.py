"""simulations.stable.api: the CMS sampler against scipy.stats.levy_stable and closed forms.

Statistical levels. Every goodness-of-fit check below is a test of a true null
at a fixed seed, so it is deterministic; its *false-alarm rate* over seeds is
what the threshold controls. Each KS test rejects at p < 1e-3 and each moment /
tail check at |z| > 4 (two-sided 6e-5). With about 40 such checks in this file,
Bonferroni bounds the chance that a correct sampler fails any of them, for a
fresh choice of seeds, by 40 · 1e-3 ≈ 4%. Power: a two-sample KS test with
n = m = 20 000 detects a shift of the CDF by ≈ 0.02 at this level; a wrong
affine term (S0/S1 shift, the (2/π)βσ ln σ term at α = 1) moves the CDF by far more.
"""
from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import numba as nb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

from simulations.stable import api as stable
from simulations.stable.cpu import sas_draw, sub_gaussian_factor_draw
from simulations.stable.streams import init_states
from simulations.stable.streams import normal as rng_normal
from theory import stable as ts

P_MIN = 1e-3
Z_MAX = 4.0

# (alpha, beta, param, scale, loc): α < 1, α = 1 with β ≠ 0 and σ ≠ 1 (the log term), α = 2, both parameterizations
CASES = [
    (0.5, 0.0, "S0", 1.0, 0.0),
    (0.5, 1.0, "S1", 2.0, 0.5),
    (0.8, 0.5, "S0", 2.0, 0.5),
    (0.8, -0.7, "S1", 0.5, -1.0),
    (1.0, 0.0, "S0", 3.0, 0.0),
    (1.0, 0.5, "S0", 3.0, 0.2),
    (1.0, -0.8, "S1", 3.0, 0.2),
    (1.0, 0.8, "S1", 0.4, 0.2),
    (1.2, 0.3, "S1", 2.0, 1.0),
    (1.5, 0.0, "S0", 1.0, 0.0),
    (1.5, 0.9, "S0", 2.0, -1.0),
    (1.8, -0.5, "S1", 2.0, 0.0),
    (2.0, 0.0, "S0", 1.5, 0.0),
]


@pytest.fixture
def scipy_param():
    """Set scipy's levy_stable parameterization (a CLASS attribute, shared by frozen objects); restore it after."""
    cls = type(stats.levy_stable)
    saved = cls.__dict__["parameterization"]
    inst = stats.levy_stable.__dict__.get("parameterization", None)

    def set_param(p: str):
        cls.parameterization = p

    yield set_param
    cls.parameterization = saved
    if inst is not None:
        stats.levy_stable.parameterization = inst


def _scipy_rvs(a, b, param, scale, loc, n, seed):
    frozen = stats.levy_stable(a, b, loc=loc, scale=scale)
    return frozen.rvs(size=n, random_state=np.random.default_rng(seed))


@pytest.mark.parametrize("case", CASES, ids=[f"a{c[0]}-b{c[1]}-{c[2]}" for c in CASES])
def test_rvs_two_sample_ks_vs_scipy(case, scipy_param):
    a, b, param, scale, loc = case
    scipy_param(param)
    i = CASES.index(case)
    ours = stable.rvs(a, b, scale, loc, size=20_000, param=param, seed=1000 + i)
    ref = _scipy_rvs(a, b, param, scale, loc, 20_000, 2000 + i)
    assert stats.ks_2samp(ours, ref).pvalue > P_MIN


@pytest.mark.parametrize(
    "case", [CASES[3], CASES[6], CASES[10], CASES[12]], ids=["a0.8-S1", "a1-b-0.8-S1", "a1.5-b0.9-S0", "a2"]
)
def test_rvs_one_sample_ks_vs_scipy_cdf(case, scipy_param):
    """Against scipy's CDF (Nolan's integral representation): independent of any CMS code."""
    a, b, param, scale, loc = case
    scipy_param(param)
    x = stable.rvs(a, b, scale, loc, size=3000, param=param, seed=77)
    frozen = stats.levy_stable(a, b, loc=loc, scale=scale)
    assert stats.kstest(x, frozen.cdf).pvalue > P_MIN


@pytest.mark.parametrize("case", [CASES[5], CASES[10], CASES[2]], ids=["a1-b0.5", "a1.5-b0.9", "a0.8-b0.5"])
def test_ks_has_power_against_the_other_parameterization(case, scipy_param):
    """The same check rejects when our sample is drawn in the other parameterization (power check)."""
    a, b, param, scale, loc = case
    scipy_param(param)
    other = "S1" if param == "S0" else "S0"
    wrong = stable.rvs(a, b, scale, loc, size=20_000, param=other, seed=5)
    ref = _scipy_rvs(a, b, param, scale, loc, 20_000, 6)
    assert stats.ks_2samp(wrong, ref).pvalue < 1e-6


def test_s0_and_s1_differ_by_the_documented_shift():
    """Same uniforms ⇒ S0 sample − S1 sample = δ₀ − δ₁ conversion, exactly (α ≠ 1 and α = 1)."""
    for a, b, s in [(1.5, 0.7, 2.0), (1.0, -0.6, 3.0), (0.7, 1.0, 0.5)]:
        x0 = stable.rvs(a, b, s, 0.3, size=100, param="S0", seed=5)
        # the S1 location of the same law
        d1 = ts.s0_to_s1_loc(0.3, a, b, s)
        x1 = stable.rvs(a, b, s, d1, size=100, param="S1", seed=5)
        np.testing.assert_allclose(x0, x1, rtol=1e-12, atol=1e-9 * s)


STREAM_CASES = [CASES[2], CASES[6], CASES[9], CASES[11], CASES[12]]


@pytest.mark.parametrize("case", STREAM_CASES, ids=[f"a{c[0]}-b{c[1]}-{c[2]}" for c in STREAM_CASES])
def test_stream_rvs_same_law(case, scipy_param):
    a, b, param, scale, loc = case
    scipy_param(param)
    i = CASES.index(case)
    ours = stable.stream_rvs(a, b, 40, 500, scale=scale, loc=loc, param=param, seed=3000 + i).ravel()
    ref = _scipy_rvs(a, b, param, scale, loc, 20_000, 4000 + i)
    assert stats.ks_2samp(ours, ref).pvalue > P_MIN


@nb.njit(cache=False)
def _sas_kernel(states, alpha, out):
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = sas_draw(states, i, alpha)


@nb.njit(cache=False)
def _sub_gaussian_kernel(states, alpha, out):
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            r = sub_gaussian_factor_draw(states, i, alpha)
            for d in range(out.shape[2]):
                out[i, j, d] = r * rng_normal(states, i)


def test_in_kernel_draws_from_a_user_kernel(scipy_param):
    """sas_draw and sub_gaussian_factor_draw called from inside another njit kernel (how simulators use them)."""
    scipy_param("S0")
    ref = _scipy_rvs(1.3, 0.0, "S0", 1.0, 0.0, 20_000, 41)
    out = np.empty((20, 1000))
    _sas_kernel(init_states(20, 42), 1.3, out)
    assert stats.ks_2samp(out.ravel(), ref).pvalue > P_MIN
    vec = np.empty((20, 1000, 3))
    _sub_gaussian_kernel(init_states(20, 43), 1.3, vec)
    assert stats.ks_2samp(vec[:, :, 0].ravel(), ref).pvalue > P_MIN
    u = np.array([0.6, -0.8, 0.0])
    assert stats.ks_2samp((vec @ u).ravel(), ref).pvalue > P_MIN
    _sub_gaussian_kernel(init_states(4, 44), 2.0, vec[:4])
    assert stats.kstest(vec[:4].ravel(), stats.norm(scale=math.sqrt(2)).cdf).pvalue > P_MIN


def test_stream_rvs_rows_are_stable_streams():
    """Row i depends only on (seed, i): a prefix of the streams is reproduced with more streams."""
    small = stable.stream_rvs(1.3, 0.2, 3, 50, seed=11)
    big = stable.stream_rvs(1.3, 0.2, 6, 50, seed=11)
    np.testing.assert_array_equal(small, big[:3])
    assert not np.allclose(big[0], big[1])


@pytest.mark.parametrize("alpha", [0.5, 0.8, 1.2, 1.5, 1.8, 2.0])
def test_fractional_moment_matches_closed_form(alpha):
    """E|X|^p with p = 0.4α (so Var |X|^p < ∞: 2p < α) and p = −0.3 (2p > −1), 4-sigma CI."""
    scale = 1.7
    x = np.abs(stable.rvs(alpha, 0.0, scale, size=200_000, seed=int(alpha * 100)))
    for p in (0.4 * alpha, -0.3):
        y = x**p
        m, se = y.mean(), y.std(ddof=1) / math.sqrt(y.size)
        assert abs(m - ts.abs_moment(p, alpha, scale)) < Z_MAX * se, (p, m, se)


@pytest.mark.parametrize("alpha", [0.8, 1.5, 2.0])
def test_log_moments(alpha):
    """E ln|X| and Var ln|X| (theory/REFERENCE.md §3) within 4 standard errors.

    The standard error of Var comes from the 4th central moment.
    """
    scale = 0.6
    lx = np.log(np.abs(stable.rvs(alpha, size=200_000, scale=scale, seed=9)))
    n = lx.size
    m, v = lx.mean(), lx.var(ddof=1)
    assert abs(m - ts.log_abs_mean(alpha, scale)) < Z_MAX * math.sqrt(v / n)
    m4 = np.mean((lx - m) ** 4)
    assert abs(v - ts.log_abs_var(alpha)) < Z_MAX * math.sqrt((m4 - v**2) / n)


@pytest.mark.parametrize("alpha", [0.8, 1.2, 1.5, 1.8])
def test_empirical_tail_matches_c_alpha(alpha):
    """P(|X| > x) at the x where C_α σ^α x^{−α} = 1e-3, from n = 2·10⁶ draws.

    Binomial standard error √(p(1−p)/n) ≈ 2.2% of p; the asymptote's own relative
    error there is < 2.5% (checked against scipy's sf in test_stable_theory.py),
    so the check is |count/n − asymptote| < 4 se + 0.025·asymptote.
    """
    n, scale = 2_000_000, 1.3
    c = ts.tail_constant(alpha)
    x0 = scale * (c / 1e-3) ** (1.0 / alpha)
    x = stable.rvs(alpha, 0.0, scale, size=n, seed=int(alpha * 1000))
    frac = np.count_nonzero(np.abs(x) > x0) / n
    asym = ts.tail_asymptotic(x0, alpha, scale=scale)
    se = math.sqrt(asym * (1 - asym) / n)
    assert abs(frac - asym) < Z_MAX * se + 0.025 * asym, (frac, asym)


def test_one_sided_tail_skewed():
    """β = 1, α = 1.5: the lower tail is lighter than any power, the upper one is C_α x^{−α}."""
    a, n = 1.5, 1_000_000
    c = ts.tail_constant(a)
    x0 = (c / 1e-3) ** (1 / a)
    x = stable.rvs(a, 1.0, size=n, param="S1", seed=4)
    up = np.count_nonzero(x > x0) / n
    asym = ts.tail_asymptotic(x0, a, 1.0, side="upper")
    assert abs(up - asym) < Z_MAX * math.sqrt(asym / n) + 0.025 * asym
    assert np.count_nonzero(x < -x0) == 0


# ------------------------------------------------------------------ sub-Gaussian vectors
@pytest.mark.parametrize("alpha", [0.9, 1.5])
def test_sub_gaussian_marginals_and_rotation_invariance(alpha, scipy_param):
    scipy_param("S0")
    scale, dim = 1.5, 4
    x = stable.sub_gaussian_rvs(alpha, dim, 20_000, scale=scale, seed=21)
    assert x.shape == (20_000, dim)
    ref = _scipy_rvs(alpha, 0.0, "S0", scale, 0.0, 20_000, 22)
    assert stats.ks_2samp(x[:, 0], ref).pvalue > P_MIN
    assert stats.ks_2samp(x[:, 3], ref).pvalue > P_MIN
    u = np.random.default_rng(23).standard_normal(dim)
    u /= np.linalg.norm(u)
    assert stats.ks_2samp(x @ u, ref).pvalue > P_MIN
    # not independent coordinates: a common factor makes joint exceedances far likelier than p²
    q = np.quantile(np.abs(x[:, 0]), 0.99)
    joint = np.mean((np.abs(x[:, 0]) > q) & (np.abs(x[:, 1]) > q))
    assert joint > 10 * 0.01**2


def test_sub_gaussian_alpha_two_is_gaussian():
    x = stable.sub_gaussian_rvs(2.0, 3, 20_000, scale=0.7, seed=31)
    for j in range(3):
        assert stats.kstest(x[:, j], stats.norm(scale=math.sqrt(2) * 0.7).cdf).pvalue > P_MIN


def test_sub_gaussian_shapes_and_dtype():
    assert stable.sub_gaussian_rvs(1.2, 5, seed=0).shape == (5,)
    assert stable.sub_gaussian_rvs(1.2, 2, (3, 4), seed=0).shape == (3, 4, 2)
    x32 = stable.sub_gaussian_rvs(1.2, 2, 10, dtype=np.float32, seed=8)
    x64 = stable.sub_gaussian_rvs(1.2, 2, 10, dtype=np.float64, seed=8)
    assert x32.dtype == np.float32
    np.testing.assert_array_equal(x32, x64.astype(np.float32))


# ------------------------------------------------------------------ dtype, seeds, reproducibility
def test_float32_is_rounded_float64():
    x32 = stable.rvs(1.4, 0.3, 2.0, size=1000, dtype=np.float32, seed=3)
    x64 = stable.rvs(1.4, 0.3, 2.0, size=1000, dtype=np.float64, seed=3)
    assert x32.dtype == np.float32 and x64.dtype == np.float64
    np.testing.assert_array_equal(x32, x64.astype(np.float32))
    assert isinstance(stable.rvs(1.4, seed=1), float)
    assert isinstance(stable.rvs(1.4, seed=1, dtype=np.float32), np.float32)


def test_seed_forms_and_shapes():
    a = stable.rvs(1.1, size=(2, 3), seed=np.random.SeedSequence(4))
    b = stable.rvs(1.1, size=(2, 3), seed=np.random.default_rng(np.random.SeedSequence(4)))
    assert a.shape == (2, 3)
    np.testing.assert_array_equal(a, b)
    assert stable.rvs(1.1, size=0, seed=1).shape == (0,)
    assert not np.array_equal(stable.rvs(1.1, size=10, seed=1), stable.rvs(1.1, size=10, seed=2))


_DIGEST = (
    "import hashlib, numpy as np; from simulations import stable; h = hashlib.sha256();"
    "h.update(stable.rvs(1.3, 0.4, 2.0, 0.1, size=5000, param='S1', seed=123).tobytes());"
    "h.update(stable.rvs(1.0, -0.5, 3.0, size=5000, seed=7, dtype=np.float32).tobytes());"
    "h.update(stable.stream_rvs(0.7, 0.2, 4, 100, seed=99).tobytes());"
    "h.update(stable.sub_gaussian_rvs(1.5, 3, 100, seed=5).tobytes()); print(h.hexdigest())"
)


def test_same_seed_same_samples_across_processes():
    outs = [
        subprocess.run([sys.executable, "-c", _DIGEST], capture_output=True, text=True, check=True).stdout.strip()
        for _ in range(2)
    ]
    h = hashlib.sha256()
    h.update(stable.rvs(1.3, 0.4, 2.0, 0.1, size=5000, param="S1", seed=123).tobytes())
    h.update(stable.rvs(1.0, -0.5, 3.0, size=5000, seed=7, dtype=np.float32).tobytes())
    h.update(stable.stream_rvs(0.7, 0.2, 4, 100, seed=99).tobytes())
    h.update(stable.sub_gaussian_rvs(1.5, 3, 100, seed=5).tobytes())
    assert outs[0] == outs[1] == h.hexdigest()


# ------------------------------------------------------------------ input validation (hypothesis)
bad_alpha = st.one_of(
    st.floats(max_value=0.0), st.floats(min_value=2.0, exclude_min=True), st.just(float("nan")), st.just(float("inf"))
)
bad_beta = st.one_of(
    st.floats(min_value=1.0, exclude_min=True), st.floats(max_value=-1.0, exclude_max=True), st.just(float("nan"))
)
bad_scale = st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf")))


@given(bad_alpha)
def test_bad_alpha_raises(a):
    for fn in (
        lambda: stable.rvs(a, size=3, seed=0),
        lambda: stable.stream_rvs(a, 0.0, 1, 3),
        lambda: stable.sub_gaussian_rvs(a, 2, 3, seed=0),
    ):
        with pytest.raises(ValueError, match="alpha"):
            fn()


@given(bad_beta)
def test_bad_beta_raises(b):
    with pytest.raises(ValueError, match="beta"):
        stable.rvs(1.5, b, size=3, seed=0)
    with pytest.raises(ValueError, match="beta"):
        stable.stream_rvs(1.5, b, 1, 3)


@given(bad_scale)
def test_bad_scale_raises(s):
    with pytest.raises(ValueError, match="scale"):
        stable.rvs(1.5, 0.0, s, size=3, seed=0)
    with pytest.raises(ValueError, match="scale"):
        stable.stream_rvs(1.5, 0.0, 1, 3, scale=s)
    with pytest.raises(ValueError, match="scale"):
        stable.sub_gaussian_rvs(1.5, 2, 3, scale=s, seed=0)


@given(st.one_of(st.just(float("nan")), st.just(float("inf")), st.just(-float("inf"))))
def test_non_finite_loc_raises(v):
    with pytest.raises(ValueError, match="loc"):
        stable.rvs(1.5, 0.0, 1.0, v, size=3, seed=0)


@given(st.integers(max_value=-1))
def test_negative_size_raises(n):
    with pytest.raises(ValueError, match="size"):
        stable.rvs(1.5, size=n, seed=0)
    with pytest.raises(ValueError, match="size"):
        stable.rvs(1.5, size=(3, n), seed=0)
    with pytest.raises(ValueError, match="n_streams"):
        stable.stream_rvs(1.5, 0.0, n, 3)
    with pytest.raises(ValueError, match="n_per_stream"):
        stable.stream_rvs(1.5, 0.0, 2, n)


@given(st.sampled_from([np.int32, np.int64, np.float16, np.complex128, "int8", bool]))
def test_wrong_dtype_raises(dt):
    with pytest.raises(ValueError, match="dtype"):
        stable.rvs(1.5, size=3, dtype=dt, seed=0)
    with pytest.raises(ValueError, match="dtype"):
        stable.sub_gaussian_rvs(1.5, 2, 3, dtype=dt, seed=0)


def test_bad_kinds_raise_typeerror():
    with pytest.raises(TypeError, match="dtype"):
        stable.rvs(1.5, size=3, dtype="not-a-dtype", seed=0)
    with pytest.raises(TypeError, match="alpha"):
        stable.rvs("1.5", size=3, seed=0)
    with pytest.raises(TypeError, match="size"):
        stable.rvs(1.5, size=2.5, seed=0)
    with pytest.raises(TypeError, match="seed"):
        stable.rvs(1.5, size=3, seed="abc")
    with pytest.raises(ValueError, match="param"):
        stable.rvs(1.5, size=3, param="S2", seed=0)
    with pytest.raises(ValueError, match="dim"):
        stable.sub_gaussian_rvs(1.5, 0, 3, seed=0)
    with pytest.raises(ValueError, match="seed"):
        stable.stream_rvs(1.5, 0.0, 1, 3, seed=-1)


def test_cauchy_special_case_exact_cdf():
    """α = 1, β = 0 is Cauchy(loc, scale): a closed-form oracle needing no scipy stable code."""
    x = stable.rvs(1.0, 0.0, 2.5, -0.4, size=20_000, seed=55)
    cdf = lambda v: 0.5 + np.arctan((v + 0.4) / 2.5) / np.pi  # noqa: E731
    assert stats.kstest(x, cdf).pvalue > P_MIN
    # Lévy: S1(1/2, 1, σ, 0) has cdf erfc(√(σ/(2x))) for x > 0
    y = stable.rvs(0.5, 1.0, 0.8, size=20_000, param="S1", seed=56)
    assert y.min() > 0
    assert stats.kstest(y, lambda v: special.erfc(np.sqrt(0.8 / (2 * v)))).pvalue > P_MIN


@pytest.mark.parametrize("call,name", [
    (lambda: stable.rvs(1.5, size=stable.SIZE_MAX + 1, seed=0), "size"),
    # 2^32 · 2^32 overflowed numpy's int64 product to 0 (an empty draw for a 2^64-element shape)
    (lambda: stable.rvs(1.5, size=(2**32, 2**32), seed=0), "size"),
    (lambda: stable.stream_rvs(1.5, 0.0, 10**5, 10**5), "n_streams"),
    (lambda: stable.sub_gaussian_rvs(1.5, 10**6, 10**4, seed=0), "dim"),
    (lambda: stable.sub_gaussian_rvs(1.5, stable.SIZE_MAX + 1, seed=0), "dim"),
])
def test_sizes_above_the_stated_limit_raise_before_allocating(call, name):
    with pytest.raises(ValueError, match=rf"{name}.*SIZE_MAX = 1000000000"):
        call()


@pytest.mark.parametrize("n", [stable.STREAMS_MAX + 1, 78287626, 455118106])
def test_stream_states_limit(n):
    """16 bytes and one 128-step jump per stream: 10⁸ streams took minutes and gigabytes."""
    with pytest.raises(ValueError, match=r"n_streams must be an integer in \[0, 10000000\]"):
        stable.stream_states(n)
    with pytest.raises(ValueError, match=r"n_streams must be an integer in \[0, 10000000\]"):
        stable.init_states(n, 0)
    with pytest.raises(ValueError, match="n_streams"):
        stable.stream_rvs(1.5, 0.0, n, 1)


def test_size_as_a_string_is_a_type_error():
    with pytest.raises(TypeError, match="size"):
        stable.rvs(1.5, size="3", seed=0)
    assert stable.rvs(1.5, size=(2, 0), seed=0).shape == (2, 0)


# ---------------------------------------------------------------- ranges where draws stay within float64
@pytest.mark.parametrize("call", [
    lambda: stable.rvs(1e-300, size=10, seed=0),
    lambda: stable.rvs(5.893046566238751e-19, size=10, seed=0),
    lambda: stable.rvs(0.0999, size=10, seed=0),
    lambda: stable.stream_rvs(5e-324, 0.0, 2, 5, seed=0),
    lambda: stable.sub_gaussian_rvs(1e-300, 3, size=10, seed=0),
    lambda: stable.sub_gaussian_rvs(0.19, 3, size=10, seed=0),
])
def test_alpha_below_its_minimum_is_rejected(call):
    """At α = 1e-300 half of the draws were ±inf (P(|X| > x) ≈ x^{−α}: most mass beyond 1.8e308)."""
    with pytest.raises(ValueError, match=r"alpha must be in \[0\.[12], 2\]"):
        call()


@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5])
def test_draws_at_alpha_min_are_finite(beta):
    """At α = ALPHA_MIN = 0.1 the largest of n draws is about n^{1/α} = n^{10}: 10⁶⁰ at n = 10⁶.

    Oracle: the tail P(|X| > x) ~ C_α x^{−α}, so P(max > 1e150) <= n C x^{−α} ≈ 10⁶ · 10⁻¹⁵ (not a
    single one at this seed); the symmetric block cannot exceed e^{693} at all.
    """
    x = stable.rvs(stable.ALPHA_MIN, beta, scale=stable.SCALE_MAX, size=10**6, seed=5)
    assert np.all(np.isfinite(x))
    s = stable.stream_rvs(stable.ALPHA_MIN, beta, 100, 10**4, scale=stable.SCALE_MAX, seed=6)
    assert np.all(np.isfinite(s))
    assert np.abs(x).max() / stable.SCALE_MAX < 1e150


def test_sub_gaussian_draws_at_its_alpha_min_are_finite():
    g = stable.sub_gaussian_rvs(stable.SUB_GAUSSIAN_ALPHA_MIN, 2, size=10**6, scale=stable.SCALE_MAX, seed=7)
    assert np.all(np.isfinite(g))


@pytest.mark.parametrize("call,match", [
    (lambda: stable.rvs(1.5, scale=1e101, size=3), r"scale must be in \(0, 1e\+100\]"),
    (lambda: stable.rvs(1.5, loc=1.7e308, size=3), r"loc must be in \[-1e\+300, 1e\+300\]"),
    (lambda: stable.stream_rvs(1.5, scale=1e300), r"scale must be in"),
    (lambda: stable.stream_rvs(1.5, loc=-1e301), r"loc must be in"),
    (lambda: stable.sub_gaussian_rvs(1.5, 2, scale=1e300), r"scale must be in"),
])
def test_scale_and_loc_limits(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("size", [[1], np.array([1, 2]), 2.5, {3: 1}])
def test_size_must_be_none_an_int_or_a_tuple(size):
    with pytest.raises(TypeError, match="size must be None, an int or a tuple of ints"):
        stable.rvs(1.5, size=size, seed=0)
    with pytest.raises(TypeError, match="size must be None, an int or a tuple of ints"):
        stable.sub_gaussian_rvs(1.5, 3, size=size, seed=0)
    assert stable.rvs(1.5, size=np.int64(3), seed=0).shape == (3,)
