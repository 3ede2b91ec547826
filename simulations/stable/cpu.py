"""Numba kernels for α-stable random numbers (Chambers, Mallows & Stuck 1976).

Plain ``@njit`` functions, no validation (see :mod:`simulations.stable.api` for the
checked API). The scalar transforms are ``inline`` so that the SDE, SGD and
neural kernels can draw stable noise inside their own loops::

    from simulations.stable.cpu import stable_s1_draw
    x = stable_s1_draw(states, i, alpha, beta)   # S1(α, β, σ=1, μ=0)

Formulas (S1 parameterization, σ = 1, μ = 0; Weron 1996 corrects the α = 1 case):
with V ~ U(−π/2, π/2) and W ~ Exp(1) independent,

* α ≠ 1: B = arctan(β tan(πα/2))/α, S = (1 + β² tan²(πα/2))^{1/(2α)},
  X = S · sin(α(V+B)) / (cos V)^{1/α} · [cos(V − α(V+B)) / W]^{(1−α)/α};
* α = 1: X = (2/π) [ (π/2 + βV) tan V − β ln( (π/2) W cos V / (π/2 + βV) ) ].

α = 1 is handled exactly by its own formula (no limit is taken).

CPU and device in step by construction: the scalar functions of (U, W) — :func:`stable_s1_uw`,
:func:`sub_gaussian_factor_uw`, :func:`cms_transform`, :func:`cms_sym_u` and the polynomial
sines :func:`sin_half`, :func:`sin_pi` — are plain arithmetic on floats, and
:mod:`simulations.stable.cuda` compiles this very source for the device. The draws from a
stream (:func:`stable_s1_draw`, :func:`sas_draw`, :func:`sub_gaussian_factor_draw`) read the
``states`` array and have one thin body per target. The vectorised blocks below
(:func:`cms_sym_block`, :func:`cms_block`, with their libm-free log/exp) are CPU only: they
exist to let LLVM vectorise the CPU loops.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from simulations._core.vector_width import wide_vectors
from simulations.stable.streams import bits_to_uniform_open, exponential, uniform_open, xoroshiro128p_next

HALF_PI = 0.5 * math.pi
#: numba's target has AVX-512F (frozen into the compiled blocks; numba's cache is keyed by the target)
WIDE_VECTORS = wide_vectors()
_PI_HI = 3.141592653589793116  # π = _PI_HI + _PI_LO to ~1e-32
_PI_LO = 1.2246467991473532e-16
# Taylor coefficients (−1)^n/(2n+1)! of sin, n = 1..9: truncation error < (π/2)^21/21! ≈ 2.6e-16 on |x| ≤ π/2
_S3, _S5, _S7, _S9, _S11, _S13, _S15, _S17, _S19 = [(-1.0) ** n / math.factorial(2 * n + 1) for n in range(1, 10)]


@nb.njit(inline="always", cache=True)
def sin_half(x):
    """sin x for |x| ≤ π/2 by a degree-19 polynomial (pure arithmetic: inlines, vectorises)."""
    z = x * x
    p = _S19
    p = p * z + _S17
    p = p * z + _S15
    p = p * z + _S13
    p = p * z + _S11
    p = p * z + _S9
    p = p * z + _S7
    p = p * z + _S5
    p = p * z + _S3
    return x + x * z * p


@nb.njit(inline="always", cache=True)
def sin_pi(x):
    """sin x for |x| < π: |x| > π/2 is reflected to π − |x| (two-constant π), branch-free."""
    ax = abs(x)
    return math.copysign(sin_half(min(ax, (_PI_HI - ax) + _PI_LO)), x)


@nb.njit(inline="always", cache=True)
def cms_sym_u(alpha, inv_a, c, u, w):
    """SαS(1) (β = 0, α ≠ 1) from U ∈ (0, 1) and W > 0; inv_a = 1/α, c = (1 − α)/α.

    V = π(U − ½): sin(αV) by :func:`sin_pi` (|αV| < π), cos V = sin(π min(U, 1 − U))
    (full relative accuracy as V → ±π/2, i.e. in the far tail), cos((1−α)V) =
    sin(π/2 − |1−α||V|). Only one log-ratio, one log and one exp are libm calls.
    """
    v = math.pi * (u - 0.5)
    cv = sin_half(math.pi * min(u, 1.0 - u))
    cw = sin_half(HALF_PI - abs((1.0 - alpha) * v))
    return sin_pi(alpha * v) * math.exp(c * math.log(cw / w) - inv_a * math.log(cv))


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
def stable_s1_uw(alpha, beta, u, w):
    """S1(α, β, 1, 0) from U ∈ (0, 1) and W > 0 (V = π(U − ½)): the arithmetic of one stream draw.

    β = 0, α ∉ {1, 2}: :func:`cms_sym_u` (polynomial sines, full accuracy in the far tail);
    otherwise :func:`cms_transform`. Plain scalar code, compiled for the device from the same
    source (:mod:`simulations.stable.cuda`).
    """
    if beta == 0.0 and alpha != 1.0 and alpha != 2.0:
        return cms_sym_u(alpha, 1.0 / alpha, (1.0 - alpha) / alpha, u, w)
    return cms_transform(alpha, beta, math.pi * (u - 0.5), w)


@nb.njit(inline="always", cache=True)
def sub_gaussian_factor_uw(alpha, u, w):
    """R = √(2A), A = σ_A · S1(α/2, 1, 1, 0) from (U, W), σ_A = cos(πα/4)^{2/α} (α < 2).

    A ~ S1(α/2, 1, σ_A, 0) is totally skewed and positive, and R·Z with Z ~ N(0, I) has SαS(1)
    coordinates (Samorodnitsky & Taqqu 1994, Prop. 2.5.2; see
    :func:`simulations.stable.api.sub_gaussian_rvs`).
    """
    a_scale = math.cos(0.25 * math.pi * alpha) ** (2.0 / alpha)
    return math.sqrt(2.0 * a_scale * stable_s1_uw(0.5 * alpha, 1.0, u, w))


# Draws from stream i of ``states`` (CPU bodies). Twins of the same-named device functions in
# simulations.stable.cuda: the same text, each calling its own target's compilation of the
# scalar functions (stable_s1_uw, sub_gaussian_factor_uw and the stream maps).
@nb.njit(inline="always", cache=True)
def stable_s1_draw(states, i, alpha, beta):
    """One S1(α, β, 1, 0) draw from xoroshiro128+ stream ``i`` of ``states`` (U first, then W)."""
    u = uniform_open(states, i)
    w = exponential(states, i)
    return stable_s1_uw(alpha, beta, u, w)


@nb.njit(inline="always", cache=True)
def sas_draw(states, i, alpha):
    """One symmetric SαS(1) draw (β = 0, where S0 and S1 coincide)."""
    u = uniform_open(states, i)
    w = exponential(states, i)
    return stable_s1_uw(alpha, 0.0, u, w)


@nb.njit(inline="always", cache=True)
def sub_gaussian_factor_draw(states, i, alpha):
    """Random factor R = √(2A) of a sub-Gaussian SαS vector, X = scale · R · Z with Z ~ N(0, I).

    See :func:`sub_gaussian_factor_uw`. At α = 2, A ≡ 1 and R = √2 (no draw is taken). Draw Z
    with :func:`simulations.stable.streams.normal` on the same stream.
    """
    if alpha == 2.0:
        return math.sqrt(2.0)
    u = uniform_open(states, i)
    w = exponential(states, i)
    return sub_gaussian_factor_uw(alpha, u, w)


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


@nb.njit(cache=True, parallel=False)
def fill_stable_streams(states, alpha, beta, scale, loc, out):
    """out[i, j] = scale · S1(α, β) + loc, row i drawn from stream i (the values of the scalar in-kernel path).

    Each row uses its stream as m :func:`stable_s1_draw` calls would (U then U2 per draw). For α ≠ 1
    the uniforms of two rows are drawn in one loop (two independent xoroshiro128+ chains: the
    generator's step is latency bound) and transformed by the vectorised blocks."""
    n, m = out.shape
    if alpha == 1.0:  # the scalar path (no vectorised block for the α = 1 formula)
        for i in range(n):
            for j in range(m):
                out[i, j] = scale * stable_s1_draw(states, i, alpha, beta) + loc
        return
    sym = beta == 0.0 and alpha != 2.0
    a = np.empty(2 * m)
    b = np.empty(2 * m)
    for i in range(0, n, 2):
        two = i + 1 < n
        a0, a1 = states[i, 0], states[i, 1]
        b0, b1 = states[i + two, 0], states[i + two, 1]  # row i again when i is the last row (not stored)
        for j in range(m):  # U then U2 of draw j, as stable_s1_draw takes them
            ra, a0, a1 = xoroshiro128p_next(a0, a1)
            rb, b0, b1 = xoroshiro128p_next(b0, b1)
            a[j] = bits_to_uniform_open(ra)
            b[j] = bits_to_uniform_open(rb)
            ra, a0, a1 = xoroshiro128p_next(a0, a1)
            rb, b0, b1 = xoroshiro128p_next(b0, b1)
            a[m + j] = bits_to_uniform_open(ra)
            b[m + j] = bits_to_uniform_open(rb)
        states[i, 0], states[i, 1] = a0, a1
        if two:
            states[i + 1, 0], states[i + 1, 1] = b0, b1
        for r in range(2 if two else 1):
            buf = a if r == 0 else b
            if sym:
                cms_sym_block(alpha, buf[:m], buf[m:], out[i + r], scale, loc)
            else:
                cms_block(alpha, beta, buf[:m], buf[m:], out[i + r], scale, loc)


# ---------------------------------------------------------------- libm-free vectorised symmetric CMS
def bitcast(src, dst, ir_type, doc: str):
    """An ``@intrinsic`` reinterpreting the bits of a ``src`` scalar as ``dst`` (LLVM bitcast to ``ir_type``; vectorises)."""
    def impl(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir_type)
        return dst(src), codegen
    impl.__doc__ = doc
    return intrinsic(impl)


f64_bits = bitcast(types.float64, types.int64, ir.IntType(64), "Reinterpret a float64 as int64.")
bits_f64 = bitcast(types.int64, types.float64, ir.DoubleType(), "Reinterpret an int64 as float64.")


_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_LOG2E, _SQRT2 = 1.4426950408889634, 1.4142135623730951
_L3, _L5, _L7, _L9, _L11, _L13, _L15, _L17, _L19, _L21 = [1.0 / (2 * n + 1) for n in range(1, 11)]
_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = [1.0 / math.factorial(n) for n in range(2, 14)]
_MANT, _ONE = np.int64(0x000FFFFFFFFFFFFF), np.int64(0x3FF0000000000000)
# int(k) of an integer-valued float64 |k| < 2^51 by the magic-number trick, bits(1.5·2^52 + k) = 0x4338… + k:
# AVX2 has no vector float64 <-> int64 conversion (AVX-512DQ has), so np.int64(k) (or math.floor, which
# returns an int64) would be done lane by lane
_RND, _RND_BITS = 1.5 * 4503599627370496.0, np.int64(0x4338000000000000)


@nb.njit(inline="always", cache=True)
def _int_of(kf):
    """int(kf) of an integer-valued float64 |kf| < 2^51, exactly, as an int64 (the magic-number trick above)."""
    return f64_bits(kf + _RND) - _RND_BITS


@nb.njit(inline="always", cache=True)
def plog(x):
    """ln x, x finite normal > 0: x = 2^e m, m ∈ [√½, √2), ln m = 2 atanh((m−1)/(m+1)) to s^10."""
    b = f64_bits(x)
    e = (b >> 52) - 1023
    m = bits_f64((b & _MANT) | _ONE)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    f = (m - 1.0) / (m + 1.0)
    s = f * f
    p = _L21
    p = p * s + _L19
    p = p * s + _L17
    p = p * s + _L15
    p = p * s + _L13
    p = p * s + _L11
    p = p * s + _L9
    p = p * s + _L7
    p = p * s + _L5
    p = p * s + _L3
    fe = float(e)
    return fe * _LN2_HI + (2.0 * f + (2.0 * f * s * p + fe * _LN2_LO))


@nb.njit(inline="always", cache=True)
def pexp(y):
    """e^y: overflow → inf, underflow → 0 (two power-of-two factors keep 2^k representable)."""
    y = min(max(y, -1400.0), 1400.0)
    kf = np.floor(y * _LOG2E + 0.5)             # float64 (math.floor returns an int64: two conversions)
    r = (y - kf * _LN2_HI) - kf * _LN2_LO
    p = _E13
    p = p * r + _E12
    p = p * r + _E11
    p = p * r + _E10
    p = p * r + _E9
    p = p * r + _E8
    p = p * r + _E7
    p = p * r + _E6
    p = p * r + _E5
    p = p * r + _E4
    p = p * r + _E3
    p = p * r + _E2
    p = p * r + 1.0
    p = p * r + 1.0
    ki = _int_of(kf)                            # |kf| ≤ 2020
    k1 = ki >> 1
    return p * bits_f64((k1 + 1023) << 52) * bits_f64((ki - k1 + 1023) << 52)


@nb.njit(inline="always", cache=True)
def cms_sym_uu(alpha, inv_a, c, u, u2):
    """SαS(1), α ∉ {1, 2}, from U, U2 ∈ (0, 1): V = π(U − ½), W = −ln U2."""
    v = math.pi * (u - 0.5)
    cv = sin_half(math.pi * min(u, 1.0 - u))          # cos V
    cw = sin_half(0.5 * math.pi - abs((1.0 - alpha) * v))  # cos((1 − α)V)
    w = -plog(u2)
    return sin_pi(alpha * v) * pexp(c * plog(cw / w) - inv_a * plog(cv))


#: u = 0 (probability 2^-53 per numpy uniform) is read as 2^-54, so that V and W stay finite
_U_MIN = 2.0**-54


#: block of the multi-pass loops (three float64 temporaries of this length stay in L1)
_PASS = 256


@nb.njit(inline="always", cache=True)
def _log_exp_passes(u2, k, m, c, inv_a, cw, cv, sa, scale, loc, out):
    """The last three passes of the AVX2 loop shape over draws k … k+m−1 of a block (both CMS blocks):
    cw ← cw / W (W = −ln U2), cv ← c ln cw − ln(cv) / α, out ← scale · sa · e^cv + loc."""
    for j in range(m):
        cw[j] = cw[j] / -plog(max(u2[k + j], _U_MIN))
    for j in range(m):
        cv[j] = c * plog(cw[j]) - inv_a * plog(cv[j])
    for j in range(m):
        out[k + j] = scale * (sa[j] * pexp(cv[j])) + loc


@nb.njit(cache=True, fastmath={"contract"}, error_model="numpy")
def cms_sym_block(alpha, u, u2, out, scale=1.0, loc=0.0):
    """out[j] = scale · SαS(1) + loc from (u[j], u2[j]) — vectorised (AVX2/AVX-512) loop, no libm calls.

    u[j] or u2[j] = 0 is read as 2^-54 (numpy's [0, 1) uniforms; stream uniforms are never 0).
    With AVX-512 one fused loop; otherwise (:data:`WIDE_VECTORS` false) four passes over blocks of
    :data:`_PASS` draws (the sines; W and cos((1−α)V)/W; the logs; the exp), which do not spill
    AVX2's 16 registers. Both shapes compute the same operations, so the values are bit-identical."""
    inv_a = 1.0 / alpha
    c = (1.0 - alpha) * inv_a
    n = out.shape[0]
    if WIDE_VECTORS:
        for j in range(n):
            out[j] = scale * cms_sym_uu(alpha, inv_a, c, max(u[j], _U_MIN), max(u2[j], _U_MIN)) + loc
        return
    cv, cw, sa = np.empty(_PASS), np.empty(_PASS), np.empty(_PASS)
    for s in range(0, n, _PASS):
        m = min(_PASS, n - s)
        for j in range(m):
            uj = max(u[s + j], _U_MIN)
            v = math.pi * (uj - 0.5)
            cv[j] = sin_half(math.pi * min(uj, 1.0 - uj))          # cos V
            cw[j] = sin_half(0.5 * math.pi - abs((1.0 - alpha) * v))  # cos((1 − α)V)
            sa[j] = sin_pi(alpha * v)
        _log_exp_passes(u2, s, m, c, inv_a, cw, cv, sa, scale, loc, out)


@nb.njit(inline="always", cache=True)
def sas_fill(states, i, alpha, out, scratch):
    """out[:] = m SαS(1) draws (α ∉ {1, 2}) from stream i (scratch: float64[2m]).

    Same stream use as m :func:`sas_draw` calls (two uniforms per draw, W = −ln U2); the values
    agree with them to a few ulp (polynomial log/exp instead of libm)."""
    m = out.shape[0]
    for j in range(m):
        scratch[j] = uniform_open(states, i)
        scratch[m + j] = uniform_open(states, i)
    cms_sym_block(alpha, scratch[:m], scratch[m:], out)


@nb.njit(inline="always", cache=True)
def sin_any(x):
    """sin x for moderate |x| (here < 3π/2): x = kπ + r, |r| ≤ π/2, sin x = (−1)^k sin r (branch-free)."""
    kf = np.floor(x * (1.0 / math.pi) + 0.5)
    r = (x - kf * _PI_HI) - kf * _PI_LO
    k = _int_of(kf)
    return sin_half(r) * float(1 - 2 * (k & 1))


@nb.njit(cache=True, fastmath={"contract"}, error_model="numpy")
def cms_block(alpha, beta, u, u2, out, scale=1.0, loc=0.0):
    """out[j] = scale · S1(α, β, 1, 0) + loc, α ≠ 1, from (u[j], u2[j]): vectorised, libm-free (constants
    hoisted). X = S sin(α(V+B)) (cos V)^{−1/α} [cos(V − α(V+B))/W]^{(1−α)/α}, W = −ln U2; u or u2 = 0 is
    read as 2^-54. One fused loop with AVX-512, passes over blocks otherwise (as :func:`cms_sym_block`)."""
    t = beta * math.tan(0.5 * math.pi * alpha)
    b = math.atan(t) / alpha
    s = (1.0 + t * t) ** (0.5 / alpha)
    inv_a = 1.0 / alpha
    c = (1.0 - alpha) * inv_a
    n = out.shape[0]
    if WIDE_VECTORS:
        for j in range(n):
            uj = max(u[j], _U_MIN)
            v = math.pi * (uj - 0.5)
            a = alpha * (v + b)
            cv = sin_half(math.pi * min(uj, 1.0 - uj))            # cos V
            cva = sin_half(0.5 * math.pi - abs(v - a))             # cos(V − a), |V − a| < π
            w = -plog(max(u2[j], _U_MIN))
            out[j] = scale * (s * sin_any(a) * pexp(c * plog(cva / w) - inv_a * plog(cv))) + loc
        return
    cv, cva, sa = np.empty(_PASS), np.empty(_PASS), np.empty(_PASS)
    for k in range(0, n, _PASS):
        m = min(_PASS, n - k)
        for j in range(m):
            uj = max(u[k + j], _U_MIN)
            v = math.pi * (uj - 0.5)
            a = alpha * (v + b)
            cv[j] = sin_half(math.pi * min(uj, 1.0 - uj))
            cva[j] = sin_half(0.5 * math.pi - abs(v - a))
            sa[j] = s * sin_any(a)
        _log_exp_passes(u2, k, m, c, inv_a, cva, cv, sa, scale, loc, out)
