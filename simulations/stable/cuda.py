"""Device-side random numbers: xoroshiro128+ streams and α-stable draws (CUDA device functions).

The same generator as :mod:`simulations.stable.streams` (and as ``numba.cuda.random``): state of stream
``i`` is the row ``states[i, :]`` of a ``(n_streams, 2)`` uint64 array, initialised on the host
by :func:`simulations.stable.streams.init_states` (splitmix64 seed, streams 2^64 draws apart;
Blackman & Vigna 2018) and copied to the device. Because the update, the uniform/exponential
maps and the Chambers–Mallows–Stuck formula below follow :mod:`simulations.stable.streams` /
:mod:`simulations.stable.cpu` (same draws per variate, same algebraic form), a CUDA thread
drawing from stream ``i`` gets the numbers a CPU kernel drawing from stream ``i`` gets:
bit-for-bit for the integers and uniforms, and to ~1e-15 relative for the stable draws (the
device uses libdevice ``sin``/``log``/``exp``, the CPU kernels partly their own polynomials).

Chambers, Mallows & Stuck (1976), symmetric case (β = 0, where S0 = S1): with
V ~ U(−π/2, π/2), W ~ Exp(1), X = sin(αV)/(cos V)^{1/α} · [cos(V − αV)/W]^{(1−α)/α} is SαS(1);
α = 2 gives 2 sin V √W ~ N(0, 2). The skewed S1(α, β) form (for the sub-Gaussian factor,
β = 1) follows Weron (1996); see :mod:`simulations.stable.cpu` for the full statement.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from simulations.stable import cpu as _stable_kernels

__all__ = [
    "next_uint64",
    "uniform",
    "uniform_open",
    "exponential",
    "normal",
    "cms_transform",
    "stable_s1_draw",
    "cms_sym_u",
    "sas_draw",
    "sub_gaussian_factor_draw",
    "fill_stable_kernel",
    "fill_uniform_kernel",
]

_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_HALF_PI = 0.5 * math.pi
_U11 = np.uint64(11)
_U14 = np.uint64(14)
_U55 = np.uint64(55)
_U9 = np.uint64(9)
_U36 = np.uint64(36)
_U28 = np.uint64(28)
_Z64 = np.uint64(0)
_ONE64 = np.uint64(1)


@cuda.jit(device=True, inline=True)
def next_uint64(states, i):
    """Advance stream ``i`` (row of ``states``) and return its next output: xoroshiro128+."""
    s0 = states[i, 0]
    s1 = states[i, 1]
    result = s0 + s1
    s1 ^= s0
    # rotl(s0, 55) = (s0 << 55) | (s0 >> 9); rotl(s1, 36) = (s1 << 36) | (s1 >> 28)
    states[i, 0] = ((s0 << _U55) | (s0 >> _U9)) ^ s1 ^ (s1 << _U14)
    states[i, 1] = (s1 << _U36) | (s1 >> _U28)
    return result


@cuda.jit(device=True, inline=True)
def uniform(states, i):
    """U[0, 1) from the top 53 bits (``xoroshiro128p_uniform_float64``)."""
    return float(next_uint64(states, i) >> _U11) * _TWO_M53


@cuda.jit(device=True, inline=True)
def uniform_open(states, i):
    """U(0, 1): (k + 1/2) 2^-53 for a random 53-bit k."""
    return (float(next_uint64(states, i) >> _U11) + 0.5) * _TWO_M53


@cuda.jit(device=True, inline=True)
def exponential(states, i):
    """Exp(1) by inversion: −log U, U ∈ (0, 1)."""
    return -math.log(uniform_open(states, i))


@cuda.jit(device=True, inline=True)
def normal(states, i):
    """N(0, 1) by Box–Muller (first of the pair), as :func:`simulations.stable.streams.normal`."""
    u1 = uniform_open(states, i)
    u2 = uniform(states, i)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


#: Standard S1(α, β, 1, 0) variate from V ∈ (−π/2, π/2) and W > 0 (CMS; Weron 1996 at α = 1):
#: the device compilation of the very source of :func:`simulations.stable.cpu.cms_transform`
#: (plain ``math`` calls, so one definition serves both targets).
cms_transform = cuda.jit(device=True, inline=True)(_stable_kernels.cms_transform.py_func)


@cuda.jit(device=True, inline=True)
def stable_s1_draw(states, i, alpha, beta):
    """One S1(α, β, 1, 0) draw from stream ``i`` (U first, then W, as on the CPU)."""
    u = uniform_open(states, i)
    w = exponential(states, i)
    if beta == 0.0 and alpha != 1.0 and alpha != 2.0:
        return cms_sym_u(alpha, 1.0 / alpha, (1.0 - alpha) / alpha, u, w)
    return cms_transform(alpha, beta, math.pi * (u - 0.5), w)


@cuda.jit(device=True, inline=True)
def cms_sym_u(alpha, inv_a, c, u, w):
    """SαS(1), α ∉ {1, 2}, from U ∈ (0, 1) and W > 0 (inv_a = 1/α, c = (1−α)/α), in the form of
    :func:`simulations.stable.cpu.cms_sym_u`: cos V = sin(π min(U, 1−U)) keeps full relative
    accuracy as V → ±π/2 (the far tail), cos((1−α)V) = sin(π/2 − |(1−α)V|)."""
    v = math.pi * (u - 0.5)
    cv = math.sin(math.pi * min(u, 1.0 - u))
    cw = math.sin(_HALF_PI - abs((1.0 - alpha) * v))
    return math.sin(alpha * v) * math.exp(c * math.log(cw / w) - inv_a * math.log(cv))


@cuda.jit(device=True, inline=True)
def sas_draw(states, i, alpha):
    """One SαS(1) draw (β = 0) from stream ``i`` (U first, then W = −log U', as on the CPU)."""
    u = uniform_open(states, i)
    w = exponential(states, i)
    if alpha == 1.0 or alpha == 2.0:
        return cms_transform(alpha, 0.0, math.pi * (u - 0.5), w)
    return cms_sym_u(alpha, 1.0 / alpha, (1.0 - alpha) / alpha, u, w)


@cuda.jit(device=True, inline=True)
def sub_gaussian_factor_draw(states, i, alpha):
    """R = √(2A), A ~ S1(α/2, 1, cos(πα/4)^{2/α}, 0): R·Z (Z ~ N(0, I)) has SαS(1) coordinates."""
    if alpha == 2.0:
        return math.sqrt(2.0)
    a_scale = math.cos(0.25 * math.pi * alpha) ** (2.0 / alpha)
    a = a_scale * stable_s1_draw(states, i, 0.5 * alpha, 1.0)
    return math.sqrt(2.0 * a)


@cuda.jit
def fill_stable_kernel(states, alpha, beta, scale, shift, out):
    """out[i, j] = scale · S1(α, β) + shift, row i from stream i (one thread per stream)."""
    i = cuda.grid(1)
    if i < out.shape[0]:
        for j in range(out.shape[1]):
            out[i, j] = scale * stable_s1_draw(states, i, alpha, beta) + shift


@cuda.jit
def fill_uniform_kernel(states, out_u, out_bits):
    """Raw draws for tests: out_bits[i, j] = next uint64, out_u[i, j] = U[0,1) (alternating calls)."""
    i = cuda.grid(1)
    if i < out_u.shape[0]:
        for j in range(out_u.shape[1]):
            out_bits[i, j] = next_uint64(states, i)
            out_u[i, j] = uniform(states, i)


@cuda.jit(device=True, inline=True)
def jump_apply(M, states, i):
    """Replace stream ``i``'s state s by M s over GF(2): M (128, 2) uint64 holds the images of the
    128 basis states (bits 0–63 of s0, then of s1). With M = T^m (T the one-draw transition, see
    :mod:`simulations.stable.jumps`) this skips m outputs of the stream in O(128) operations."""
    s0 = states[i, 0]
    s1 = states[i, 1]
    o0 = _Z64
    o1 = _Z64
    for b in range(64):  # branch-free (no warp divergence): mask = all ones where bit b is set
        m = _Z64 - ((s0 >> np.uint64(b)) & _ONE64)
        o0 ^= M[b, 0] & m
        o1 ^= M[b, 1] & m
    for b in range(64):
        m = _Z64 - ((s1 >> np.uint64(b)) & _ONE64)
        o0 ^= M[64 + b, 0] & m
        o1 ^= M[64 + b, 1] & m
    states[i, 0] = o0
    states[i, 1] = o1
