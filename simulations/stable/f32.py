"""Single-precision symmetric α-stable draws for the float32 kernels: one 64-bit stream output per draw.

Plain ``@njit`` functions, no validation. A float32 draw takes **one** xoroshiro128+ output x
(:mod:`simulations.stable.streams`) where the float64 path takes two:

* U ∈ (0, 1) from the top 37 bits k = x ≫ 27, folded about ½ so that the tails keep their
  relative accuracy: V = π(U − ½) has sign(V) = [k ≥ 2³⁶] and |V| = π(½ − u_m) with
  u_m = min(U, 1 − U) = (k' + ½) 2⁻³⁷, k' = min(k, 2³⁷ − 1 − k) (k' rounded to float32);
* U2 ∈ (0, 1) from the 23 bits 4..26 of x, U2 = (j + ½) 2⁻²³ (exact in float32), W = −ln U2
  (the lowest bits of xoroshiro128+, the linearly weak ones, are not used).

:func:`fold_bits` maps x to the pair (±u_m, U2) (sign of V carried by u_m); then the Chambers,
Mallows & Stuck (1976) transform with β = 0 (S0 = S1), σ = 1:

    X = sign(V) · sin(α|V|) (cos V)^{−1/α} [cos((1 − α)V) / W]^{(1−α)/α},   cos V = sin(π u_m);

α = 1: X = tan V (standard Cauchy); α = 2: X = 2 sin V √W (N(0, 2)).

Accuracy and range. The transform is float32 throughout (a few ulp: ≲ 1e-6 relative). The
law is the exact SαS law up to the discretisation of U and U2: |X| is capped near
(π 2⁻³⁸)^{−1/α} (u_m ≥ 2⁻³⁸, i.e. the tail beyond probability ≈ 1.5·10⁻¹¹; 1.3·10⁶ at
α = 1.75) and W lies in [2⁻²⁴, 16.6] (probability ≈ 10⁻⁷ cut at either end, which moves X by
a factor W^{(α−1)/α} only).

Two targets from one source: :func:`fold_bits` and :func:`sas32_uu` are plain scalar arithmetic
(libm ``sinf``/``logf``/``expf``), compiled for the device by :mod:`simulations.stable.cuda`;
:func:`sas32_block` is the CPU's vectorised twin of the two (:func:`fold_bits_lanes`, the same map in
vector-friendly operations, bit for bit; polynomial sin/log/exp on float32 lanes, no libm calls), equal
to them to a few float32 ulp; :func:`sas32_fill` draws a row from one stream (the generator loop is
sequential per stream and only stores the outputs; the fold and the transform run vectorised).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types

from simulations.stable.cpu import bitcast, bits_f64
from simulations.stable.streams import next_uint64, xoroshiro128p_next

F32 = np.float32
_U27, _U4 = np.uint64(27), np.uint64(4)
_U36 = np.uint64(36)
_U0 = np.uint64(0)
_MAGIC52 = np.uint64(0x4330000000000000)      # the bits of the float64 2⁵²
_TWO52 = 2.0**52
_MAGIC23 = np.int32(0x4B000000)               # the bits of the float32 2²³
_TWO23 = F32(2.0**23)
_K_MAX = np.uint64((1 << 37) - 1)
_M23 = np.uint64((1 << 23) - 1)
_TWO_M37 = F32(2.0**-37)
_TWO_M23 = F32(2.0**-23)
_HALF = F32(0.5)
_ONE = F32(1.0)
_TWO = F32(2.0)
_PI = F32(math.pi)
_HALF_PI = F32(0.5 * math.pi)
_PI_LO = F32(math.pi - float(F32(math.pi)))   # π = _PI + _PI_LO to ~1e-15


@nb.njit(inline="always", cache=True)
def fold_bits(x):
    """(±u_m, U2) float32 from one 64-bit output x (module docstring): u_m = min(U, 1 − U) ∈ (0, ½], its
    sign that of V = π(U − ½); U2 = (j + ½) 2⁻²³ ∈ (0, 1)."""
    k = x >> _U27
    pos = k >> _U36                      # 1 when U > ½ (V > 0), else 0
    kk = k ^ (pos * _K_MAX)              # 2³⁷ − 1 − k when pos: branch-free (a select mispredicts half the time)
    um = (F32(np.int64(kk)) + _HALF) * _TWO_M37
    u2 = (F32(np.int32((x >> _U4) & _M23)) + _HALF) * _TWO_M23
    return um * (F32(np.int32(pos)) * _TWO - _ONE), u2


@nb.njit(inline="always", cache=True)
def sas32_uu(alpha, us, u2):
    """SαS(1) float32 from (us, u2) = :func:`fold_bits` (x), α ∈ (0, 2] float32 (libm; the device body)."""
    um = abs(us)
    av = _PI * (_HALF - um)                     # |V|
    w = -math.log(u2)
    if alpha == _ONE:
        x = math.sin(av) / math.sin(_PI * um)
    elif alpha == _TWO:
        x = _TWO * math.sin(av) * math.sqrt(w)
    else:
        inv_a = _ONE / alpha
        c = (_ONE - alpha) * inv_a
        cv = math.sin(_PI * um)                 # cos V, full relative accuracy as |V| → π/2
        cw = math.cos((_ONE - alpha) * av)      # cos((1 − α)V)
        x = math.sin(alpha * av) * math.exp(c * (math.log(cw) - math.log(w)) - inv_a * math.log(cv))
    return math.copysign(x, us)


@nb.njit(inline="always", cache=True)
def sas32_draw(states, i, alpha):
    """One SαS(1) float32 draw from stream ``i``: one 64-bit output (the CPU body; the device twin is
    :func:`simulations.stable.cuda.sas32_draw`, the same text)."""
    us, u2 = fold_bits(next_uint64(states, i))
    return sas32_uu(F32(alpha), us, u2)


# ---------------------------------------------------------------- float32 polynomials (CPU block only)
f32_bits = bitcast(types.float32, types.int32, ir.IntType(32), "Reinterpret a float32 as int32.")
bits_f32 = bitcast(types.int32, types.float32, ir.FloatType(), "Reinterpret an int32 as float32.")


# sin x = x + x³(S3 + x²(S5 + ...)) on |x| ≤ π/2 to x¹¹: truncation < (π/2)¹³/13! ≈ 5e-9
_S3, _S5, _S7, _S9, _S11 = [F32((-1.0) ** n / math.factorial(2 * n + 1)) for n in range(1, 6)]
# ln: x = 2^e m, m ∈ [√½, √2), ln m = 2 atanh f, f = (m − 1)/(m + 1), to f⁹ (error < 2|f|¹¹/11 ≈ 1e-9)
_L3, _L5, _L7, _L9 = [F32(1.0 / (2 * n + 1)) for n in range(1, 5)]
# ln 2 = _C1 + _C2 with _C1 short (k·_C1 exact for |k| < 2^8: Cody & Waite's split, as in Cephes' expf/logf)
_C1, _C2 = F32(0.693359375), F32(-2.12194440e-4)
_LOG2E, _SQRT2 = F32(1.4426950408889634), F32(1.4142135623730951)
_E2, _E3, _E4, _E5, _E6, _E7 = [F32(1.0 / math.factorial(n)) for n in range(2, 8)]
_MANT, _EXP1 = np.int32(0x007FFFFF), np.int32(0x3F800000)
_LO, _HI = F32(-87.0), F32(88.0)


@nb.njit(inline="always", cache=True)
def sin32_half(x):
    """sin x, float32, |x| ≤ π/2 (degree-11 polynomial)."""
    z = x * x
    p = _S11
    p = p * z + _S9
    p = p * z + _S7
    p = p * z + _S5
    p = p * z + _S3
    return x + x * z * p


@nb.njit(inline="always", cache=True)
def sin32_pi(x):
    """sin x, float32, 0 ≤ x < π: x > π/2 reflected to π − x (two-constant π)."""
    return sin32_half(min(x, (_PI - x) + _PI_LO))


@nb.njit(inline="always", cache=True)
def log32(x):
    """ln x, float32, x finite normal > 0."""
    b = f32_bits(x)
    e = (b >> 23) - 127
    m = bits_f32(np.int32((b & _MANT) | _EXP1))
    big = m > _SQRT2
    m = m * _HALF if big else m
    e = e + 1 if big else e
    f = (m - _ONE) / (m + _ONE)
    s = f * f
    p = _L9
    p = p * s + _L7
    p = p * s + _L5
    p = p * s + _L3
    fe = F32(e)
    tf = f + f
    return fe * _C1 + (tf + (tf * s * p + fe * _C2))


@nb.njit(inline="always", cache=True)
def exp32(y):
    """e^y, float32; y clamped to [−87, 88] (e⁸⁸ ≈ 1.65e38 stays finite, e⁻⁸⁷ normal)."""
    y = min(max(y, _LO), _HI)
    kf = np.floor(y * _LOG2E + _HALF)
    r = (y - kf * _C1) - kf * _C2
    p = _E7
    p = p * r + _E6
    p = p * r + _E5
    p = p * r + _E4
    p = p * r + _E3
    p = p * r + _E2
    p = p * r + _ONE
    p = p * r + _ONE
    return p * bits_f32(np.int32((np.int32(kf) + 127) << 23))


@nb.njit(inline="always", cache=True)
def fold_bits_lanes(x):
    """:func:`fold_bits` (x), bit for bit, in operations that vectorise without AVX-512 (the CPU block's form).

    AVX2 has neither a vector 64-bit multiply nor an int64 → float conversion, so the fold's select is a mask
    ((0 − pos) & (2³⁷ − 1)) and both conversions go through exact magic-number floats: for k < 2³⁷,
    bits(2⁵² as float64) | k is the float64 2⁵² + k, and (2⁵² + k) − 2⁵² = k exactly, then rounded once to
    float32 (as F32(int64(k)) rounds); for j < 2²³ the float32 bits(2²³) | j give 2²³ + j exactly.
    """
    k = x >> _U27
    pos = k >> _U36
    kk = k ^ ((_U0 - pos) & _K_MAX)
    um = (F32(bits_f64(np.int64(kk | _MAGIC52)) - _TWO52) + _HALF) * _TWO_M37
    j = np.int32((x >> _U4) & _M23)
    u2 = ((bits_f32(j | _MAGIC23) - _TWO23) + _HALF) * _TWO_M23
    return (um if pos != _U0 else -um), u2


@nb.njit(cache=True, fastmath={"contract"}, error_model="numpy")
def sas32_block(alpha, us, u2, out, t1, t2):
    """out[j] = SαS(1) from (us[j], u2[j]) (:func:`fold_bits` pairs): :func:`sas32_uu` vectorised, libm-free.

    Equal to the scalar path to a few float32 ulp; one rewrite: c(ln cos((1 − α)V) − ln W) is computed as
    c ln(cos((1 − α)V)/W) (one logarithm fewer; the quotient is a normal float32 for W ∈ [2⁻²⁴, 16.6]).
    For α ∉ {1, 2} four passes over the row (the sines; cos((1 − α)V)/W; the logs; the exp), whose
    temporaries live in ``t1``, ``t2``: one fused loop spills the vector registers (measured on 784-draw
    rows: 3.4 → 2.1 ns per draw under AVX2 code, 2.25 → 2.0 under AVX-512; the same bits either way).
    ``alpha`` is a float; us, u2, out, t1, t2 are float32 arrays of equal length (t1, t2 scratch).
    """
    a = F32(alpha)
    m = out.shape[0]
    if a == _ONE:
        for j in range(m):
            um = abs(us[j])
            out[j] = math.copysign(sin32_half(_PI * (_HALF - um)) / sin32_half(_PI * um), us[j])
    elif a == _TWO:
        for j in range(m):
            um = abs(us[j])
            w = -log32(u2[j])
            out[j] = math.copysign(_TWO * sin32_half(_PI * (_HALF - um)) * math.sqrt(w), us[j])
    else:
        inv_a = _ONE / a
        c = (_ONE - a) * inv_a
        d = abs(_ONE - a)
        for j in range(m):
            um = abs(us[j])
            av = _PI * (_HALF - um)
            t1[j] = sin32_half(_PI * um)                # cos V
            t2[j] = sin32_half(_HALF_PI - d * av)       # cos((1 − α)V)
            out[j] = sin32_pi(a * av)
        for j in range(m):
            t2[j] = t2[j] / -log32(u2[j])
        for j in range(m):
            t1[j] = c * log32(t2[j]) - inv_a * log32(t1[j])
        for j in range(m):
            out[j] = math.copysign(out[j] * exp32(t1[j]), us[j])


@nb.njit(inline="always", cache=True)
def sas32_fill(states, i, alpha, out, raw, us, u2):
    """out[:] = m SαS(1) float32 draws from stream i, one 64-bit output each (scratch of length ≥ m:
    ``raw`` uint64, ``us`` and ``u2`` float32).

    The generator loop only steps the state and stores its outputs (a serial dependency chain, kept
    short); the fold (:func:`fold_bits_lanes`) and the transform (:func:`sas32_block`) run vectorised,
    in loops of their own so that the transform keeps the full float32 vector width (in one loop with
    the 64-bit fold it ran at half the lanes). ``raw`` must be contiguous (its memory is reused).
    """
    m = out.shape[0]
    s0 = states[i, 0]
    s1 = states[i, 1]
    for j in range(m):  # the state in registers: the same outputs as m next_uint64 calls
        r, s0, s1 = xoroshiro128p_next(s0, s1)
        raw[j] = r
    states[i, 0] = s0
    states[i, 1] = s1
    for j in range(m):
        a, b = fold_bits_lanes(raw[j])
        us[j] = a
        u2[j] = b
    t = raw.view(np.float32)                  # the outputs are folded: their memory holds the transform's temporaries
    sas32_block(alpha, us[:m], u2[:m], out, t[:m], t[m:2 * m])


@nb.njit(cache=True)
def fill_sas32_streams(states, alpha, scale, loc, out):
    """out[i, j] = scale · SαS(1) + loc in float32, row i drawn from stream i (the array path of float32 ``stream_rvs``)."""
    n, m = out.shape
    raw = np.empty(m, np.uint64)
    us = np.empty(m, np.float32)
    u2 = np.empty(m, np.float32)
    sc = F32(scale)
    lc = F32(loc)
    for i in range(n):
        sas32_fill(states, i, alpha, out[i], raw, us, u2)
        for j in range(m):
            out[i, j] = sc * out[i, j] + lc
