"""The Lévy SDE study: Euler–Maruyama on the α-stable Ornstein–Uhlenbeck process.

dX = −θX dt + σ dL_t, L a symmetric α-stable Lévy process, discretised as
X_{k+1} = (1 − θh) X_k + σ h^{1/α} S_k (:mod:`simulations.sde.api`). The EM chain is linear, so its
law after n steps is exactly SαS with scale σ(h Σ_{j<n} |1−θh|^{αj})^{1/α} and its stationary law
has scale σ[h/(1 − |1−θh|^α)]^{1/α}, against the continuous-time σ(αθ)^{−1/α} (Samorodnitsky &
Taqqu 1994, *Stable Non-Gaussian Random Processes*); the weak error on E|X_T|^p is of order 1
in h. ``paper/fig_kesten.py`` (panels c, d) and notebook 03 plot :func:`stable_ou_study`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simulations._core import seeding
from simulations._core.validation import check_alpha, check_int, check_positive
from simulations.sde import api as sde

__all__ = ["stable_ou_study"]


def stable_ou_study(
    alpha: float = 1.5,
    theta: float = 1.0,
    sigma: float = 1.0,
    h: float = 0.5,
    *,
    steps: int = 100,
    n_paths: int = 400_000,
    T: float = 1.0,
    dts: Any = (0.5, 0.25, 0.125, 0.0625, 0.03125),
    weak_paths: int = 2_000_000,
    seed: Any = None,
) -> dict:
    """The α-stable OU process dX = −θX dt + σ dL under Euler–Maruyama with step h.

    Runs ``n_paths`` EM paths for ``steps`` steps from 0 (the chain's law is then its stationary
    SαS law to |1−θh|^{α·steps}; seed child ``"paths"``) and the weak-error study
    :func:`simulations.sde.api.ou_weak_error` on E|X_T|^p (seed child ``"weak"``). Returns ``x``
    (the finite final states), ``scale_em`` = σ[h/(1 − |1−θh|^α)]^{1/α} (the EM chain's stationary
    scale), ``scale_ct`` = σ(αθ)^{−1/α} (the continuous-time one) and ``weak`` (the weak-error dict).
    Needs 0 < θh < 2 (a stationary EM chain); the limits of both parts
    (:data:`simulations.sde.api.WORK_MAX`, ...) are checked before either runs.
    """
    # every argument (the weak-error study's included) is checked before the first path runs
    alpha = check_alpha(alpha)
    h = check_positive("h", h)
    n_paths = check_int("n_paths", n_paths, 1)
    steps = check_int("steps", steps, 1, sde.STEPS_MAX)
    sde._check_run(steps, n_paths, 1, 1)
    sde._weak_plan(alpha, theta, sigma, T, dts, weak_paths, None)
    sde.em_ou_stationary_scale(alpha, theta, sigma, h)
    ss = seeding.seed_sequence(seed)
    res = sde.euler_maruyama(sde.ou_drift, np.zeros(1), alpha=alpha, dt=h, steps=steps, n_paths=n_paths,
                             sigma=sigma, params=[theta, 0.0], seed=seeding.child(ss, "paths"))
    weak = sde.ou_weak_error(alpha, theta, sigma, T, dts, n_paths=weak_paths, seed=seeding.child(ss, "weak"))
    return dict(x=res.x[res.ok, 0], scale_em=sde.em_ou_stationary_scale(alpha, theta, sigma, h),
                scale_ct=sde.stable_ou_stationary_scale(alpha, theta, sigma), weak=weak)
