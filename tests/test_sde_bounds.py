"""simulations.sde: lengths and sizes checked before the kernel runs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulations import sde


def test_ou_params_too_short_is_rejected():
    """params=[1.0] used to read past its end (μ taken from stray memory) and report every path ok."""
    with pytest.raises(ValueError, match=r"params must have length 2 \(theta, mu\).*got 1"):
        sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=2.0, dt=0.1, steps=200, n_paths=2000,
                           params=np.array([1.0, 5.0])[:1], seed=0)
    with pytest.raises(ValueError, match=r"params must have length 2 \(a, c\)"):
        sde.euler_maruyama(sde.double_well_drift, np.zeros(1), alpha=1.5, dt=0.1, steps=1, params=[1.0, 2.0, 3.0])


def test_ou_params_mu_is_used():
    """With μ given, the α = 2 EM chain has mean μ + (1−θh)^n (x0 − μ) (exact linear recursion)."""
    th, mu, h, n = 1.0, 5.0, 0.1, 200
    res = sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=2.0, dt=h, steps=n, n_paths=4000,
                             params=[th, mu], sigma=0.5, seed=0)
    mean = mu + (1 - th * h) ** n * (0.0 - mu)
    sd = sde.em_ou_scale(2.0, th, 0.5, h, n) * np.sqrt(2.0)  # SαS(scale) at α = 2 is N(0, 2 scale²)
    assert abs(res.x[:, 0].mean() - mean) < 5 * sd / np.sqrt(4000)


def test_steps_limit_raises_before_work():
    with pytest.raises(ValueError, match=r"steps must be an integer in \[1, 1000000000\]"):
        sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=1.5, dt=0.1, steps=10**18, params=[1.0, 0.0])


def test_record_size_limit():
    with pytest.raises(ValueError, match="recorded path"):
        sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=1.5, dt=0.1, steps=10**5, n_paths=2000,
                           record_every=1, params=[1.0, 0.0])


def test_ou_weak_error_T_limit():
    with pytest.raises(ValueError, match=r"T / min\(dts\).*at most 1000000000"):
        sde.ou_weak_error(1.5, T=5.4e16)
    with pytest.raises(ValueError, match="dts must all be in"):
        sde.ou_weak_error(1.5, T=1.0, dts=(0.5, -0.25))


@pytest.mark.parametrize("kw,match", [
    (dict(steps=1, n_paths=2 * 10**6, x0=np.zeros(100), sigma=np.ones((100, 1))),
     r"n_paths \* dim must be at most STATE_MAX"),
    (dict(steps=1, n_paths=2 * 10**7), r"n_paths must be an integer in \[1, 10000000\]"),
    (dict(steps=10**6, n_paths=10**5), r"work steps \* n_paths \* dim \* m .*WORK_MAX = 1000000000"),
    (dict(steps=823715333, x0=np.zeros(3)), r"work steps \* n_paths \* dim \* m .*WORK_MAX"),
    (dict(steps=10, n_paths=14557132, x0=np.zeros(3)), r"n_paths must be an integer"),
    (dict(steps=1, n_paths=2, x0=np.zeros(10**6)), r"work steps \* n_paths \* dim \* m"),  # σI is 10¹² entries
    (dict(steps=10**4, n_paths=10**3, x0=np.zeros(2), sigma=np.ones((2, 10**3))), r"work .*m = sigma's columns"),
])
def test_work_and_memory_limits_raise_before_work(kw, match):
    args = dict(x0=np.zeros(1), alpha=1.5, dt=0.1, params=[1.0, 0.0]) | kw
    with pytest.raises(ValueError, match=match):
        sde.euler_maruyama(sde.ou_drift, **args)


def test_ou_weak_error_checks_everything_before_running():
    """The second dt did not divide T: the first dt's paths had already been simulated."""
    with pytest.raises(ValueError, match=r"each dt in dts must divide T"):
        sde.ou_weak_error(1.5, T=1.0, dts=(0.5, 0.3), n_paths=10**9)
    with pytest.raises(ValueError, match=r"work steps \* n_paths"):
        sde.ou_weak_error(1.5, T=1.0, dts=(0.001, 0.002), n_paths=10**8)
    with pytest.raises(ValueError, match="n_paths"):
        sde.ou_weak_error(1.5, n_paths=1)
    with pytest.raises(ValueError, match="distinct"):
        sde.ou_weak_error(1.5, dts=(0.5, 0.5))
    with pytest.raises(ValueError, match="theta"):
        sde.ou_weak_error(1.5, theta=-1.0)


def test_stable_ou_study_checks_both_parts_first():
    from simulations.sde import stable_ou_study

    with pytest.raises(ValueError, match=r"each dt in dts must divide T"):
        stable_ou_study(n_paths=10, steps=2, dts=(0.5, 0.3), weak_paths=10)
    with pytest.raises(ValueError, match="work"):
        stable_ou_study(n_paths=10**8, steps=10**3)
    with pytest.raises(ValueError, match=r"theta\*h"):
        stable_ou_study(h=3.0, n_paths=10, steps=2, weak_paths=10)


# ---------------------------------------------------------------- exact OU scales, in log space
def _mp_em_scale(alpha, theta, sigma, h, n):
    import mpmath as mp

    mp.mp.dps = 60
    q = abs(1 - mp.mpf(theta) * mp.mpf(h)) ** mp.mpf(alpha)
    geo = mp.mpf(n) if q == 1 else (1 - q**n) / (1 - q)
    return float(mp.mpf(sigma) * (mp.mpf(h) * geo) ** (1 / mp.mpf(alpha)))


def _mp_em_stationary(alpha, theta, sigma, h):
    import mpmath as mp

    mp.mp.dps = 600  # 1 − q with θh = 1e-248 needs ~250 digits
    q = abs(1 - mp.mpf(theta) * mp.mpf(h)) ** mp.mpf(alpha)
    return float(mp.mpf(sigma) * (mp.mpf(h) / (1 - q)) ** (1 / mp.mpf(alpha)))


def _mp_transition(alpha, theta, sigma, t):
    import mpmath as mp

    mp.mp.dps = 60
    a, th = mp.mpf(alpha), mp.mpf(theta)
    return float(mp.mpf(sigma) * (-mp.expm1(-a * th * mp.mpf(t)) / (a * th)) ** (1 / a))


@pytest.mark.parametrize("args", [
    (1.5, 0.5, 0.5, 0.5, 5), (1.2, 0.3, 2.0, 0.1, 1000), (0.7, 3.0, 1.0, 0.5, 7), (2.0, 1.0, 1.0, 1.0, 5),
    (1.5, 5.0, 1.0, 0.5, 4), (1.0, 1e-3, 1.0, 1e-3, 3), (1e-3, 1.0, 1.0, 0.5, 2), (1.5, 1e-300, 1.0, 0.5, 10),
    (1.5, 8.8e40, 0.5, 0.5, 5), (0.3, 1.0, 1.0, 1e-3, 10**6),
])
def test_em_ou_scale_against_mpmath(args):
    """em_ou_scale(theta=8.8e206) raised OverflowError (q**n); the log-space form is exact to rounding."""
    assert sde.em_ou_scale(*args) == pytest.approx(_mp_em_scale(*args), rel=1e-12)


@pytest.mark.parametrize("args", [(1.5, 0.5, 0.5, 0.5), (1.2, 0.3, 2.0, 0.1), (1.5, 1.0, 1.0, 1.9),
                                  (0.3, 1.0, 1.0, 1e-3), (1.5, 0.5, 0.5, 1.9222290072028626e-248),
                                  (1.5, 0.5, 0.5, 1.4682036799133858e-58), (1.5, 1e-300, 0.5, 0.5)])
def test_em_ou_stationary_scale_against_mpmath(args):
    """A tiny θh made 1 − |1 − θh|^α round to 0 (ZeroDivisionError); as h → 0 it tends to σ(αθ)^{−1/α}."""
    assert sde.em_ou_stationary_scale(*args) == pytest.approx(_mp_em_stationary(*args), rel=1e-12)


@pytest.mark.parametrize("args", [(1.5, 0.5, 1.0, 2.0), (1.5, 0.5, 1.0, 1e-10), (0.4, 2.0, 3.0, 50.0),
                                  (1e-3, 1.0, 1.0, 1.0), (1.9, 1e5, 1.0, 1e-3)])
def test_stable_ou_transition_scale_against_mpmath(args):
    assert sde.stable_ou_transition(*args)[1] == pytest.approx(_mp_transition(*args), rel=1e-12)


def test_tiny_alpha_limits_where_the_scale_is_representable():
    """α → 0 at t = 1 (transition) and h·n = 1 (EM): the scales tend to σe^{−θ/2} and σ|1 − θh|^{(n−1)/2}."""
    assert sde.stable_ou_transition(5e-324, 0.5, 0.5, 1.0)[1] == pytest.approx(0.5 * math.exp(-0.25), rel=1e-14)
    assert sde.em_ou_scale(1e-300, 0.5, 1.0, 0.5, 2) == pytest.approx(math.sqrt(0.75), rel=1e-14)


@pytest.mark.parametrize("call,match", [
    (lambda: sde.em_ou_scale(1e-16, 0.5, 0.5, 0.5, 5), r"EM scale .*outside float64's range at alpha=1e-16"),
    (lambda: sde.em_ou_scale(1e-300, 0.5, 0.5, 0.5, 5), r"EM scale .*alpha=1e-300"),
    (lambda: sde.em_ou_scale(5e-324, 0.5, 0.5, 0.5, 5), r"EM scale .*alpha="),  # returned inf
    (lambda: sde.em_ou_scale(1.5, 8.792448360865014e+206, 0.5, 0.5, 5), r"EM scale .*theta=8\.79245e\+206"),
    (lambda: sde.stable_ou_stationary_scale(5e-324, 0.5), r"stationary scale .*alpha="),
    (lambda: sde.stable_ou_stationary_scale(1e-300, 0.5), r"stationary scale .*alpha=1e-300"),
    (lambda: sde.stable_ou_transition(5e-324, 0.5, 0.5, 0.5), r"transition scale .*alpha="),
    (lambda: sde.em_ou_stationary_scale(1.5, 5e-324, 0.5, 0.1), r"theta\*h must be in \(0, 2\)"),
    (lambda: sde.sas_abs_moment(1e-300, -0.5), r"moment E\|X\|\^p .*alpha=1e-300"),
])
def test_unrepresentable_scales_raise_naming_the_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_sas_abs_moment_against_the_gamma_formula():
    from scipy.special import gamma

    for a, p, s in [(1.5, 0.5, 2.0), (0.8, -0.3, 1.0), (2.0, 1.5, 0.7)]:
        ref = s**p * 2**p * gamma((1 + p) / 2) * gamma(1 - p / a) / (math.sqrt(math.pi) * gamma(1 - p / 2))
        assert sde.sas_abs_moment(a, p, s) == pytest.approx(ref, rel=1e-13)
