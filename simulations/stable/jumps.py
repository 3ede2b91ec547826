"""Jump-ahead matrices of xoroshiro128+ over GF(2) (host numba kernels).

The xoroshiro128+ state update (Blackman & Vigna 2018) is linear over GF(2): the next state is
T s for a 128×128 binary matrix T. Skipping m outputs is s ↦ T^m s. A matrix is stored by
columns, ``M[b] = (lo, hi)`` = the image of the basis state with only bit b set (b < 64: bit b of
s0; b ≥ 64: bit b−64 of s1), so applying it costs one XOR per set bit of s
(:func:`simulations.stable.cuda.jump_apply` on the device, :func:`apply` here).

This is what lets a GPU block split one network's sequential random stream between threads
and still draw exactly the numbers the CPU kernel draws: thread j positions its own copy of
the stream at the offset of its first draw and skips the other threads' draws by a jump.
T^(2^64) equals numba.cuda.random's jump polynomial (the stream spacing of :func:`simulations.stable.streams.init_states`).
"""
from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["transition_matrix", "matmul", "apply", "power", "POWERS"]

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


@nb.njit(cache=True)
def _step(s0, s1):
    s1 ^= s0
    n0 = ((s0 << np.uint64(55)) | (s0 >> np.uint64(9))) ^ s1 ^ (s1 << np.uint64(14))
    n1 = (s1 << np.uint64(36)) | (s1 >> np.uint64(28))
    return n0, n1


@nb.njit(cache=True)
def transition_matrix():
    """T: the state map of one xoroshiro128+ output, as (128, 2) uint64 columns."""
    M = np.empty((128, 2), dtype=np.uint64)
    for b in range(128):
        s0 = np.uint64(1) << np.uint64(b) if b < 64 else np.uint64(0)
        s1 = np.uint64(0) if b < 64 else np.uint64(1) << np.uint64(b - 64)
        n0, n1 = _step(s0, s1)
        M[b, 0] = n0
        M[b, 1] = n1
    return M


@nb.njit(cache=True)
def apply(M, s0, s1):
    """M s for a state (s0, s1)."""
    o0 = np.uint64(0)
    o1 = np.uint64(0)
    for b in range(64):
        if (s0 >> np.uint64(b)) & np.uint64(1):
            o0 ^= M[b, 0]
            o1 ^= M[b, 1]
    for b in range(64):
        if (s1 >> np.uint64(b)) & np.uint64(1):
            o0 ^= M[64 + b, 0]
            o1 ^= M[64 + b, 1]
    return o0, o1


@nb.njit(cache=True)
def matmul(A, B):
    """A B (first B, then A)."""
    C = np.empty((128, 2), dtype=np.uint64)
    for b in range(128):
        o0, o1 = apply(A, B[b, 0], B[b, 1])
        C[b, 0] = o0
        C[b, 1] = o1
    return C


@nb.njit(cache=True)
def _powers(n):
    P = np.empty((n, 128, 2), dtype=np.uint64)
    P[0] = transition_matrix()
    for p in range(1, n):
        P[p] = matmul(P[p - 1], P[p - 1])
    return P


#: POWERS[p] = T^(2^p), p = 0..64
POWERS = _powers(65)


@nb.njit(cache=True)
def _power(P, m):
    R = np.zeros((128, 2), dtype=np.uint64)
    for b in range(64):
        R[b, 0] = np.uint64(1) << np.uint64(b)
    for b in range(64):
        R[64 + b, 1] = np.uint64(1) << np.uint64(b)
    p = 0
    while m > 0:
        if m & 1:
            R = matmul(P[p], R)
        m >>= 1
        p += 1
    return R


def power(m: int) -> np.ndarray:
    """T^m as (128, 2) uint64 columns (m ≥ 0, m < 2^63)."""
    return _power(POWERS, np.int64(m))


@nb.njit(cache=True)
def advance(states, i, m, P):
    """Advance stream ``i`` of ``states`` by ``m`` outputs in place (binary powers, ≤ 63 jumps)."""
    s0 = states[i, 0]
    s1 = states[i, 1]
    p = 0
    while m > 0:
        if m & 1:
            s0, s1 = apply(P[p], s0, s1)
        m >>= 1
        p += 1
    states[i, 0] = s0
    states[i, 1] = s1


@nb.njit(cache=True)
def chain(s0, s1, M, dest, start, n):
    """dest[start + j] = M^j (s0, s1) for j < n: the states of n equally spaced positions of a stream."""
    for j in range(n):
        dest[start + j, 0] = s0
        dest[start + j, 1] = s1
        s0, s1 = apply(M, s0, s1)
