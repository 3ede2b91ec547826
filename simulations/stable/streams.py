"""Counter-free per-stream random numbers for numba kernels (xoroshiro128+), CPU side.

Kernels that run many independent chains in parallel (``numba.prange``) need
one random stream per chain, so that results do not depend on the number of
threads or on scheduling. This module gives each chain its own
xoroshiro128+ state (Blackman & Vigna 2018, "Scrambled linear pseudorandom number
generators", ACM TOMS 47(4), 2021), two ``uint64`` words, stored as a row of a
``(n_streams, 2)`` array. Stream ``i`` is the seed state advanced by ``i`` jumps of
2^64 draws, so streams never overlap in practice.

The generator, its seeding (splitmix64) and its jump polynomial are the ones
``numba.cuda.random`` uses (``init_xoroshiro128p_states``), so a CPU kernel and
a CUDA kernel given the same seed draw the same numbers per stream.

One source, two targets. The arithmetic is written once here, as ``@njit`` functions of
scalars (:func:`xoroshiro128p_next`, :func:`bits_to_uniform`, :func:`bits_to_uniform_open`,
:func:`bits_to_exponential`, :func:`box_muller`); :mod:`simulations.stable.cuda` compiles the
very same source for the device (``cuda.jit(device=True)(f.py_func)``). Only the thin
functions that read and write the ``states`` array (:func:`next_uint64`, :func:`uniform`,
:func:`uniform_open`, :func:`exponential`, :func:`normal`) have a body per target: each must
call its own target's compilation of the scalar functions (a ``py_func`` resolves its globals
in this module, i.e. to the CPU versions, and the CUDA simulator cannot pass a device array to
a CPU function).

The state map is linear over GF(2); :func:`gf2_apply` and :func:`gf2_matmul` (128×128 binary matrices
by columns, re-exported by :mod:`simulations.stable.jumps`) let :func:`init_states` skip any number
of whole streams in O(64) steps (:func:`skip_streams`).

All draw functions are ``@njit(inline)`` scalars meant to be called from
inside other kernels: ``u = uniform_open(states, i)``.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

_JUMP0 = np.uint64(0xBEAC0467EBA5FACB)
_JUMP1 = np.uint64(0xD86B048B86AA9922)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_U9, _U11, _U14, _U28, _U36, _U55 = (np.uint64(k) for k in (9, 11, 14, 28, 36, 55))
_Z64 = np.uint64(0)
_ONE64 = np.uint64(1)


# ------------------------------------------------------------------ scalar arithmetic (CPU and device)
@nb.njit(inline="always", cache=True)
def xoroshiro128p_next(s0, s1):
    """One xoroshiro128+ step on the state (s0, s1): returns (output s0 + s1, new s0, new s1).

    s1 ← s1 ⊕ s0, s0 ← rotl(s0, 55) ⊕ s1 ⊕ (s1 ≪ 14), s1 ← rotl(s1, 36) (a = 55, b = 14, c = 36).
    """
    result = s0 + s1
    s1 ^= s0
    n0 = ((s0 << _U55) | (s0 >> _U9)) ^ s1 ^ (s1 << _U14)
    n1 = (s1 << _U36) | (s1 >> _U28)
    return result, n0, n1


@nb.njit(inline="always", cache=True)
def bits_to_uniform(x):
    """U[0, 1) from the top 53 bits of a 64-bit draw (numba.cuda's ``xoroshiro128p_uniform_float64``)."""
    return float(np.int64(x >> _U11)) * _TWO_M53   # via int64 (exact, < 2^53): a scalar cvtsi2sd without AVX-512


@nb.njit(inline="always", cache=True)
def bits_to_uniform_open(x):
    """U(0, 1), both ends excluded: (k + 1/2) 2^-53 for the top 53 bits k of a 64-bit draw."""
    return (float(np.int64(x >> _U11)) + 0.5) * _TWO_M53


@nb.njit(inline="always", cache=True)
def bits_to_exponential(x):
    """Exp(1) by inversion, −log U with U = :func:`bits_to_uniform_open` (x) ∈ (0, 1)."""
    return -math.log(bits_to_uniform_open(x))


# ------------------------------------------------------------------ draws from stream i of ``states`` (CPU bodies)
# Twins of the same-named device functions in simulations.stable.cuda: the two bodies are the same
# text and differ only in which target's compilation of the scalar functions above they call.
@nb.njit(inline="always", cache=True)
def next_uint64(states, i):
    """Advance stream ``i`` and return its next 64-bit output (xoroshiro128+)."""
    r, s0, s1 = xoroshiro128p_next(states[i, 0], states[i, 1])
    states[i, 0] = s0
    states[i, 1] = s1
    return r


@nb.njit(inline="always", cache=True)
def uniform(states, i):
    """U[0, 1) with 53 random bits (numba.cuda's ``xoroshiro128p_uniform_float64``)."""
    return bits_to_uniform(next_uint64(states, i))


@nb.njit(inline="always", cache=True)
def uniform_open(states, i):
    """U(0, 1), both ends excluded: (k + 1/2) 2^-53 for a random 53-bit k."""
    return bits_to_uniform_open(next_uint64(states, i))


@nb.njit(inline="always", cache=True)
def exponential(states, i):
    """Exp(1) by inversion, -log U with U in (0, 1)."""
    return bits_to_exponential(next_uint64(states, i))


@nb.njit(inline="always", cache=True)
def normal(states, i):
    """N(0, 1) by the Box–Muller transform (the first of the pair, U1 ∈ (0, 1) then U2 ∈ [0, 1))."""
    u1 = uniform_open(states, i)
    u2 = uniform(states, i)
    return box_muller(u1, u2)[0]


# ------------------------------------------------------------------ seeding (host)
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
def _seed_state(seed):
    """splitmix64 of the seed: the first stream's state is (z, z)."""
    z = seed + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True)
def _chain_streams(states):
    """Row i ← row i−1 advanced by one jump (2^64 draws), i = 1..n−1."""
    for i in range(1, states.shape[0]):
        states[i, 0] = states[i - 1, 0]
        states[i, 1] = states[i - 1, 1]
        _jump(states, i)


# ------------------------------------------------------------------ GF(2) matrices of the state map
# The state update is linear over GF(2). A 128×128 binary matrix is stored by columns, M[b] = (lo, hi)
# = the image of the basis state with only bit b set (b < 64: bit b of s0; b ≥ 64: bit b−64 of s1).
@nb.njit(inline="always", cache=True)
def gf2_apply(M, s0, s1):
    """M s for a state (s0, s1), as a pair (lo, hi).

    Branch-free (a mask of all ones where bit b of s is set), so that the device compilation
    (:func:`simulations.stable.cuda.jump_apply`) has no warp divergence.
    """
    o0 = _Z64
    o1 = _Z64
    for b in range(64):
        m = _Z64 - ((s0 >> np.uint64(b)) & _ONE64)
        o0 ^= M[b, 0] & m
        o1 ^= M[b, 1] & m
    for b in range(64):
        m = _Z64 - ((s1 >> np.uint64(b)) & _ONE64)
        o0 ^= M[64 + b, 0] & m
        o1 ^= M[64 + b, 1] & m
    return o0, o1


@nb.njit(cache=True)
def gf2_matmul(A, B):
    """A B (first B, then A)."""
    C = np.empty((128, 2), dtype=np.uint64)
    for b in range(128):
        o0, o1 = gf2_apply(A, B[b, 0], B[b, 1])
        C[b, 0] = o0
        C[b, 1] = o1
    return C


@nb.njit(cache=True)
def gf2_squarings(M, n):
    """M^(2^p) for p = 0..n−1, as (n, 128, 2) uint64 columns."""
    P = np.empty((n, 128, 2), dtype=np.uint64)
    P[0] = M
    for p in range(1, n):
        P[p] = gf2_matmul(P[p - 1], P[p - 1])
    return P


@nb.njit(cache=True)
def _jump_matrix():
    """The jump polynomial's map (T^(2^64), one stream) as (128, 2) columns: the jump of each basis state."""
    M = np.empty((128, 2), dtype=np.uint64)
    st = np.empty((1, 2), dtype=np.uint64)
    for b in range(128):
        st[0, 0] = _ONE64 << np.uint64(b) if b < 64 else _Z64
        st[0, 1] = _Z64 if b < 64 else _ONE64 << np.uint64(b - 64)
        _jump(st, 0)
        M[b, 0] = st[0, 0]
        M[b, 1] = st[0, 1]
    return M


@nb.njit(cache=True)
def _skip_streams(s0, s1, k, J):
    """T^(2^64·k) (s0, s1) for a uint64 k, J[p] = T^(2^(64+p)): at most 64 matrix–vector products."""
    p = 0
    while k != _Z64:
        if k & _ONE64:
            s0, s1 = gf2_apply(J[p], s0, s1)
        k >>= _ONE64
        p += 1
    return s0, s1


_STREAM_POWERS: list[np.ndarray] = []  # [J], J[p] = T^(2^(64+p)), p < 64; built on first use


def skip_streams(s0, s1, k: int) -> tuple[int, int]:
    """The state (s0, s1) advanced by k whole streams (k·2^64 draws), 0 <= k < 2^64, in O(64) steps.

    The binary digits of k pick the squarings T^(2^(64+p)) of the jump matrix.
    """
    if not _STREAM_POWERS:
        _STREAM_POWERS.append(gf2_squarings(_jump_matrix(), 64))
    return _skip_streams(np.uint64(s0), np.uint64(s1), np.uint64(k), _STREAM_POWERS[0])


#: largest ``subsequence_start`` of :func:`init_states` (numba.cuda's uint64 argument)
SUBSEQUENCE_MAX = 2**64 - 1
#: largest ``n_streams`` of :func:`init_states`: 16 bytes and one jump (128 generator steps) per
#: stream, 160 MB and about 2 s of one core at 10⁷
STREAMS_MAX = 10**7


def init_states(n_streams: int, seed: int, subsequence_start: int = 0) -> np.ndarray:
    """Return a ``(n_streams, 2)`` uint64 array of independent xoroshiro128+ states.

    Stream i is the splitmix64 seed state (z, z) advanced by T^(2^64·(subsequence_start + i)),
    T the one-draw transition (numba.cuda's ``init_xoroshiro128p_states``). The first
    ``subsequence_start`` streams are skipped in at most 64 GF(2) matrix–vector products
    (:func:`skip_streams`), the following ones are one jump apart.

    Parameters
    ----------
    n_streams : int in [0, STREAMS_MAX = 10⁷]
        Number of streams (one per chain, path, network, ...).
    seed : int in [0, 2**64)
        Seed; the same seed gives the same streams in every process.
    subsequence_start : int in [0, SUBSEQUENCE_MAX = 2**64 − 1]
        Skip this many streams first (to extend an existing family of streams).
    """
    from simulations._core.validation import check_int

    n_streams = check_int("n_streams", n_streams, 0, STREAMS_MAX)
    seed = check_int("seed", seed, 0, 2**64 - 1)
    subsequence_start = check_int("subsequence_start", subsequence_start, 0, SUBSEQUENCE_MAX)
    states = np.empty((n_streams, 2), dtype=np.uint64)
    if n_streams == 0:
        return states
    z = np.uint64(_seed_state(np.uint64(seed)))
    s0 = s1 = z
    if subsequence_start:
        s0, s1 = skip_streams(z, z, subsequence_start)
    states[0, 0] = s0
    states[0, 1] = s1
    _chain_streams(states)
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
