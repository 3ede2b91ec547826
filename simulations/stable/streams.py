"""Counter-free per-stream random numbers for numba kernels (xoroshiro128+).

Kernels that run many independent chains in parallel (``numba.prange``) need
one random stream per chain, so that results do not depend on the number of
threads or on scheduling. This module gives each chain its own
xoroshiro128+ state (Blackman & Vigna 2018), two ``uint64`` words, stored as a
row of a ``(n_streams, 2)`` array. Stream ``i`` is the seed state advanced by
``i`` jumps of 2^64 draws, so streams never overlap in practice.

The generator, its seeding (splitmix64) and its jump polynomial are the ones
``numba.cuda.random`` uses (``init_xoroshiro128p_states``), so a CPU kernel and
a CUDA kernel given the same seed draw the same numbers per stream.

All ``*_draw`` functions are ``@njit(inline)`` scalars meant to be called from
inside other kernels: ``u = uniform_open(states, i)``.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

_JUMP0 = np.uint64(0xBEAC0467EBA5FACB)
_JUMP1 = np.uint64(0xD86B048B86AA9922)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53


@nb.njit(inline="always", cache=True)
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@nb.njit(inline="always", cache=True)
def next_uint64(states, i):
    """Advance stream ``i`` and return its next 64-bit output (xoroshiro128+)."""
    s0 = states[i, 0]
    s1 = states[i, 1]
    result = s0 + s1
    s1 ^= s0
    states[i, 0] = _rotl(s0, 55) ^ s1 ^ (s1 << np.uint64(14))
    states[i, 1] = _rotl(s1, 36)
    return result


@nb.njit(inline="always", cache=True)
def uniform(states, i):
    """U[0, 1) with 53 random bits (numba.cuda's ``xoroshiro128p_uniform_float64``)."""
    return float(next_uint64(states, i) >> np.uint64(11)) * _TWO_M53


@nb.njit(inline="always", cache=True)
def uniform_open(states, i):
    """U(0, 1), both ends excluded: (k + 1/2) 2^-53 for a random 53-bit k."""
    return (float(next_uint64(states, i) >> np.uint64(11)) + 0.5) * _TWO_M53


@nb.njit(inline="always", cache=True)
def exponential(states, i):
    """Exp(1) by inversion, -log U with U in (0, 1)."""
    return -math.log(uniform_open(states, i))


@nb.njit(inline="always", cache=True)
def normal(states, i):
    """N(0, 1) by the Box–Muller transform (one of the pair; stateless)."""
    u1 = uniform_open(states, i)
    u2 = uniform(states, i)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@nb.njit(cache=True)
def _jump(states, i):
    s0 = np.uint64(0)
    s1 = np.uint64(0)
    for w in range(2):
        jw = _JUMP0 if w == 0 else _JUMP1
        for b in range(64):
            if jw & (np.uint64(1) << np.uint64(b)):
                s0 ^= states[i, 0]
                s1 ^= states[i, 1]
            next_uint64(states, i)
    states[i, 0] = s0
    states[i, 1] = s1


@nb.njit(cache=True)
def _init_states(states, seed, subsequence_start):
    z = seed + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    n = states.shape[0]
    if n == 0:
        return
    states[0, 0] = z
    states[0, 1] = z
    for _ in range(subsequence_start):
        _jump(states, 0)
    for i in range(1, n):
        states[i, 0] = states[i - 1, 0]
        states[i, 1] = states[i - 1, 1]
        _jump(states, i)


def init_states(n_streams: int, seed: int, subsequence_start: int = 0) -> np.ndarray:
    """Return a ``(n_streams, 2)`` uint64 array of independent xoroshiro128+ states.

    Parameters
    ----------
    n_streams : int, >= 0
        Number of streams (one per chain, path, network, ...).
    seed : int in [0, 2**64)
        Seed; the same seed gives the same streams in every process.
    subsequence_start : int, >= 0
        Skip this many streams first (to extend an existing family of streams).
    """
    from simulations._core.validation import check_int

    n_streams = check_int("n_streams", n_streams, 0)
    seed = check_int("seed", seed, 0, 2**64 - 1)
    subsequence_start = check_int("subsequence_start", subsequence_start, 0)
    states = np.empty((n_streams, 2), dtype=np.uint64)
    _init_states(states, np.uint64(seed), subsequence_start)
    return states


@nb.njit(inline="always", cache=True)
def box_muller(u1, u2):
    """The Box–Muller pair (R cos Θ, R sin Θ), R = √(−2 log u1), Θ = 2π u2: two independent N(0, 1)
    from u1 ∈ (0, 1), u2 ∈ [0, 1) (plain ``math``, so a CUDA module can compile its ``py_func``)."""
    r = math.sqrt(-2.0 * math.log(u1))
    t = 2.0 * math.pi * u2
    return r * math.cos(t), r * math.sin(t)


@nb.njit(inline="always", cache=True)
def normal_pair(states, i):
    """Two independent N(0, 1) from stream ``i`` (the first is :func:`normal`'s draw)."""
    u1 = uniform_open(states, i)
    u2 = uniform(states, i)
    return box_muller(u1, u2)
