"""numba kernels of the CPU backend: convolution as ONE matrix product per layer for the whole batch.

Plain ``@njit(cache=True)`` functions on arrays, no validation (the checked wrappers are
:mod:`simulations.nn.conv_api`), no allocation: every output and workspace array is passed in.
Layout and notation as :mod:`simulations.nn.backends.cpu_conv`: x (N, C, H, W), w (O, C, kh, kw),
y (N, O, OH, OW), L = OH·OW, K = C·kh·kw, W2 = w viewed (O, K).

The convolution is lowered to a matrix product (Chellapilla, Puri & Simard 2006, "High performance
convolutional neural networks for document processing") over the WHOLE minibatch, with the
transposed im2col matrix

    cols (K, N·L),   cols[ch·kh·kw + i·kw + j, n·L + a·OW + c] = xp[n, ch, a·s + i, c·s + j]

(xp the zero-padded input), so one BLAS GEMM per layer does all the arithmetic — large enough for
the BLAS blocking and threads even on 7×7 or 3×3 maps, where a per-sample product is tiny:

    Yᵀ = colsᵀ · W2ᵀ   (N·L, O),   y[n, o, t] = Yᵀ[n·L + t, o] + b[o]

(computed as Yᵀ: OpenBLAS ran that 10-20 % faster than W2 · cols on the VGG-11 layers, which pays
for the per-sample transpose into NCHW).

Backward (the adjoint of that linear map), with G (O, N·L) the channel-major ∂loss/∂y:

    dW2 = G · colsᵀ,   db = G · 1,   dcols = W2ᵀ · G,   dx = col2im(dcols),

col2im the adjoint of im2col (each entry added back where it was read from, padding dropped).
The forward pass leaves cols in its workspace and the backward pass reuses it (no second im2col).
A ReLU that follows the convolution can be fused: the forward applies max(·, 0) while writing y,
and the backward multiplies G by [y > 0] while building it (PyTorch's ``threshold_backward``),
the same numbers as the separate ReLU kernels of :mod:`~simulations.nn.backends.cpu_conv`.

The copy kernels are serial: the threads of a multi-threaded step are BLAS's, inside the GEMMs.
(numba's OpenMP workers spin-wait after a parallel loop and then compete with OpenBLAS's workers
for the cores: measured 3× slower steps on a 2-core machine, so no ``prange`` here.)
"""
from __future__ import annotations

import numba as nb
import numpy as np

from simulations.nn.backends.cpu_dense import gemm

__all__ = ["im2col_t", "col2im_t", "unpermute_bias_relu", "permute_mask_sum", "conv2d_forward",
           "conv2d_backward"]

#: flat indices are cast to unsigned in the inner loops: numba then drops its negative-index
#: wrap-around test, which otherwise keeps LLVM from vectorising the copies (every index is ≥ 0)
_u = np.uint64


@nb.njit(cache=True)
def im2col_t(x, kh, kw, stride, pad, cols):
    """cols ← the batched, transposed im2col matrix (C·kh·kw, N·OH·OW) of x.

    cols[ch·kh·kw + i·kw + j, n·L + a·OW + c] = xp[n, ch, a·s + i, c·s + j] (xp: x zero-padded),
    L = OH·OW: the transpose of :func:`~simulations.nn.backends.cpu_conv.im2col`'s matrix. x
    (N, C, H, W) and cols C-contiguous, cols fully overwritten. Row by row, each one window
    offset (ch, i, j) copied from rows of x, its valid column range [c0, c1) computed once.
    """
    N, C, H, W = x.shape
    OH = (H + 2 * pad - kh) // stride + 1
    OW = (W + 2 * pad - kw) // stride + 1
    L = OH * OW
    xf = x.reshape(x.size)
    cf = cols.reshape(cols.size)
    zero = cols.dtype.type(0)
    for k in range(C * kh * kw):
        ch = k // (kh * kw)
        i = (k // kw) % kh
        off = k % kw - pad
        c0 = min(OW, max(0, (stride - 1 - off) // stride))      # first c with c·s + off ≥ 0
        c1 = max(c0, min(OW, (W - 1 - off) // stride + 1))     # 1 + last c with c·s + off ≤ W − 1
        for n in range(N):
            for a in range(OH):
                ih = a * stride + i - pad
                q = k * N * L + n * L + a * OW
                if ih < 0 or ih >= H:
                    for c in range(OW):
                        cf[_u(q + c)] = zero
                    continue
                src = ((n * C + ch) * H + ih) * W + off
                for c in range(c0):
                    cf[_u(q + c)] = zero
                if stride == 1:
                    for c in range(c0, c1):
                        cf[_u(q + c)] = xf[_u(src + c)]
                else:
                    for c in range(c0, c1):
                        cf[_u(q + c)] = xf[_u(src + c * stride)]
                for c in range(c1, OW):
                    cf[_u(q + c)] = zero


@nb.njit(cache=True)
def col2im_t(cols, kh, kw, stride, pad, dx):
    """dx ← col2im of the transposed matrix of :func:`im2col_t` (its adjoint), dx OVERWRITTEN.

    cols (C·kh·kw, N·OH·OW) C-contiguous; dx (N, C, H, W) C-contiguous, sample by sample;
    entries falling in the padding are dropped.
    """
    N, C, H, W = dx.shape
    OH = (H + 2 * pad - kh) // stride + 1
    OW = (W + 2 * pad - kw) // stride + 1
    L = OH * OW
    cf = cols.reshape(cols.size)
    df = dx.reshape(dx.size)
    zero = dx.dtype.type(0)
    for n in range(N):
        for t in range(C * H * W):
            df[_u(n * C * H * W + t)] = zero
        for k in range(C * kh * kw):
            ch = k // (kh * kw)
            i = (k // kw) % kh
            off = k % kw - pad
            c0 = min(OW, max(0, (stride - 1 - off) // stride))
            c1 = max(c0, min(OW, (W - 1 - off) // stride + 1))
            for a in range(OH):
                ih = a * stride + i - pad
                if ih < 0 or ih >= H:
                    continue
                q = k * N * L + n * L + a * OW
                dst = ((n * C + ch) * H + ih) * W + off
                if stride == 1:
                    for c in range(c0, c1):
                        df[_u(dst + c)] += cf[_u(q + c)]
                else:
                    for c in range(c0, c1):
                        df[_u(dst + c * stride)] += cf[_u(q + c)]


@nb.njit(cache=True)
def unpermute_bias_relu(yr, b, has_bias, relu, y):
    """y[n, o, t] ← yr[n·L + t, o] (+ b[o] iff ``has_bias``; then max(·, 0) iff ``relu``).

    yr (N·L, O) C-contiguous (the GEMM output, position-major); y (N, O, OH, OW) C-contiguous,
    L = OH·OW. A transpose per sample, in tiles of 16 positions (the tile of yr stays in cache).
    """
    N, O = y.shape[0], y.shape[1]
    L = y.shape[2] * y.shape[3]
    sf = yr.reshape(yr.size)
    df = y.reshape(y.size)
    zero = y.dtype.type(0)
    for n in range(N):
        for t0 in range(0, L, 16):
            t1 = min(L, t0 + 16)
            for o in range(O):
                d0 = (n * O + o) * L
                bo = b[o] if has_bias else zero
                for t in range(t0, t1):
                    v = sf[_u((n * L + t) * O + o)]
                    if has_bias:
                        v = v + bo
                    if relu:
                        v = v if v > zero else zero
                    df[_u(d0 + t)] = v


@nb.njit(cache=True)
def permute_mask_sum(dy, y, relu, has_bias, dyt, db):
    """dyt[o, n·L + t] ← dy[n, o, t] (· [y[n, o, t] > 0] iff ``relu``); db[o] ← Σ_{n,t} of it iff ``has_bias``.

    dy, y (N, O, OH, OW) C-contiguous (y read iff ``relu``: the ReLU output, so the product is the
    ReLU's backward); dyt (O, N·L) C-contiguous; db (O,), the sum accumulated in float64 in 4
    interleaved partial sums (a reordering of the sum).
    """
    N, O = dy.shape[0], dy.shape[1]
    L = dy.shape[2] * dy.shape[3]
    sf = dy.reshape(dy.size)
    yf = y.reshape(y.size)
    df = dyt.reshape(dyt.size)
    zero = dyt.dtype.type(0)
    for o in range(O):
        for n in range(N):
            s0 = (n * O + o) * L
            d0 = o * N * L + n * L
            if relu:
                for t in range(L):
                    df[_u(d0 + t)] = sf[_u(s0 + t)] if yf[_u(s0 + t)] > zero else zero
            else:
                for t in range(L):
                    df[_u(d0 + t)] = sf[_u(s0 + t)]
        if has_bias:
            s0 = s1 = s2 = s3 = 0.0
            for n in range(N):
                r0 = o * N * L + n * L
                for t in range(0, L - 3, 4):
                    s0 += df[_u(r0 + t)]
                    s1 += df[_u(r0 + t + 1)]
                    s2 += df[_u(r0 + t + 2)]
                    s3 += df[_u(r0 + t + 3)]
                for t in range(L - L % 4, L):
                    s0 += df[_u(r0 + t)]
            db[o] = (s0 + s1) + (s2 + s3)


@nb.njit(cache=True)
def conv2d_forward(x, w, b, has_bias, relu, stride, pad, cols, yt, y):
    """y ← conv2d(x, w) + b (then ReLU iff ``relu``): im2col_t, then ONE GEMM for the whole batch.

    x (N, C, H, W); w (O, C, kh, kw) C-contiguous; b (O,) read iff ``has_bias``; cols
    (C·kh·kw, N·OH·OW) workspace, left holding im2col_t(x) (the backward pass reuses it); yt
    (O·N·OH·OW entries) workspace; y (N, O, OH, OW) C-contiguous, overwritten.
    """
    O, C, kh, kw = w.shape
    im2col_t(x, kh, kw, stride, pad, cols)
    yr = yt.reshape(yt.size)[:O * cols.shape[1]].reshape(cols.shape[1], O)
    gemm(True, True, 1.0, cols, w.reshape(O, C * kh * kw), 0.0, yr)      # Yᵀ = colsᵀ·W2ᵀ: faster in
    unpermute_bias_relu(yr, b, has_bias, relu, y)                         # OpenBLAS than W2·cols


@nb.njit(cache=True)
def conv2d_backward(w, dy, y, relu, stride, pad, cols, dyt, dcols, dx, dw, db, has_bias, need_dx):
    """Gradients of conv2d (then ReLU iff ``relu``) given dy = ∂loss/∂(output): dw, db, dx.

    w (O, C, kh, kw) C-contiguous; dy (N, O, OH, OW) C-contiguous; y the forward output (read iff
    ``relu``); cols = im2col_t(x) as :func:`conv2d_forward` left it; dyt (O·N·OH·OW entries)
    workspace; dcols like cols, used iff ``need_dx``; dx (N, C, H, W) overwritten iff ``need_dx``
    (pass any 4-D array otherwise); dw (O, C, kh, kw) C-contiguous, overwritten; db (O,)
    overwritten iff ``has_bias``. With G = dyt (O, N·L): dW2 = G·colsᵀ, db = G·1, dcols = W2ᵀ·G,
    dx = col2im(dcols).
    """
    O, C, kh, kw = w.shape
    K = C * kh * kw
    N = dy.shape[0]
    L = dy.shape[2] * dy.shape[3]
    g = dyt.reshape(dyt.size)[:O * N * L].reshape(O, N * L)
    permute_mask_sum(dy, y, relu, has_bias, g, db)
    gemm(False, True, 1.0, g, cols, 0.0, dw.reshape(O, K))
    if need_dx:
        gemm(True, False, 1.0, w.reshape(O, K), g, 0.0, dcols)
        col2im_t(dcols, kh, kw, stride, pad, dx)

