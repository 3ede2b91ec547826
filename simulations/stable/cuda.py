"""Device-side random numbers: xoroshiro128+ streams and α-stable draws (CUDA device functions).

The same generator as :mod:`simulations.stable.streams` (and as ``numba.cuda.random``): the state
of stream ``i`` is the row ``states[i, :]`` of a ``(n_streams, 2)`` uint64 array, initialised on
the host by :func:`simulations.stable.streams.init_states` (splitmix64 seed, streams 2^64 draws
apart; Blackman & Vigna 2018) and copied to the device. (``numba.cuda.random``'s own states are a
record array ``xoroshiro128p_dtype``; the same 16 bytes viewed as ``(n, 2)`` uint64 are ours.)

One source, two targets. Every piece of arithmetic here is the *CPU source* compiled for the
device (``cuda.jit(device=True, inline=True)(f.py_func)``): the xoroshiro128+ step and the maps
from 64 bits to U[0, 1), U(0, 1) and Exp(1) (:mod:`simulations.stable.streams`), Box–Muller, the
Chambers–Mallows–Stuck transform of (U, W) with its polynomial sines
(:mod:`simulations.stable.cpu`) and the GF(2) jump (:mod:`simulations.stable.jumps`). What is
written here are only the thin functions that read and write the ``states`` array; each is the
twin of the same-named CPU function, with the same text, and exists only because it must call the
device compilation of the scalar functions (a ``py_func`` resolves its globals in its own, CPU,
module, and the CUDA simulator cannot pass a device array to a CPU function). So a CUDA thread
drawing from stream ``i`` gets the numbers a CPU kernel drawing from stream ``i`` gets:
bit-for-bit for the integers and uniforms, and to a few ulp for the stable draws (libdevice's
``log``/``exp``/``tan`` against libm's; the CPU's vectorised blocks also use their own
polynomial log/exp).

Chambers, Mallows & Stuck (1976), symmetric case (β = 0, where S0 = S1): with
V ~ U(−π/2, π/2), W ~ Exp(1), X = sin(αV)/(cos V)^{1/α} · [cos(V − αV)/W]^{(1−α)/α} is SαS(1);
α = 2 gives 2 sin V √W ~ N(0, 2). The skewed S1(α, β) form (for the sub-Gaussian factor,
β = 1) follows Weron (1996); see :mod:`simulations.stable.cpu` for the full statement.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from simulations.stable import cpu as _cpu
from simulations.stable import f32 as _f32
from simulations.stable import jumps as _jumps
from simulations.stable import streams as _streams

__all__ = [
    "next_uint64",
    "uniform",
    "uniform_open",
    "exponential",
    "normal",
    "box_muller",
    "cms_transform",
    "cms_sym_u",
    "stable_s1_uw",
    "sub_gaussian_factor_uw",
    "stable_s1_draw",
    "sas_draw",
    "sub_gaussian_factor_draw",
    "fold_bits",
    "sas32_uu",
    "sas32_draw",
    "jump_apply",
]


def _device(f):
    """The device compilation of the plain-Python source of the CPU function ``f``."""
    return cuda.jit(device=True, inline=True)(f.py_func)


# ------------------------------------------------------------------ the CPU source, compiled for the device
_xoroshiro128p_next = _device(_streams.xoroshiro128p_next)
_bits_to_uniform = _device(_streams.bits_to_uniform)
_bits_to_uniform_open = _device(_streams.bits_to_uniform_open)
_bits_to_exponential = _device(_streams.bits_to_exponential)
#: Box–Muller pair (√(−2 ln u1) cos 2πu2, √(−2 ln u1) sin 2πu2)
box_muller = _device(_streams.box_muller)
#: Standard S1(α, β, 1, 0) variate from V ∈ (−π/2, π/2) and W > 0 (CMS; Weron 1996 at α = 1)
cms_transform = _device(_cpu.cms_transform)
#: SαS(1), α ∉ {1, 2}, from U ∈ (0, 1) and W > 0 (inv_a = 1/α, c = (1−α)/α)
cms_sym_u = _device(_cpu.cms_sym_u)
#: S1(α, β, 1, 0) from U ∈ (0, 1) and W > 0: the arithmetic of one stream draw
stable_s1_uw = _device(_cpu.stable_s1_uw)
#: R = √(2A) of a sub-Gaussian SαS vector from (U, W), α < 2
sub_gaussian_factor_uw = _device(_cpu.sub_gaussian_factor_uw)
_jump_matvec = _device(_jumps.apply)
#: float32 (±min(U, 1 − U), U2) from one 64-bit output (:mod:`simulations.stable.f32`)
fold_bits = _device(_f32.fold_bits)
#: SαS(1) float32 from a fold_bits pair (libm float32 functions)
sas32_uu = _device(_f32.sas32_uu)


# ------------------------------------------------------------------ draws from stream i of ``states`` (device bodies)
# Twins of the same-named CPU functions of simulations.stable.streams / simulations.stable.cpu:
# the same text, calling the device compilations above instead of the CPU ones.
@cuda.jit(device=True, inline=True)
def next_uint64(states, i):
    """Advance stream ``i`` (row of ``states``) and return its next output: xoroshiro128+."""
    r, s0, s1 = _xoroshiro128p_next(states[i, 0], states[i, 1])
    states[i, 0] = s0
    states[i, 1] = s1
    return r


@cuda.jit(device=True, inline=True)
def uniform(states, i):
    """U[0, 1) from the top 53 bits (``xoroshiro128p_uniform_float64``)."""
    return _bits_to_uniform(next_uint64(states, i))


@cuda.jit(device=True, inline=True)
def uniform_open(states, i):
    """U(0, 1): (k + 1/2) 2^-53 for a random 53-bit k."""
    return _bits_to_uniform_open(next_uint64(states, i))


@cuda.jit(device=True, inline=True)
def exponential(states, i):
    """Exp(1) by inversion: −log U, U ∈ (0, 1)."""
    return _bits_to_exponential(next_uint64(states, i))


@cuda.jit(device=True, inline=True)
def normal(states, i):
    """N(0, 1) by Box–Muller (first of the pair, U1 ∈ (0, 1) then U2 ∈ [0, 1))."""
    u1 = uniform_open(states, i)
    u2 = uniform(states, i)
    return box_muller(u1, u2)[0]


@cuda.jit(device=True, inline=True)
def stable_s1_draw(states, i, alpha, beta):
    """One S1(α, β, 1, 0) draw from stream ``i`` (U first, then W)."""
    u = uniform_open(states, i)
    w = exponential(states, i)
    return stable_s1_uw(alpha, beta, u, w)


@cuda.jit(device=True, inline=True)
def sas_draw(states, i, alpha):
    """One SαS(1) draw (β = 0) from stream ``i`` (U first, then W)."""
    u = uniform_open(states, i)
    w = exponential(states, i)
    return stable_s1_uw(alpha, 0.0, u, w)


@cuda.jit(device=True, inline=True)
def sub_gaussian_factor_draw(states, i, alpha):
    """R = √(2A), A ~ S1(α/2, 1, cos(πα/4)^{2/α}, 0): R·Z (Z ~ N(0, I)) has SαS(1) coordinates; √2 at α = 2."""
    if alpha == 2.0:
        return math.sqrt(2.0)
    u = uniform_open(states, i)
    w = exponential(states, i)
    return sub_gaussian_factor_uw(alpha, u, w)


@cuda.jit(device=True, inline=True)
def sas32_draw(states, i, alpha):
    """One SαS(1) float32 draw from stream ``i``: one 64-bit output (:func:`simulations.stable.f32.sas32_draw`)."""
    us, u2 = fold_bits(next_uint64(states, i))
    return sas32_uu(np.float32(alpha), us, u2)


@cuda.jit(device=True, inline=True)
def jump_apply(M, states, i):
    """Replace stream ``i``'s state s by M s over GF(2) (:func:`simulations.stable.jumps.apply`).

    With M = T^m (T the one-draw transition, :mod:`simulations.stable.jumps`) this skips m outputs
    of the stream in O(128) branch-free operations. (Device twin of ``jumps.advance`` for one matrix.)
    """
    s0, s1 = _jump_matvec(M, states[i, 0], states[i, 1])
    states[i, 0] = s0
    states[i, 1] = s1
