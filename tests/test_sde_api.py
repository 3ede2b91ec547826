"""simulations.sde.api: Euler–Maruyama for α-stable Lévy SDEs against the stable OU process's
exact laws (scipy.stats.levy_stable), noise scaling, weak order, failures and validation.

KS tests use fixed seeds and the cut p > 1e-3 (0.1% false-alarm rate per test under H0).
"""
from __future__ import annotations

import math

import numba
import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given
from hypothesis import strategies as hs

from simulations.sde import api as sde


def _ks_p(sample, cdf, n_grid=400):
    """KS p-value with the statistic evaluated at n_grid sample quantiles (≤ the full statistic,
    so the test is slightly conservative); avoids 20k slow levy_stable.cdf calls."""
    x = np.sort(np.asarray(sample))
    n = x.size
    idx = np.unique(np.linspace(0, n - 1, n_grid).astype(int))
    F = cdf(x[idx])
    D = max(np.max((idx + 1) / n - F), np.max(F - idx / n))
    return float(st.kstwo.sf(D, n))


def _sas_cdf(alpha, scale, loc=0.0):
    if alpha == 2.0:
        return st.norm(loc=loc, scale=math.sqrt(2.0) * scale).cdf
    return st.levy_stable(alpha, 0.0, loc=loc, scale=scale).cdf


def test_em_ou_scale_formula_by_hand():
    """σ(h Σ_{j<n} |1−θh|^{αj})^{1/α} summed explicitly, and its limits."""
    a, th, s, h, n = 1.3, 0.7, 0.9, 0.1, 37
    direct = s * (h * sum(abs(1 - th * h) ** (a * j) for j in range(n))) ** (1 / a)
    assert sde.em_ou_scale(a, th, s, h, n) == pytest.approx(direct, rel=1e-13)
    assert sde.em_ou_scale(a, th, s, h, 100_000) == pytest.approx(sde.em_ou_stationary_scale(a, th, s, h), rel=1e-12)
    # h → 0: EM stationary scale → continuous-time σ(αθ)^{−1/α}
    assert sde.em_ou_stationary_scale(a, th, s, 1e-7) == pytest.approx(sde.stable_ou_stationary_scale(a, th, s), rel=1e-6)
    # t → ∞ transition scale → stationary scale
    assert sde.stable_ou_transition(a, th, s, 200.0)[1] == pytest.approx(sde.stable_ou_stationary_scale(a, th, s))


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.5, 2.0])
def test_em_ou_law_after_n_steps_is_exact(alpha):
    """The EM chain of the OU process after n steps is SαS(loc (1−θh)^n x0, scale em_ou_scale): KS."""
    th, s, h, n, x0 = 1.0, 0.8, 0.1, 15, 3.0
    res = sde.euler_maruyama(sde.ou_drift, np.array([x0]), alpha=alpha, dt=h, steps=n, n_paths=20_000,
                             sigma=s, params=[th, 0.0], seed=7)
    assert res.n_failed == 0
    cdf = _sas_cdf(alpha, sde.em_ou_scale(alpha, th, s, h, n), (1 - th * h) ** n * x0)
    assert _ks_p(res.x[:, 0], cdf) > 1e-3


def test_em_ou_stationary_law():
    """After many steps (|1−θh|^{αn} ≈ 1e-9) the EM chain is at its SαS stationary law: KS."""
    alpha, th, s, h = 1.5, 2.0, 1.0, 0.05
    res = sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=alpha, dt=h, steps=150, n_paths=20_000,
                             sigma=s, params=[th, 0.0], seed=8)
    assert _ks_p(res.x[:, 0], _sas_cdf(alpha, sde.em_ou_stationary_scale(alpha, th, s, h))) > 1e-3


def test_transition_law_at_small_dt():
    """With h = 1e-3 the EM law is within 0.05% (scale) of the exact transition law: KS with 20k paths."""
    alpha, th, s, T, x0 = 1.2, 1.0, 1.0, 0.5, -2.0
    res = sde.euler_maruyama(sde.ou_drift, np.array([x0]), alpha=alpha, dt=1e-3, steps=500, n_paths=20_000,
                             sigma=s, params=[th, 0.0], seed=9)
    loc, scale = sde.stable_ou_transition(alpha, th, s, T, x0)
    assert _ks_p(res.x[:, 0], _sas_cdf(alpha, scale, loc)) > 1e-3


def test_weak_order_is_one():
    """Empirical weak order on E|X_T|^p: slope of log error vs log h.

    Exact EM errors (analytic) give ~1; the Monte-Carlo errors at h ∈ {0.5, …, 0.125}
    are ≥ 10 standard errors above noise with 10⁵ paths, so the MC slope is within ±0.3.
    """
    out = sde.ou_weak_error(1.5, theta=1.0, sigma=1.0, T=1.0, dts=(0.5, 0.25, 0.125), n_paths=100_000, seed=3)
    assert out["order_em"] == pytest.approx(1.0, abs=0.15)
    assert np.all(out["error_mc"] > 5 * out["se"])
    assert out["order_mc"] == pytest.approx(1.0, abs=0.3)
    assert np.all(np.abs(out["mc"] - out["em_exact"]) < 5 * out["se"])


@pytest.mark.parametrize("noise", ["entry", "elliptical"])
def test_one_step_noise_scale_and_matrix(noise):
    """Zero drift, one step: X = x0 + Σ h^{1/α} S; each coordinate SαS(h^{1/α}) (Σ = I),
    and with Σ = [[1, 1]] (independent coordinates, "entry") SαS(2^{1/α} h^{1/α})."""
    alpha, h = 1.3, 0.01
    zero = sde.ou_drift  # θ = 0: zero drift (reuses the compiled kernel)
    res = sde.euler_maruyama(zero, np.zeros(2), alpha=alpha, dt=h, steps=1, n_paths=20_000, noise=noise,
                             params=[0.0, 0.0], seed=1)
    for j in range(2):
        assert _ks_p(res.x[:, j], _sas_cdf(alpha, h ** (1 / alpha))) > 1e-3
    if noise == "entry":
        res2 = sde.euler_maruyama(zero, np.zeros(1), alpha=alpha, dt=h, steps=1, n_paths=20_000,
                                  sigma=np.array([[1.0, 1.0]]), params=[0.0, 0.0], seed=2)
        assert _ks_p(res2.x[:, 0], _sas_cdf(alpha, (2 * h) ** (1 / alpha))) > 1e-3
    else:  # elliptical (isotropic): the norm's law is rotation-invariant → the angle is uniform
        ang = np.arctan2(res.x[:, 1], res.x[:, 0])
        assert st.kstest(ang, st.uniform(-math.pi, 2 * math.pi).cdf).pvalue > 1e-3


def test_reproducible_and_thread_independent():
    kw = dict(alpha=1.7, dt=0.05, steps=40, n_paths=64, params=[1.0, 0.0], seed=5)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = sde.euler_maruyama(sde.ou_drift, np.ones(3), **kw).x
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        b = sde.euler_maruyama(sde.ou_drift, np.ones(3), **kw).x
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(a, b)


def test_recording():
    res = sde.euler_maruyama(sde.ou_drift, np.ones(2), alpha=1.5, dt=0.1, steps=10, n_paths=4,
                             params=[1.0, 0.0], record_every=5, seed=0)
    assert res.path.shape == (2, 4, 2)
    np.testing.assert_array_equal(res.path[-1], res.x)
    np.testing.assert_allclose(res.times, [0.5, 1.0])


# ----------------------------------------------------------------------------- failures and validation
@numba.njit(cache=True)
def _bad_drift(x, params, out):
    """params[0] = 0: cubic (explodes); 1: −x inside |x| < params[1], NaN outside; 2: NaN always."""
    mode = params[0]
    for j in range(x.shape[0]):
        if mode == 0.0:
            out[j] = x[j] * x[j] * x[j]
        elif mode == 1.0:
            out[j] = -x[j] if abs(x[j]) < params[1] else math.nan
        else:
            out[j] = math.nan


def test_blow_up_is_flagged():
    res = sde.euler_maruyama(_bad_drift, np.full(1, 3.0), alpha=1.5, dt=0.1, steps=200, n_paths=50,
                             params=[0.0, 0.0], threshold=1e100, seed=0)
    assert np.all(res.status > 0) and np.all(np.isnan(res.x)) and np.all(res.failed_at > 0)


def test_nonfinite_drift_raises_or_is_reported():
    with pytest.raises(ValueError, match="non-finite"):
        sde.euler_maruyama(_bad_drift, np.zeros(1), alpha=1.5, dt=0.1, steps=5, params=[2.0, 0.0])
    with pytest.raises(ValueError, match="non-finite value at a finite state"):
        sde.euler_maruyama(_bad_drift, np.zeros(1), alpha=0.9, dt=0.1, steps=200, n_paths=200, params=[1.0, 1.0],
                           seed=1)
    res = sde.euler_maruyama(_bad_drift, np.zeros(1), alpha=0.9, dt=0.1, steps=200, n_paths=200, params=[1.0, 1.0],
                             on_drift_error="status", seed=1)
    assert np.any(res.status == 3) and np.all(np.isnan(res.x[res.status == 3]))


@given(alpha=hs.sampled_from([0.0, -0.5, 2.01, 3.0, math.nan]))
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=alpha, dt=0.1, steps=1, params=[1.0, 0.0])


@given(dt=hs.sampled_from([0.0, -1.0, math.inf]), steps=hs.integers(-2, 0))
def test_bad_dt_steps(dt, steps):
    with pytest.raises(ValueError, match="dt"):
        sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=1.5, dt=dt, steps=1, params=[1.0, 0.0])
    with pytest.raises(ValueError, match="steps"):
        sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=1.5, dt=0.1, steps=steps, params=[1.0, 0.0])


def test_other_validation():
    with pytest.raises(TypeError, match="drift"):
        sde.euler_maruyama(lambda x, p, o: None, np.zeros(1), alpha=1.5, dt=0.1, steps=1)
    with pytest.raises(ValueError, match="sigma"):
        sde.euler_maruyama(sde.ou_drift, np.zeros(2), alpha=1.5, dt=0.1, steps=1, sigma=np.ones(3), params=[1.0, 0.0])
    with pytest.raises(ValueError, match="sigma"):
        sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=1.5, dt=0.1, steps=1, sigma=-1.0, params=[1.0, 0.0])
    with pytest.raises(ValueError, match="x0"):
        sde.euler_maruyama(sde.ou_drift, np.array([np.nan]), alpha=1.5, dt=0.1, steps=1, params=[1.0, 0.0])
    with pytest.raises(ValueError, match="noise"):
        sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=1.5, dt=0.1, steps=1, noise="skewed", params=[1.0, 0.0])
    with pytest.raises(ValueError, match="theta"):
        sde.em_ou_stationary_scale(1.5, 10.0, 1.0, 0.5)
