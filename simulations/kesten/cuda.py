"""CUDA kernels: many SGD chains on least squares, one thread per chain (no validation here).

Device versions of :func:`simulations.kesten.cpu.sgd_online` / ``sgd_offline`` with the same
update x ← x − (η/b) Σ_{i∈Ω} a_i (a_iᵀx − y_i) (Gürbüzbalaban, Şimşekli & Zhu, ICML 2021), the
same divergence rule and the same order of random draws on chain ch's xoroshiro128+ stream
(documented in :mod:`simulations.kesten.cpu`), so a chain computes the same numbers on both.

A chain is a short sequential recursion (O(b·d) per step, one random stream), so the natural
GPU mapping is one *thread* per chain, thousands of chains per launch. Arrays are stored
chain-last — xT (d, C), perm (n, C), scratch (d, C) — so that the threads of a warp (consecutive
chains) touch consecutive addresses.
"""
from __future__ import annotations

import math

from numba import cuda

from simulations.stable.cuda import normal, uniform, uniform_open

__all__ = ["sgd_online_kernel", "sgd_offline_kernel"]

STATUS_OK = 0
STATUS_NONFINITE = 1
STATUS_THRESHOLD = 2


@cuda.jit(device=True, inline=True)
def _normal_pair(states, i):
    u1 = uniform_open(states, i)
    u2 = uniform(states, i)
    r = math.sqrt(-2.0 * math.log(u1))
    t = 2.0 * math.pi * u2
    return r * math.cos(t), r * math.sin(t)


@cuda.jit(device=True, inline=True)
def _init_chain(states, ch, xT, init_scale):
    d = xT.shape[0]
    if init_scale > 0.0:
        j = 0
        while j < d:
            z1, z2 = _normal_pair(states, ch)
            xT[j, ch] += init_scale * z1
            if j + 1 < d:
                xT[j + 1, ch] += init_scale * z2
            j += 2


@cuda.jit(device=True, inline=True)
def _finish_step(xT, ch, gT, c, thresh2, status, div_step, k):
    d = xT.shape[0]
    nrm2 = 0.0
    for j in range(d):
        v = xT[j, ch] - c * gT[j, ch]
        xT[j, ch] = v
        nrm2 += v * v
    if nrm2 <= thresh2:
        return False
    status[ch] = STATUS_THRESHOLD if math.isfinite(nrm2) else STATUS_NONFINITE
    div_step[ch] = k + 1
    for j in range(d):
        xT[j, ch] = math.nan
    return True


@cuda.jit(device=True, inline=True)
def _average(xT, xavgT, ch, navg):
    w = 1.0 / navg
    for j in range(xT.shape[0]):
        xavgT[j, ch] += w * (xT[j, ch] - xavgT[j, ch])


@cuda.jit
def sgd_online_kernel(states, xT, xavgT, status, div_step, eta, b, sigma, noise_sd, xstar, n_steps, burn_in, thresh2,
                      want_avg, init_scale, aT, gT):
    """Online SGD, chain ch = thread: fresh a_i ~ N(0, σ²I), y_i = a_iᵀx* + noise_sd ε_i every step."""
    ch = cuda.grid(1)
    d = xT.shape[0]
    if ch >= xT.shape[1]:
        return
    c = eta / b
    _init_chain(states, ch, xT, init_scale)
    navg = 0
    for k in range(n_steps):
        for j in range(d):
            gT[j, ch] = 0.0
        for _i in range(b):
            r = 0.0
            j = 0
            while j < d:
                z1, z2 = _normal_pair(states, ch)
                aT[j, ch] = sigma * z1
                r += aT[j, ch] * (xT[j, ch] - xstar[j])
                if j + 1 < d:
                    aT[j + 1, ch] = sigma * z2
                    r += aT[j + 1, ch] * (xT[j + 1, ch] - xstar[j + 1])
                j += 2
            if noise_sd > 0.0:
                r -= noise_sd * normal(states, ch)
            for j in range(d):
                gT[j, ch] += aT[j, ch] * r
        if _finish_step(xT, ch, gT, c, thresh2, status, div_step, k):
            break
        if want_avg and k >= burn_in:
            navg += 1
            _average(xT, xavgT, ch, navg)
    if status[ch] != STATUS_OK and want_avg:
        for j in range(d):
            xavgT[j, ch] = math.nan


@cuda.jit
def sgd_offline_kernel(states, A, y, xT, xavgT, status, div_step, eta, b, n_steps, burn_in, thresh2, want_avg,
                       init_scale, sampling, permT, gT):
    """Offline SGD on a shared data set (A, y); ``sampling`` 0 = epochs (reshuffle, drop-last),
    1 = a fresh random b-subset per step (partial Fisher–Yates); permT (n, C) must hold 0..n−1 per chain."""
    ch = cuda.grid(1)
    d = xT.shape[0]
    if ch >= xT.shape[1]:
        return
    n = A.shape[0]
    c = eta / b
    _init_chain(states, ch, xT, init_scale)
    pos = n
    navg = 0
    for k in range(n_steps):
        if sampling == 0:
            if pos + b > n:
                for j in range(n - 1, 0, -1):
                    m = int(uniform(states, ch) * (j + 1))
                    t = permT[j, ch]
                    permT[j, ch] = permT[m, ch]
                    permT[m, ch] = t
                pos = 0
            start = pos
            pos += b
        else:
            for j in range(b):
                m = j + int(uniform(states, ch) * (n - j))
                t = permT[j, ch]
                permT[j, ch] = permT[m, ch]
                permT[m, ch] = t
            start = 0
        for j in range(d):
            gT[j, ch] = 0.0
        for i in range(start, start + b):
            row = permT[i, ch]
            r = -y[row]
            for j in range(d):
                r += A[row, j] * xT[j, ch]
            for j in range(d):
                gT[j, ch] += A[row, j] * r
        if _finish_step(xT, ch, gT, c, thresh2, status, div_step, k):
            break
        if want_avg and k >= burn_in:
            navg += 1
            _average(xT, xavgT, ch, navg)
    if status[ch] != STATUS_OK and want_avg:
        for j in range(d):
            xavgT[j, ch] = math.nan
