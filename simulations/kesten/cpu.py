"""Numba kernels: many independent SGD chains on least squares (no validation here).

Used by :mod:`simulations.kesten.chains`. One xoroshiro128+ stream per chain
(:mod:`simulations.stable.streams`), chains run in parallel with ``numba.prange``; a
chain's numbers depend only on its stream, never on the thread count.

SGD step (Gürbüzbalaban, Şimşekli & Zhu, ICML 2021, eq. for linear regression):

    x ← x − (η/b) Σ_{i∈Ω} a_i (a_iᵀx − y_i),

computed as b dot products and b axpy's (O(b·d) per step): the matrix
M = I − (η/b) Σ a_i a_iᵀ is never formed.

Order of the random draws on a chain's stream (the tests replay it):

* start: if ``init_scale > 0``, d standard normals in Box–Muller pairs
  (see :func:`normal_pair`; the second of the last pair is dropped when d is odd);
* online, each step, each of the b rows: d normals in pairs as above
  (a_i = σ z), then, if ``noise_sd > 0``, one :func:`simulations.stable.streams.normal` for ε_i;
  y_i = a_iᵀx* + noise_sd·ε_i;
* offline, ``sampling = 0`` (epochs): at the start of every epoch a full
  Fisher–Yates shuffle of the chain's permutation (j = n−1, …, 1:
  m = ⌊u (j+1)⌋, swap perm[j], perm[m]); batches are consecutive blocks of b;
  the last n mod b rows of an epoch are skipped (drop-last);
* offline, ``sampling = 1`` (fresh subset per step, as in the original study's
  ``np.random.permutation(n)[:b]``): a partial Fisher–Yates of b positions
  (j = 0, …, b−1: m = j + ⌊u (n−j)⌋, swap perm[j], perm[m]); rows perm[0:b].

Status codes per chain: 0 ok, 1 non-finite iterate, 2 ‖x‖ above the threshold.
A diverged chain stops; its row of ``x`` is set to NaN and ``div_step`` holds
the (1-based) step at which it was detected.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulations.stable.streams import normal, uniform, uniform_open

STATUS_OK = 0
STATUS_NONFINITE = 1
STATUS_THRESHOLD = 2


@nb.njit(inline="always", cache=True)
def normal_pair(states, i):
    """Two independent N(0, 1) by Box–Muller: R cos Θ, R sin Θ (first = rng.normal's)."""
    u1 = uniform_open(states, i)
    u2 = uniform(states, i)
    r = math.sqrt(-2.0 * math.log(u1))
    t = 2.0 * math.pi * u2
    return r * math.cos(t), r * math.sin(t)


@nb.njit(inline="always", cache=True)
def _init_chain(states, ch, x, init_scale):
    d = x.shape[1]
    if init_scale > 0.0:
        j = 0
        while j < d:
            z1, z2 = normal_pair(states, ch)
            x[ch, j] += init_scale * z1
            if j + 1 < d:
                x[ch, j + 1] += init_scale * z2
            j += 2


@nb.njit(inline="always", cache=True)
def _finish_step(x, ch, g, c, thresh2, status, div_step, k):
    """x ← x − c g; returns True when the chain diverged (and records it)."""
    d = x.shape[1]
    nrm2 = 0.0
    for j in range(d):
        v = x[ch, j] - c * g[j]
        x[ch, j] = v
        nrm2 += v * v
    if nrm2 <= thresh2:
        return False
    status[ch] = STATUS_THRESHOLD if math.isfinite(nrm2) else STATUS_NONFINITE
    div_step[ch] = k + 1
    for j in range(d):
        x[ch, j] = np.nan
    return True


@nb.njit(inline="always", cache=True)
def _running_average(xavg, x, ch, navg):
    """Fold x[ch] into the running mean xavg[ch] of ``navg`` iterates; return navg + 1."""
    navg += 1
    w = 1.0 / navg
    for j in range(x.shape[1]):
        xavg[ch, j] += w * (x[ch, j] - xavg[ch, j])
    return navg


@nb.njit(cache=True, parallel=True)
def sgd_online(states, x, xavg, status, div_step, eta, b, sigma, noise_sd, xstar,
               n_steps, burn_in, thresh2, want_avg, init_scale):
    """Online SGD (fresh a_i ~ N(0, σ²I), y_i = a_iᵀx* + noise_sd ε_i each step), in place on x."""
    n_chains, d = x.shape
    c = eta / b
    for ch in nb.prange(n_chains):
        a = np.empty(d)
        g = np.empty(d)
        _init_chain(states, ch, x, init_scale)
        navg = 0
        for k in range(n_steps):
            for j in range(d):
                g[j] = 0.0
            for _i in range(b):
                r = 0.0
                j = 0
                while j < d:
                    z1, z2 = normal_pair(states, ch)
                    a[j] = sigma * z1
                    r += a[j] * (x[ch, j] - xstar[j])
                    if j + 1 < d:
                        a[j + 1] = sigma * z2
                        r += a[j + 1] * (x[ch, j + 1] - xstar[j + 1])
                    j += 2
                if noise_sd > 0.0:
                    r -= noise_sd * normal(states, ch)
                for j in range(d):
                    g[j] += a[j] * r
            if _finish_step(x, ch, g, c, thresh2, status, div_step, k):
                break
            if want_avg and k >= burn_in:
                navg = _running_average(xavg, x, ch, navg)
        if status[ch] != STATUS_OK and want_avg:
            xavg[ch, :] = np.nan


@nb.njit(cache=True, parallel=True)
def sgd_offline(states, A, y, x, xavg, status, div_step, eta, b, n_steps, burn_in, thresh2,
                want_avg, init_scale, sampling):
    """Offline SGD on a fixed data set (A, y) shared by all chains, in place on x.

    ``sampling``: 0 = epochs of minibatches without replacement (reshuffle per
    epoch), 1 = a fresh uniformly random b-subset every step.
    """
    n_chains, d = x.shape
    n = A.shape[0]
    c = eta / b
    for ch in nb.prange(n_chains):
        g = np.empty(d)
        perm = np.arange(n)
        _init_chain(states, ch, x, init_scale)
        pos = n  # forces a shuffle before the first epoch
        navg = 0
        for k in range(n_steps):
            if sampling == 0:
                if pos + b > n:
                    for j in range(n - 1, 0, -1):
                        m = int(uniform(states, ch) * (j + 1))
                        t = perm[j]
                        perm[j] = perm[m]
                        perm[m] = t
                    pos = 0
                start = pos
                pos += b
            else:
                for j in range(b):
                    m = j + int(uniform(states, ch) * (n - j))
                    t = perm[j]
                    perm[j] = perm[m]
                    perm[m] = t
                start = 0
            for j in range(d):
                g[j] = 0.0
            for i in range(start, start + b):
                row = perm[i]
                r = -y[row]
                for j in range(d):
                    r += A[row, j] * x[ch, j]
                for j in range(d):
                    g[j] += A[row, j] * r
            if _finish_step(x, ch, g, c, thresh2, status, div_step, k):
                break
            if want_avg and k >= burn_in:
                navg = _running_average(xavg, x, ch, navg)
        if status[ch] != STATUS_OK and want_avg:
            xavg[ch, :] = np.nan
