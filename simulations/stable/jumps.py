"""Jump-ahead of xoroshiro128+ streams by any number of draws: GF(2) matrices, computed on the host.

Who uses it: the CUDA launchers that split one network's sequential random stream between the
threads of a block (:mod:`simulations.noise_injection.cuda_launch`), so that every thread draws
exactly the numbers the CPU kernel draws from that stream. Thread j positions its own copy of
the stream at the offset of its first draw (:func:`advance`, :func:`chain`) and skips the other
threads' draws with one matrix (:func:`power`) applied on the device by
:func:`simulations.stable.cuda.jump_apply`. It is a kernel module: plain numba functions on
arrays, no validation, no import of an API module.

Mathematics. The xoroshiro128+ state update (Blackman & Vigna 2018, ACM TOMS 47(4), 2021) is
linear over GF(2): the next state is T s for a 128×128 binary matrix T. Skipping m outputs is
s ↦ T^m s, and T^m is a product of the binary powers T^(2^p) (:data:`POWERS`). A matrix is
stored by columns, ``M[b] = (lo, hi)`` = the image of the basis state with only bit b set
(b < 64: bit b of s0; b ≥ 64: bit b−64 of s1), so applying it costs one XOR per bit of s
(:func:`apply`, compiled for both targets from one source). T^(2^64) equals numba.cuda.random's
jump polynomial, the stream spacing of :func:`simulations.stable.streams.init_states` (which skips
whole streams with the squarings of that matrix). The matrix arithmetic (:func:`apply`,
:func:`matmul`) lives in :mod:`simulations.stable.streams`, the lowest module, and is re-exported here.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from simulations.stable.streams import gf2_apply as apply
from simulations.stable.streams import gf2_matmul as matmul
from simulations.stable.streams import gf2_squarings as _squarings
from simulations.stable.streams import xoroshiro128p_next

__all__ = ["transition_matrix", "matmul", "apply", "power", "advance", "chain", "POWERS"]

_Z64 = np.uint64(0)
_ONE64 = np.uint64(1)


@nb.njit(cache=True)
def transition_matrix():
    """T: the state map of one xoroshiro128+ output, as (128, 2) uint64 columns."""
    M = np.empty((128, 2), dtype=np.uint64)
    for b in range(128):
        s0 = np.uint64(1) << np.uint64(b) if b < 64 else np.uint64(0)
        s1 = np.uint64(0) if b < 64 else np.uint64(1) << np.uint64(b - 64)
        _, n0, n1 = xoroshiro128p_next(s0, s1)
        M[b, 0] = n0
        M[b, 1] = n1
    return M


#: POWERS[p] = T^(2^p), p = 0..64
POWERS = _squarings(transition_matrix(), 65)


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

