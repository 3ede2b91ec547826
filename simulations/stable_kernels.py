"""Numba kernels for α-stable random numbers (Chambers, Mallows & Stuck 1976).

Plain ``@njit`` functions, no validation (see :mod:`simulations.stable` for the
checked API). The scalar transforms are ``inline`` so that the SDE, SGD and
neural kernels can draw stable noise inside their own loops::

    from simulations.stable_kernels import stable_s1_draw
    x = stable_s1_draw(states, i, alpha, beta)   # S1(α, β, σ=1, μ=0)

Formulas (S1 parameterization, σ = 1, μ = 0; Weron 1996 corrects the α = 1 case):
with V ~ U(−π/2, π/2) and W ~ Exp(1) independent,

* α ≠ 1: B = arctan(β tan(πα/2))/α, S = (1 + β² tan²(πα/2))^{1/(2α)},
  X = S · sin(α(V+B)) / (cos V)^{1/α} · [cos(V − α(V+B)) / W]^{(1−α)/α};
* α = 1: X = (2/π) [ (π/2 + βV) tan V − β ln( (π/2) W cos V / (π/2 + βV) ) ].

α = 1 is handled exactly by its own formula (no limit is taken).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from .rng import exponential, uniform_open

HALF_PI = 0.5 * math.pi


@nb.njit(inline="always", cache=True)
def cms_transform(alpha, beta, v, w):
    """Standard S1(α, β, 1, 0) variate from V ∈ (−π/2, π/2) and W > 0."""
    if alpha == 1.0:
        hb = HALF_PI + beta * v
        return (hb * math.tan(v) - beta * math.log(HALF_PI * w * math.cos(v) / hb)) / HALF_PI
    if beta == 0.0:
        if alpha == 2.0:
            # (sin 2V / cos V) (cos V / W)^{-1/2} = 2 sin V sqrt(W): N(0, 2)
            return 2.0 * math.sin(v) * math.sqrt(w)
        av = alpha * v
        return math.sin(av) * math.exp(
            -math.log(math.cos(v)) / alpha + (1.0 - alpha) / alpha * math.log(math.cos(v - av) / w)
        )
    t = beta * math.tan(HALF_PI * alpha)
    b = math.atan(t) / alpha
    s = (1.0 + t * t) ** (0.5 / alpha)
    a = alpha * (v + b)
    return (
        s
        * math.sin(a)
        * math.exp(-math.log(math.cos(v)) / alpha + (1.0 - alpha) / alpha * math.log(math.cos(v - a) / w))
    )


@nb.njit(inline="always", cache=True)
def stable_s1_draw(states, i, alpha, beta):
    """One S1(α, β, 1, 0) draw from xoroshiro128+ stream ``i`` of ``states``."""
    v = math.pi * (uniform_open(states, i) - 0.5)
    w = exponential(states, i)
    return cms_transform(alpha, beta, v, w)


@nb.njit(inline="always", cache=True)
def sas_draw(states, i, alpha):
    """One symmetric SαS(1) draw (β = 0, where S0 and S1 coincide)."""
    v = math.pi * (uniform_open(states, i) - 0.5)
    w = exponential(states, i)
    return cms_transform(alpha, 0.0, v, w)


@nb.njit(inline="always", cache=True)
def s1_shift(alpha, beta, scale):
    """Additive term of the S1 scaling rule: X(σ) = σ X(1) + shift (α = 1 only: (2/π)βσ ln σ)."""
    if alpha == 1.0:
        return beta * scale * math.log(scale) / HALF_PI
    return 0.0


@nb.njit(inline="always", cache=True)
def s0_to_s1_shift(alpha, beta, scale):
    """δ₁ − δ₀ for the same law: −βσ tan(πα/2) (α ≠ 1), −(2/π)βσ ln σ (α = 1)."""
    if alpha == 1.0:
        return -beta * scale * math.log(scale) / HALF_PI
    return -beta * scale * math.tan(HALF_PI * alpha)


@nb.njit(cache=True, fastmath=True)
def cms_array(alpha, beta, u, w, scale, loc, out):
    """out[j] = scale · CMS(α, β; V=π(u[j]−½), W=w[j]) + loc   (vectorisable loop)."""
    n = out.shape[0]
    if alpha == 1.0 or beta != 0.0:
        for j in range(n):
            out[j] = scale * cms_transform(alpha, beta, math.pi * (u[j] - 0.5), w[j]) + loc
        return
    if alpha == 2.0:
        for j in range(n):
            out[j] = scale * 2.0 * math.sin(math.pi * (u[j] - 0.5)) * math.sqrt(w[j]) + loc
        return
    inv_a = 1.0 / alpha
    c = (1.0 - alpha) / alpha
    for j in range(n):
        v = math.pi * (u[j] - 0.5)
        av = alpha * v
        out[j] = scale * math.sin(av) * math.exp(-inv_a * math.log(math.cos(v)) + c * math.log(math.cos(v - av) / w[j])) + loc


@nb.njit(cache=True, parallel=False)
def fill_stable_streams(states, alpha, beta, scale, loc, out):
    """out[i, j] = scale · S1(α, β) + loc, row i drawn from stream i (in-kernel scalar path)."""
    n, m = out.shape
    for i in range(n):
        for j in range(m):
            out[i, j] = scale * stable_s1_draw(states, i, alpha, beta) + loc


@nb.njit(inline="always", cache=True)
def sub_gaussian_factor_draw(states, i, alpha):
    """Random factor R = √(2A) of a sub-Gaussian SαS vector, X = scale · R · Z with Z ~ N(0, I).

    A ~ S1(α/2, 1, cos(πα/4)^{2/α}, 0) (totally skewed, positive), so that each
    coordinate of R·Z is SαS(1) (see :func:`simulations.stable.sub_gaussian_rvs`).
    At α = 2, A ≡ 1 and R = √2. Draw Z with :func:`simulations.rng.normal` on the same stream.
    """
    if alpha == 2.0:
        return math.sqrt(2.0)
    a_scale = math.cos(0.25 * math.pi * alpha) ** (2.0 / alpha)
    a = a_scale * stable_s1_draw(states, i, 0.5 * alpha, 1.0)
    return math.sqrt(2.0 * a)
