"""CUDA kernels: many SGD chains on least squares, one thread per chain (no validation here).

Device versions of :func:`simulations.kesten.cpu.sgd_online` / ``sgd_offline``: the chain bodies
are :mod:`simulations.kesten.recursion` compiled with ``cuda.jit(device=True)`` on the device
streams of :mod:`simulations.stable.cuda` (the same xoroshiro128+ numbers as the CPU streams), so
the update x ← x − (η/b) Σ_{i∈Ω} a_i (a_iᵀx − y_i) (Gürbüzbalaban, Şimşekli & Zhu, ICML 2021), the
divergence rule and the order of random draws on chain ch's stream are one definition, and a
chain computes the same numbers on both targets (to rounding: the device fuses a·b + c into FMAs).

A chain is a short sequential recursion (O(b·d) per step, one random stream), so the natural
GPU mapping is one *thread* per chain, thousands of chains per launch. Arrays are stored
chain-last — xT (d, C), permT (n, C), scratch aT, gT (d, C) — so that the threads of a warp
(consecutive chains) touch consecutive addresses; a thread works on the column views ``xT[:, ch]``.
"""
from __future__ import annotations

from numba import cuda

from simulations.kesten.recursion import compile_chains
from simulations.stable import streams as _streams
from simulations.stable.cuda import normal, uniform, uniform_open

__all__ = ["normal_pair", "sgd_online_kernel", "sgd_offline_kernel"]

_box_muller = cuda.jit(device=True, inline=True)(_streams.box_muller.py_func)


@cuda.jit(device=True, inline=True)
def normal_pair(states, i):
    """Two independent N(0, 1) from stream ``i``, as :func:`simulations.stable.streams.normal_pair`."""
    u1 = uniform_open(states, i)
    u2 = uniform(states, i)
    return _box_muller(u1, u2)


_online_chain, _offline_chain = compile_chains(cuda.jit(device=True, inline=True), normal_pair, normal, uniform)


# Two drivers, here and in simulations.kesten.cpu: the device runs one thread per chain on
# chain-last arrays (d, C) with preallocated scratch (a kernel cannot allocate); the CPU runs
# prange over the rows of chain-major x (C, d). Both call the same chain bodies.
@cuda.jit
def sgd_online_kernel(states, xT, xavgT, status, div_step, lr, batch_size, sigma, noise_sd, xstar, steps, burn_in,
                      thresh2, want_avg, init_scale, aT, gT):
    """Online SGD, chain ch = thread: fresh a_i ~ N(0, σ²I), y_i = a_iᵀx* + noise_sd ε_i every step."""
    ch = cuda.grid(1)
    if ch >= xT.shape[1]:
        return
    xa = xavgT[:, ch] if want_avg else xavgT[:, 0]
    st, k = _online_chain(states, ch, xT[:, ch], xa, aT[:, ch], gT[:, ch], lr, batch_size, sigma, noise_sd, xstar,
                          steps, burn_in, thresh2, want_avg, init_scale)
    status[ch] = st
    div_step[ch] = k


@cuda.jit
def sgd_offline_kernel(states, A, y, xT, xavgT, status, div_step, lr, batch_size, steps, burn_in, thresh2, want_avg,
                       init_scale, sampling, permT, gT):
    """Offline SGD on a shared data set (A, y); ``sampling`` 0 = epochs (reshuffle, drop-last),
    1 = a fresh random b-subset per step (partial Fisher–Yates); permT (n, C) must hold 0..n−1 per chain."""
    ch = cuda.grid(1)
    if ch >= xT.shape[1]:
        return
    xa = xavgT[:, ch] if want_avg else xavgT[:, 0]
    st, k = _offline_chain(states, ch, A, y, xT[:, ch], xa, permT[:, ch], gT[:, ch], lr, batch_size, steps, burn_in,
                           thresh2, want_avg, init_scale, sampling)
    status[ch] = st
    div_step[ch] = k
