"""numba kernels of the CPU backend: 3×3 stride-1 "same" convolutions by Winograd's minimal filtering F(2×2, 3×3).

Plain ``@njit(cache=True)`` functions on arrays, no validation (the layer that calls them is
:class:`~simulations.nn.conv_ops.ConvOp`), no allocation: every output and workspace array is
passed in. Layout as :mod:`simulations.nn.backends.cpu_conv`: x (N, C, H, W), w (O, C, 3, 3),
y (N, O, H, W) (padding 1, stride 1: the output has the input's size).

Lavin & Gray 2016 ("Fast algorithms for convolutional neural networks", CVPR, §4.1): each 2×2
block of outputs of a 3×3 correlation is

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,

d the 4×4 input tile (rows 2·th − 1 … 2·th + 2, columns 2·tw − 1 … 2·tw + 2 of the input,
zero outside it), g the 3×3 filter, ⊙ the element-wise product and

    Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]],
    G  = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]],
    Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]].

Summed over input channels, the element-wise products become 16 independent matrix products
(Lavin & Gray, eq. 12): with U[ξ] = (G g Gᵀ)[ξ] of shape (O, C) and V[ξ] = (Bᵀ d B)[ξ] of shape
(C, P), P the number of tiles of the batch (a tile index p = n·T + th·TW + tw, TH = ⌈H/2⌉,
TW = ⌈W/2⌉, T = TH·TW),

    M[ξ] = U[ξ] · V[ξ]   (O, P),   ξ = 0 … 15,

and each output tile is Aᵀ M A (cropped at odd sizes). That is 16 multiplications per 4 outputs
instead of 36 (2.25× fewer), traded for the additions of the three transforms, which touch each
value a bounded number of times. The gradient with respect to the input of a "same" 3×3
correlation is the same correlation of ∂loss/∂y with the filters rotated by 180° and the channel
axes swapped (w'[c, o, i, j] = w[o, c, 2 − i, 2 − j]), so :func:`winograd_conv` serves both the
forward pass and ∂x. The weight gradient is the transposed algorithm F(3×3, 2×2) (the section
before :func:`grad_transform`); the layer uses it on wide layers only and an im2col GEMM elsewhere.
Rounding: the transforms only add, subtract and halve, so in float32 the result differs from
the direct sum by a few units of the last place of the largest terms (Lavin & Gray, §5, and
the tests against a direct correlation).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from simulations.nn.backends.cpu_dense import gemm

__all__ = ["filter_transform", "input_transform", "output_transform", "winograd_conv", "grad_transform",
           "weight_output_transform", "winograd_weight_grad", "tiles", "fits", "stream_stride", "scratch_sizes",
           "planes"]

#: flat indices cast to unsigned (numba then drops its negative-index wrap-around test)
_u = np.uint64


def fits(kernel: int, stride: int, pad: int) -> bool:
    """Whether a convolution of this square kernel, stride and padding is the "same" 3×3 one these kernels compute."""
    return kernel == 3 and stride == 1 and pad == 1


@nb.njit(cache=True, nogil=True)
def stream_stride(entries):
    """Distance between the 16 matrices of a transform, ≥ ``entries``: rounded up to 64 entries, plus 16.

    The transforms write (or read) one value of each of the 16 matrices per tile: 16 streams. Were they
    a multiple of 4 KiB apart (a power-of-two size, as C·P often is), they would all map to the same
    sets of the L1 cache and evict one another: 44 ns per tile instead of a few, measured. The
    extra 16 entries put consecutive streams 64 or 128 bytes apart modulo 4 KiB.
    """
    return (entries + 63) // 64 * 64 + 16


def scratch_sizes(C: int, O: int, H: int, W: int, chunk: int) -> tuple[int, int]:
    """Entries of the (V, M) scratch :func:`winograd_conv` needs for C → O channels on H × W maps, ``chunk`` samples.

    The 16 transform matrices, then one plane at the end of each (:func:`planes`): V's for
    :func:`input_transform`, M's for :func:`output_transform` (and :func:`grad_transform`).
    """
    TH, TW = tiles(H, W)
    P = chunk * TH * TW
    pv, pm = planes(H, W)
    return 16 * stream_stride(C * P) + pv, 16 * stream_stride(O * P) + pm


@nb.njit(cache=True, nogil=True)
def planes(H, W):
    """Entries of the input plane, (2·TH + 2)·(2·TW + 2), and of the output plane, 2·TH·2·TW (TH, TW = :func:`tiles`)."""
    TH, TW = tiles(H, W)
    return (2 * TH + 2) * (2 * TW + 2), 4 * TH * TW


@nb.njit(cache=True, nogil=True)
def tiles(H, W):
    """(TH, TW): the 2×2 output tiles covering an H × W output, ⌈H/2⌉ × ⌈W/2⌉."""
    return (H + 1) // 2, (W + 1) // 2


@nb.njit(cache=True, nogil=True)
def filter_transform(w, rotate, U, S):
    """U[ξ·S + o·C + c] ← (G g Gᵀ)[ξ] for each filter g = w[o, c] (16 matrices (O, C), S ≥ O·C apart); iff
    ``rotate``, U[ξ·S + c·O + o] ← the same of g' = w[o, c, ::-1, ::-1] (16 matrices (C, O): the rotated,
    channel-swapped filters of the input gradient's correlation).

    w (O, C, 3, 3) C-contiguous; U 1-D, S = :func:`stream_stride` (O·C); the 16 matrices overwritten.
    """
    O, C = w.shape[0], w.shape[1]
    h = w.dtype.type(0.5)
    wf = w.reshape(w.size)
    A, B = (C, O) if rotate else (O, C)
    for a in range(A):
        for bb in range(B):
            o, c = (bb, a) if rotate else (a, bb)
            q = (o * C + c) * 9
            if rotate:                                   # g[r, j] = w[o, c, 2 − r, 2 − j]
                g00, g01, g02 = wf[_u(q + 8)], wf[_u(q + 7)], wf[_u(q + 6)]
                g10, g11, g12 = wf[_u(q + 5)], wf[_u(q + 4)], wf[_u(q + 3)]
                g20, g21, g22 = wf[_u(q + 2)], wf[_u(q + 1)], wf[_u(q)]
            else:
                g00, g01, g02 = wf[_u(q)], wf[_u(q + 1)], wf[_u(q + 2)]
                g10, g11, g12 = wf[_u(q + 3)], wf[_u(q + 4)], wf[_u(q + 5)]
                g20, g21, g22 = wf[_u(q + 6)], wf[_u(q + 7)], wf[_u(q + 8)]
            # t = G g (4 × 3): rows g0, ½(g0 + g1 + g2), ½(g0 − g1 + g2), g2
            t00, t01, t02 = g00, g01, g02
            t10, t11, t12 = h * (g00 + g10 + g20), h * (g01 + g11 + g21), h * (g02 + g12 + g22)
            t20, t21, t22 = h * (g00 - g10 + g20), h * (g01 - g11 + g21), h * (g02 - g12 + g22)
            t30, t31, t32 = g20, g21, g22
            d = _u(a * B + bb)
            # U = t Gᵀ: columns t0, ½(t0 + t1 + t2), ½(t0 − t1 + t2), t2 of each row of t
            U[d] = t00
            U[d + _u(S)] = h * (t00 + t01 + t02)
            U[d + _u(2 * S)] = h * (t00 - t01 + t02)
            U[d + _u(3 * S)] = t02
            U[d + _u(4 * S)] = t10
            U[d + _u(5 * S)] = h * (t10 + t11 + t12)
            U[d + _u(6 * S)] = h * (t10 - t11 + t12)
            U[d + _u(7 * S)] = t12
            U[d + _u(8 * S)] = t20
            U[d + _u(9 * S)] = h * (t20 + t21 + t22)
            U[d + _u(10 * S)] = h * (t20 - t21 + t22)
            U[d + _u(11 * S)] = t22
            U[d + _u(12 * S)] = t30
            U[d + _u(13 * S)] = h * (t30 + t31 + t32)
            U[d + _u(14 * S)] = h * (t30 - t31 + t32)
            U[d + _u(15 * S)] = t32


@nb.njit(cache=True, nogil=True)
def input_transform(x, y, relu, n0, n1, V, S, pl):
    """V[ξ·S + c·P + (n − n0)·T + th·TW + tw] ← (Bᵀ d B)[ξ] of the 4×4 input tiles d of samples n0 ≤ n < n1.

    x (N, C, H, W) C-contiguous; iff ``relu``, every value x[n, c, a, b] is taken as 0 where
    y[n, c, a, b] ≤ 0 (y of x's shape: the backward pass of a fused ReLU, x = ∂loss/∂y); V 1-D, its
    ξ-th (C, P) matrix (P = m·T, m = n1 − n0) at offset ξ·S, S ≥ C·P (see :func:`stream_stride`), overwritten. Tile (th, tw) reads rows 2·th − 1 … 2·th + 2 and
    columns 2·tw − 1 … 2·tw + 2, zero outside the input (the padding of 1, and the extra row/column
    of an odd size): each plane is first copied into a zero-bordered (2·TH + 2) × (2·TW + 2) one, so
    the tile loop has no tests; ``pl`` ≥ that many entries of scratch (zeroed here, then only its
    interior rewritten).
    """
    N, C, H, W = x.shape
    TH, TW = tiles(H, W)
    T = TH * TW
    P = (n1 - n0) * T
    PW = 2 * TW + 2
    xf = x.reshape(x.size)
    yf = y.reshape(y.size)
    vf = V
    zero = x.dtype.type(0)
    pl[:(2 * TH + 2) * PW] = zero                   # the border stays zero; the interior is overwritten
    CP = S
    for c in range(C):
        for n in range(n0, n1):
            base = (n * C + c) * H * W
            for r in range(H):
                for s in range(W):
                    q = _u(base + r * W + s)
                    v = xf[q]
                    if relu and not yf[q] > zero:
                        v = zero
                    pl[_u((r + 1) * PW + s + 1)] = v
            for th in range(TH):
                p0 = c * P + (n - n0) * T + th * TW
                r0 = 2 * th * PW
                for tw in range(TW):
                    k = _u(r0 + 2 * tw)
                    d00, d01, d02, d03 = pl[k], pl[k + _u(1)], pl[k + _u(2)], pl[k + _u(3)]
                    k += _u(PW)
                    d10, d11, d12, d13 = pl[k], pl[k + _u(1)], pl[k + _u(2)], pl[k + _u(3)]
                    k += _u(PW)
                    d20, d21, d22, d23 = pl[k], pl[k + _u(1)], pl[k + _u(2)], pl[k + _u(3)]
                    k += _u(PW)
                    d30, d31, d32, d33 = pl[k], pl[k + _u(1)], pl[k + _u(2)], pl[k + _u(3)]
                    # Bᵀ d: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3
                    e00, e01, e02, e03 = d00 - d20, d01 - d21, d02 - d22, d03 - d23
                    e10, e11, e12, e13 = d10 + d20, d11 + d21, d12 + d22, d13 + d23
                    e20, e21, e22, e23 = d20 - d10, d21 - d11, d22 - d12, d23 - d13
                    e30, e31, e32, e33 = d10 - d30, d11 - d31, d12 - d32, d13 - d33
                    q = _u(p0 + tw)
                    # (Bᵀ d) B: the same combination of the columns
                    vf[q] = e00 - e02
                    vf[q + _u(CP)] = e01 + e02
                    vf[q + _u(2 * CP)] = e02 - e01
                    vf[q + _u(3 * CP)] = e01 - e03
                    vf[q + _u(4 * CP)] = e10 - e12
                    vf[q + _u(5 * CP)] = e11 + e12
                    vf[q + _u(6 * CP)] = e12 - e11
                    vf[q + _u(7 * CP)] = e11 - e13
                    vf[q + _u(8 * CP)] = e20 - e22
                    vf[q + _u(9 * CP)] = e21 + e22
                    vf[q + _u(10 * CP)] = e22 - e21
                    vf[q + _u(11 * CP)] = e21 - e23
                    vf[q + _u(12 * CP)] = e30 - e32
                    vf[q + _u(13 * CP)] = e31 + e32
                    vf[q + _u(14 * CP)] = e32 - e31
                    vf[q + _u(15 * CP)] = e31 - e33


@nb.njit(cache=True, nogil=True)
def output_transform(M, S, n0, n1, b, has_bias, relu, y, pl):
    """y[n, o, 2·th + i, 2·tw + j] ← (Aᵀ M_tile A)[i, j] (+ b[o] iff ``has_bias``, then max(·, 0) iff ``relu``).

    M 1-D, its ξ-th (O, m·T) matrix at offset ξ·S (m = n1 − n0); y (N, O, H, W) C-contiguous: samples n0 ≤ n < n1
    overwritten (an odd size's last tile row/column cropped: the tiles are written into a
    2·TH × 2·TW plane ``pl`` (≥ 4·TH·TW entries of scratch) first, then copied); b (O,) read iff
    ``has_bias``.
    """
    N, O, H, W = y.shape
    TH, TW = tiles(H, W)
    T = TH * TW
    P = (n1 - n0) * T
    PW = 2 * TW
    mf = M
    yf = y.reshape(y.size)
    zero = y.dtype.type(0)
    OP = S
    for o in range(O):
        bo = b[o] if has_bias else zero
        for n in range(n0, n1):
            for th in range(TH):
                p0 = o * P + (n - n0) * T + th * TW
                r0 = 2 * th * PW
                for tw in range(TW):
                    q = _u(p0 + tw)
                    m00, m01, m02, m03 = mf[q], mf[q + _u(OP)], mf[q + _u(2 * OP)], mf[q + _u(3 * OP)]
                    m10, m11, m12, m13 = mf[q + _u(4 * OP)], mf[q + _u(5 * OP)], mf[q + _u(6 * OP)], mf[q + _u(7 * OP)]
                    m20, m21, m22, m23 = mf[q + _u(8 * OP)], mf[q + _u(9 * OP)], mf[q + _u(10 * OP)], mf[q + _u(11 * OP)]
                    m30, m31, m32, m33 = mf[q + _u(12 * OP)], mf[q + _u(13 * OP)], mf[q + _u(14 * OP)], mf[q + _u(15 * OP)]
                    # Aᵀ m: rows m0 + m1 + m2, m1 − m2 − m3
                    s00, s01, s02, s03 = m00 + m10 + m20, m01 + m11 + m21, m02 + m12 + m22, m03 + m13 + m23
                    s10, s11, s12, s13 = m10 - m20 - m30, m11 - m21 - m31, m12 - m22 - m32, m13 - m23 - m33
                    k = _u(r0 + 2 * tw)
                    pl[k] = s00 + s01 + s02
                    pl[k + _u(1)] = s01 - s02 - s03
                    pl[k + _u(PW)] = s10 + s11 + s12
                    pl[k + _u(PW + 1)] = s11 - s12 - s13
            base = (n * O + o) * H * W
            for r in range(H):
                for s in range(W):
                    v = pl[_u(r * PW + s)]
                    if has_bias:
                        v = v + bo
                    if relu:
                        v = v if v > zero else zero
                    yf[_u(base + r * W + s)] = v


@nb.njit(cache=True, nogil=True)
def winograd_conv(x, mask, relu_in, n0, n1, U, O, b, has_bias, relu, chunk, V, M, y):
    """y[n0:n1] ← the "same" 3×3 correlation of x (as ReLU'd by ``mask`` iff ``relu_in``) with the filters of U, by F(2×2, 3×3).

    U the 16 (O, C) matrices of :func:`filter_transform` (stride :func:`stream_stride` (O·C)); x (N, C, H, W), mask of x's shape (read iff
    ``relu_in``: x[n, c, a, b] counts as 0 where mask ≤ 0); y (N, O, H, W), (+ b, then ReLU, as
    :func:`output_transform`); ``chunk`` samples at a time, V ≥ 16·stream_stride(C·chunk·T) + the input
    plane and M ≥ 16·stream_stride(O·chunk·T) + the output plane entries of 1-D scratch (T = ⌈H/2⌉·⌈W/2⌉;
    the planes at their ends: :func:`scratch_sizes`). Per chunk: :func:`input_transform`, the 16 GEMMs
    M[ξ] = U[ξ]·V[ξ], :func:`output_transform`.
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    SU = stream_stride(O * C)
    TH, TW = tiles(H, W)
    T = TH * TW
    pv, pm = planes(H, W)
    plv, plm = V[V.size - pv:], M[M.size - pm:]
    for s in range(n0, n1, chunk):
        e = min(n1, s + chunk)
        P = (e - s) * T
        SV, SM = stream_stride(C * P), stream_stride(O * P)
        input_transform(x, mask, relu_in, s, e, V, SV, plv)
        for k in range(16):
            gemm(np.bool_(False), np.bool_(False), 1.0, U[k * SU:k * SU + O * C].reshape(O, C), V[k * SV:k * SV + C * P].reshape(C, P), 0.0,
                 M[k * SM:k * SM + O * P].reshape(O, P))
        output_transform(M, SM, s, e, b, has_bias, relu, y, plm)


# ------------------------------------------------------------------------------------------
# the weight gradient: F(3×3, 2×2)
# ------------------------------------------------------------------------------------------
# ∂loss/∂w[o, c, i, j] = Σ_{n,a,b} dy[n, o, a, b] xp[n, c, a + i, b + j] is, per 2×2 block of dy and
# the 4×4 input tile under it, a 3×3 correlation of the tile with the block: the transpose of the
# forward's bilinear form Σ dy ⊙ Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, i.e. (Lavin & Gray 2016, §4 and the
# transposition of a minimal filtering algorithm)
#
#     ∂w = Gᵀ [ Σ_tiles (A dy_blk Aᵀ) ⊙ (Bᵀ d B) ] G,
#
# the same input transform V as the forward, the 2×2 blocks transformed by A (4 × 2), and the sum
# over tiles 16 GEMMs E[ξ] = Σ_p D[ξ][:, p] V[ξ][:, p]ᵀ of shape (O, C).


@nb.njit(cache=True, nogil=True)
def grad_transform(dy, y, relu, n0, n1, D, S, has_bias, db, pl):
    """D[ξ·S + o·P + (n − n0)·T + th·TW + tw] ← (A g Aᵀ)[ξ] of the 2×2 blocks g of dy, samples n0 ≤ n < n1.

    dy (N, O, H, W) C-contiguous; iff ``relu``, dy counts as 0 where y ≤ 0 (y of dy's shape: the output
    of a fused ReLU); A = [[1, 0], [1, 1], [1, −1], [0, −1]]; block (th, tw) is rows 2·th, 2·th + 1
    and columns 2·tw, 2·tw + 1, zero past an odd size's edge. D 1-D, S ≥ O·P (P = (n1 − n0)·T),
    overwritten; iff ``has_bias``, db[o] (float64) += the sum of the (masked) dy of channel o. ``pl`` ≥
    4·TH·TW entries of scratch (zeroed here: the blocks are read from a 2·TH × 2·TW copy of each plane).
    """
    N, O, H, W = dy.shape
    TH, TW = tiles(H, W)
    T = TH * TW
    P = (n1 - n0) * T
    PW = 2 * TW
    gf = dy.reshape(dy.size)
    yf = y.reshape(y.size)
    zero = dy.dtype.type(0)
    pl[:2 * TH * PW] = zero                          # an odd size's last row / column stays zero
    for o in range(O):
        acc = 0.0
        for n in range(n0, n1):
            base = (n * O + o) * H * W
            for r in range(H):
                for s in range(W):
                    q = _u(base + r * W + s)
                    v = gf[q]
                    if relu and not yf[q] > zero:
                        v = zero
                    pl[_u(r * PW + s)] = v
                    acc += v
            for th in range(TH):
                p0 = o * P + (n - n0) * T + th * TW
                for tw in range(TW):
                    k = _u(2 * th * PW + 2 * tw)
                    g00, g01 = pl[k], pl[k + _u(1)]
                    g10, g11 = pl[k + _u(PW)], pl[k + _u(PW + 1)]
                    # A g: rows g0, g0 + g1, g0 − g1, −g1
                    a0, a1 = g00, g01
                    b0, b1 = g00 + g10, g01 + g11
                    c0, c1 = g00 - g10, g01 - g11
                    d0, d1 = -g10, -g11
                    q = _u(p0 + tw)
                    # (A g) Aᵀ: the same combination of the two columns of each row
                    D[q] = a0
                    D[q + _u(S)] = a0 + a1
                    D[q + _u(2 * S)] = a0 - a1
                    D[q + _u(3 * S)] = -a1
                    D[q + _u(4 * S)] = b0
                    D[q + _u(5 * S)] = b0 + b1
                    D[q + _u(6 * S)] = b0 - b1
                    D[q + _u(7 * S)] = -b1
                    D[q + _u(8 * S)] = c0
                    D[q + _u(9 * S)] = c0 + c1
                    D[q + _u(10 * S)] = c0 - c1
                    D[q + _u(11 * S)] = -c1
                    D[q + _u(12 * S)] = d0
                    D[q + _u(13 * S)] = d0 + d1
                    D[q + _u(14 * S)] = d0 - d1
                    D[q + _u(15 * S)] = -d1
        if has_bias:
            db[o] += acc


@nb.njit(cache=True, nogil=True)
def weight_output_transform(E, S, dw):
    """dw[o, c] ← Gᵀ E_oc G (3 × 3) with E_oc[ξ] = E[ξ·S + o·C + c]; Gᵀ = [[1, ½, ½, 0], [0, ½, −½, 0], [0, ½, ½, 1]].

    dw (O, C, 3, 3) C-contiguous, overwritten.
    """
    O, C = dw.shape[0], dw.shape[1]
    h = dw.dtype.type(0.5)
    df = dw.reshape(dw.size)
    for d in range(O * C):
        q = _u(d)
        e0, e1, e2, e3 = E[q], E[q + _u(S)], E[q + _u(2 * S)], E[q + _u(3 * S)]
        e4, e5, e6, e7 = E[q + _u(4 * S)], E[q + _u(5 * S)], E[q + _u(6 * S)], E[q + _u(7 * S)]
        e8, e9, e10, e11 = E[q + _u(8 * S)], E[q + _u(9 * S)], E[q + _u(10 * S)], E[q + _u(11 * S)]
        e12, e13, e14, e15 = E[q + _u(12 * S)], E[q + _u(13 * S)], E[q + _u(14 * S)], E[q + _u(15 * S)]
        r = _u(9 * d)
        # t = Gᵀ e (3 × 4): rows e0 + ½(e1 + e2), ½(e1 − e2), ½(e1 + e2) + e3 of e's rows e0 … e3
        t00 = e0 + h * (e4 + e8)
        t01 = e1 + h * (e5 + e9)
        t02 = e2 + h * (e6 + e10)
        t03 = e3 + h * (e7 + e11)
        t10 = h * (e4 - e8)
        t11 = h * (e5 - e9)
        t12 = h * (e6 - e10)
        t13 = h * (e7 - e11)
        t20 = h * (e4 + e8) + e12
        t21 = h * (e5 + e9) + e13
        t22 = h * (e6 + e10) + e14
        t23 = h * (e7 + e11) + e15
        # t G (3 × 3): the same combination of t's 4 columns
        df[r] = t00 + h * (t01 + t02)
        df[r + _u(1)] = h * (t01 - t02)
        df[r + _u(2)] = h * (t01 + t02) + t03
        df[r + _u(3)] = t10 + h * (t11 + t12)
        df[r + _u(4)] = h * (t11 - t12)
        df[r + _u(5)] = h * (t11 + t12) + t13
        df[r + _u(6)] = t20 + h * (t21 + t22)
        df[r + _u(7)] = h * (t21 - t22)
        df[r + _u(8)] = h * (t21 + t22) + t23


@nb.njit(cache=True, nogil=True)
def winograd_weight_grad(x, dy, y, relu, n0, n1, chunk, V, D, E, dw, has_bias, db):
    """dw ← Σ_{n0 ≤ n < n1} ∂loss/∂w of the "same" 3×3 correlation, by F(3×3, 2×2); db += Σ dy iff ``has_bias``.

    x (N, C, H, W) the layer's input; dy (N, O, H, W) = ∂loss/∂(output), masked by y > 0 iff ``relu``;
    ``chunk`` samples at a time; V and D the (V, M) sizes of :func:`scratch_sizes` (C, O, H, W, chunk) and
    E ≥ 16·stream_stride(O·C) entries of 1-D scratch; dw (O, C, 3, 3) C-contiguous, overwritten;
    db (O,) float64. Per chunk: :func:`input_transform` of x, :func:`grad_transform` of dy, the 16
    GEMMs E[ξ] += D[ξ]·V[ξ]ᵀ; then :func:`weight_output_transform`.
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    O = dy.shape[1]
    TH, TW = tiles(H, W)
    T = TH * TW
    SE = stream_stride(O * C)
    pv, pm = planes(H, W)
    plv, pld = V[V.size - pv:], D[D.size - pm:]
    for s in range(n0, n1, chunk):
        e = min(n1, s + chunk)
        P = (e - s) * T
        SV, SD = stream_stride(C * P), stream_stride(O * P)
        input_transform(x, x, False, s, e, V, SV, plv)
        grad_transform(dy, y, relu, s, e, D, SD, has_bias, db, pld)
        for k in range(16):
            gemm(np.bool_(False), np.bool_(True), 1.0, D[k * SD:k * SD + O * P].reshape(O, P), V[k * SV:k * SV + C * P].reshape(C, P),
                 0.0 if s == n0 else 1.0, E[k * SE:k * SE + O * C].reshape(O, C))
    weight_output_transform(E, SE, dw)
