"""simulations.sde: lengths and sizes checked before the kernel runs."""
from __future__ import annotations

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
        sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=1.5, dt=0.1, steps=10**6, n_paths=2000,
                           record_every=1, params=[1.0, 0.0])


def test_ou_weak_error_T_limit():
    with pytest.raises(ValueError, match=r"T / min\(dts\).*at most 1000000000"):
        sde.ou_weak_error(1.5, T=5.4e16)
    with pytest.raises(ValueError, match="dts must all be in"):
        sde.ou_weak_error(1.5, T=1.0, dts=(0.5, -0.25))


@pytest.mark.parametrize("kw,match", [
    (dict(steps=1, n_paths=2 * 10**9), r"n_paths \* dim must be at most STATE_MAX"),
    (dict(steps=10**6, n_paths=10**5), r"work steps \* n_paths \* dim \* m .*WORK_MAX = 10000000000"),
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
