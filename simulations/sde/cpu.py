"""Numba kernels: Euler–Maruyama for Lévy-driven SDEs, many paths in parallel (no validation).

Scheme (see :mod:`simulations.sde.api`): for a step h,

    X_{k+1} = X_k + h f(X_k) + Σ · h^{1/α} S_k,

S_k an m-vector of standard symmetric α-stable noise, drawn from the path's
own xoroshiro128+ stream (:mod:`simulations.stable.streams`):

* ``noise_kind = NOISE_ENTRY`` (independent coordinates): m iid SαS(1) draws (:func:`sas_draw`);
* ``noise_kind = NOISE_ELLIPTICAL`` (isotropic, sub-Gaussian): R·Z with Z ~ N(0, I_m) and
  R = :func:`sub_gaussian_factor_draw` (each coordinate SαS(1)).

The h^{1/α} factor is the self-similarity of the α-stable Lévy process:
L_{t+h} − L_t =ᵈ h^{1/α} L_1. Only symmetric noise is supported, so no
α = 1 drift correction is needed.

The drift is a user ``@numba.njit`` function ``drift(x, params, out)`` writing
f(x) into ``out`` (1-D arrays of length dim; ``params`` a 1-D float64 array).

Status codes per path (:mod:`simulations._core.codes`): STATUS_OK, STATUS_NONFINITE (non-finite X),
STATUS_THRESHOLD (‖X‖ above the threshold), STATUS_DRIFT (the drift returned a non-finite value at a
finite X). A failed path stops;
its row of ``x`` is set to NaN and ``fail_step`` holds the 1-based step.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulations._core.codes import NOISE_ENTRY, STATUS_DRIFT, STATUS_NONFINITE, STATUS_OK, STATUS_THRESHOLD
from simulations.stable.cpu import sas_draw, sub_gaussian_factor_draw
from simulations.stable.streams import normal_pair


@nb.njit(cache=True, parallel=True)
def euler_maruyama(drift, params, states, x, sig, alpha, noise_kind, h, steps, thresh2,
                   status, fail_step, record_every, rec):
    """Advance every row of ``x`` (n_paths, dim) by ``steps`` EM steps, in place.

    ``sig`` is the (dim, m) noise matrix Σ. When ``record_every > 0``,
    ``rec[j]`` receives the state after step (j+1)·record_every.
    """
    n_paths, dim = x.shape
    m = sig.shape[1]
    scale = h ** (1.0 / alpha)
    for p in nb.prange(n_paths):
        xp = np.empty(dim)
        f = np.empty(dim)
        s = np.empty(m)
        for j in range(dim):
            xp[j] = x[p, j]
        for k in range(steps):
            drift(xp, params, f)
            bad = False
            for j in range(dim):
                if not math.isfinite(f[j]):
                    bad = True
            if bad:
                status[p] = STATUS_DRIFT
                fail_step[p] = k + 1
                break
            if noise_kind == NOISE_ENTRY:
                for i in range(m):
                    s[i] = scale * sas_draw(states, p, alpha)
            else:
                r = scale * sub_gaussian_factor_draw(states, p, alpha)
                i = 0
                while i < m:
                    z1, z2 = normal_pair(states, p)
                    s[i] = r * z1
                    if i + 1 < m:
                        s[i + 1] = r * z2
                    i += 2
            nrm2 = 0.0
            for j in range(dim):
                v = xp[j] + h * f[j]
                for i in range(m):
                    v += sig[j, i] * s[i]
                xp[j] = v
                nrm2 += v * v
            if not nrm2 <= thresh2:
                status[p] = STATUS_THRESHOLD if math.isfinite(nrm2) else STATUS_NONFINITE
                fail_step[p] = k + 1
                break
            if record_every > 0 and (k + 1) % record_every == 0:
                jr = (k + 1) // record_every - 1
                for j in range(dim):
                    rec[jr, p, j] = xp[j]
        if status[p] == STATUS_OK:
            for j in range(dim):
                x[p, j] = xp[j]
        else:
            for j in range(dim):
                x[p, j] = np.nan
            if record_every > 0:
                for jr in range((fail_step[p] - 1) // record_every, rec.shape[0]):
                    for j in range(dim):
                        rec[jr, p, j] = np.nan


@nb.njit(cache=True)
def ou_drift(x, params, out):
    """Linear drift f(x) = −θ (x − μ) with θ = params[0], μ = params[1] (all coordinates)."""
    th = params[0]
    mu = params[1]
    for j in range(x.shape[0]):
        out[j] = -th * (x[j] - mu)


@nb.njit(cache=True)
def double_well_drift(x, params, out):
    """Gradient drift of the double well U(x) = a‖x‖⁴/4 − c‖x‖²/2: f = −(a‖x‖² − c) x, a, c = params[0:2]."""
    a = params[0]
    c = params[1]
    r2 = 0.0
    for j in range(x.shape[0]):
        r2 += x[j] * x[j]
    for j in range(x.shape[0]):
        out[j] = -(a * r2 - c) * x[j]
