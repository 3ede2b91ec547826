"""numba kernels of the CPU backend, convolutional part: im2col, pooling, ReLU.

Plain ``@njit(cache=True)`` functions on arrays, no validation (the checked wrappers are
:mod:`simulations.nn.conv_api`), no allocation: every output and workspace array is passed in.
Each kernel compiles once per dtype (float32 and float64 share the source).

Layout NCHW: inputs ``x`` (N, C, H, W), weights ``w`` (O, C, kh, kw) C-contiguous, bias ``b``
(O,) (any array of the dtype, e.g. length 0, when ``has_bias`` is false). Output size of a
window of size k, stride s and zero padding p on a side of length H (Dumoulin & Visin 2016,
"A guide to convolution arithmetic", relationship 6):  OH = (H + 2p − k) // s + 1.

Convolution (cross-correlation, as in deep learning libraries):

    y[n,o,a,c] = b[o] + Σ_{ch,i,j} w[o,ch,i,j] · xp[n, ch, a·s + i, c·s + j]

with xp the zero-padded input. The *im2col* matrix (Chellapilla, Puri & Simard 2006, "High
performance convolutional neural networks for document processing") has one ROW per output
position and one column per (ch, i, j) —

    cols  (N·OH·OW, C·kh·kw),   cols[n·L + a·OW + c, ch·kh·kw + i·kw + j] = xp[n, ch, a·s+i, c·s+j],

L = OH·OW; :func:`col2im_add` is its adjoint (every entry added back to the input position it was
read from, positions in the padding dropped). The convolution itself (one GEMM per layer on the
transposed matrix) is :mod:`simulations.nn.backends.cpu_conv_gemm`, re-exported here.

Pooling (no padding, window k, stride s): max pooling keeps the index of the maximum within
the H·W plane; ties go to the FIRST index in row-major window order and a NaN wins (as
PyTorch's CPU kernel: ``val > max || isnan(val)``); its gradient routes dy to that index.
Average pooling divides by k·k (every window lies inside the input). Global average pooling
is the mean over H·W. ReLU: y = max(x, 0); its gradient passes dy where y > 0 (0 at x = 0,
as PyTorch's ``threshold_backward``).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from simulations.nn.backends.cpu_conv_gemm import conv2d_backward, conv2d_forward

#: flat indices cast to unsigned in hot loops (numba then drops its negative-index wrap-around test)
_u = np.uint64

__all__ = ["im2col", "col2im_add", "conv2d_forward", "conv2d_backward", "maxpool2d_forward",
           "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward", "global_avgpool_forward",
           "global_avgpool_backward", "relu_forward", "relu_backward"]


@nb.njit(cache=True)
def im2col(x, kh, kw, stride, pad, cols):
    """cols ← im2col(x).

    x (N, C, H, W) C-contiguous; cols (N·OH·OW, C·kh·kw), C-contiguous, fully overwritten (zeros
    where the window covers the padding). OH = (H + 2·pad − kh)//stride + 1, OW likewise.
    Flat indexing, the valid column range of each window row computed once (no per-entry test).
    """
    N, C, H, W = x.shape
    OH = (H + 2 * pad - kh) // stride + 1
    OW = (W + 2 * pad - kw) // stride + 1
    K = C * kh * kw
    xf = x.reshape(x.size)
    cf = cols.reshape(cols.size)
    zero = cols.dtype.type(0)
    r = 0
    for n in range(N):
        xn = n * C * H * W
        for a in range(OH):
            h0 = a * stride - pad
            for c in range(OW):
                w0 = c * stride - pad
                j0 = max(0, -w0)
                j1 = min(kw, W - w0)
                q = r * K
                for ch in range(C):
                    xc = xn + ch * H * W
                    for i in range(kh):
                        ih = h0 + i
                        if ih < 0 or ih >= H or j1 <= j0:
                            for j in range(kw):
                                cf[q + j] = zero
                        else:
                            for j in range(j0):
                                cf[q + j] = zero
                            src = xc + ih * W + w0
                            for j in range(j0, j1):
                                cf[q + j] = xf[src + j]
                            for j in range(j1, kw):
                                cf[q + j] = zero
                        q += kw
                r += 1


@nb.njit(cache=True)
def col2im_add(cols, N, C, H, W, kh, kw, stride, pad, dx):
    """dx += col2im(cols): the adjoint of :func:`im2col`.

    cols (N·OH·OW, C·kh·kw) C-contiguous; dx (N, C, H, W) C-contiguous, ACCUMULATED into (zero
    it first for a plain col2im). Entries of cols that fall in the padding are dropped.
    """
    OH = (H + 2 * pad - kh) // stride + 1
    OW = (W + 2 * pad - kw) // stride + 1
    K = C * kh * kw
    cf = cols.reshape(cols.size)
    df = dx.reshape(dx.size)
    r = 0
    for n in range(N):
        xn = n * C * H * W
        for a in range(OH):
            h0 = a * stride - pad
            for c in range(OW):
                w0 = c * stride - pad
                j0 = max(0, -w0)
                j1 = min(kw, W - w0)
                q = r * K
                for ch in range(C):
                    xc = xn + ch * H * W
                    for i in range(kh):
                        ih = h0 + i
                        if 0 <= ih < H:
                            dst = xc + ih * W + w0
                            for j in range(j0, j1):
                                df[dst + j] += cf[q + j]
                        q += kw
                r += 1


@nb.njit(cache=True, nogil=True)
def maxpool2d_forward(x, k, stride, y, argmax):
    """y ← max over k×k windows (stride ``stride``, no padding); argmax ← flat index in the H·W plane.

    x (N, C, H, W) C-contiguous; y (N, C, OH, OW) with OH = (H − k)//stride + 1; argmax
    (N, C, OH, OW) int64, both C-contiguous. Ties: first index in row-major window order; NaN
    wins (as PyTorch). The window starts from its first entry (which
    a −∞ start would take anyway: v > −∞ or v is NaN, else v = −∞ and the index stays the first).
    """
    N, C, H, W = x.shape
    OH = y.shape[2]
    OW = y.shape[3]
    xf = x.reshape(x.size)
    yf = y.reshape(y.size)
    af = argmax.reshape(argmax.size)
    for p in range(N * C):
        base = p * H * W
        for a in range(OH):
            q = (p * OH + a) * OW
            for c in range(OW):
                idx = a * stride * W + c * stride
                m = xf[_u(base + idx)]
                if k == 2:                      # the common 2×2 window, unrolled
                    t = idx
                    v = xf[_u(base + t + 1)]
                    if v > m or np.isnan(v):
                        m, idx = v, t + 1
                    v = xf[_u(base + t + W)]
                    if v > m or np.isnan(v):
                        m, idx = v, t + W
                    v = xf[_u(base + t + W + 1)]
                    if v > m or np.isnan(v):
                        m, idx = v, t + W + 1
                else:
                    r0 = idx
                    for i in range(k):
                        for j in range(1 if i == 0 else 0, k):
                            t = r0 + i * W + j
                            v = xf[_u(base + t)]
                            if v > m or np.isnan(v):
                                m, idx = v, t
                yf[_u(q + c)] = m
                af[_u(q + c)] = idx


@nb.njit(cache=True, nogil=True)
def maxpool2d_backward(dy, argmax, dx):
    """dx ← gradient of max pooling: dx zeroed, then dx[n, c].flat[argmax] += dy.

    dy (N, C, OH, OW) C-contiguous; argmax (N, C, OH, OW) int64 from :func:`maxpool2d_forward`;
    dx (N, C, H, W) C-contiguous, overwritten.
    """
    N, C, H, W = dx.shape
    P = dy.shape[2] * dy.shape[3]
    df = dx.reshape(dx.size)
    gf = dy.reshape(dy.size)
    af = argmax.reshape(argmax.size)
    zero = dx.dtype.type(0)
    for p in range(N * C):
        for t in range(H * W):
            df[_u(p * H * W + t)] = zero
        for t in range(P):
            df[_u(p * H * W + af[_u(p * P + t)])] += gf[_u(p * P + t)]


@nb.njit(cache=True, nogil=True)
def avgpool2d_forward(x, k, stride, y):
    """y ← mean over k×k windows (stride ``stride``, no padding; divisor k·k).

    x (N, C, H, W); y (N, C, OH, OW), OH = (H − k)//stride + 1, overwritten.
    """
    N, C, H, W = x.shape
    OH = y.shape[2]
    OW = y.shape[3]
    inv = 1.0 / (k * k)
    for n in range(N):
        for ch in range(C):
            xp = x[n, ch]
            for a in range(OH):
                h0 = a * stride
                for c in range(OW):
                    w0 = c * stride
                    s = 0.0
                    for i in range(k):
                        xr = xp[h0 + i]
                        for j in range(k):
                            s += xr[w0 + j]
                    y[n, ch, a, c] = s * inv


@nb.njit(cache=True, nogil=True)
def avgpool2d_backward(dy, k, stride, dx):
    """dx ← gradient of average pooling: every window position receives dy/(k·k) (overlaps add).

    dy (N, C, OH, OW); dx (N, C, H, W), overwritten.
    """
    N, C, H, W = dx.shape
    OH = dy.shape[2]
    OW = dy.shape[3]
    dx[:] = 0.0
    inv = 1.0 / (k * k)
    for n in range(N):
        for ch in range(C):
            d = dx[n, ch]
            for a in range(OH):
                h0 = a * stride
                for c in range(OW):
                    w0 = c * stride
                    g = dy[n, ch, a, c] * inv
                    for i in range(k):
                        dr = d[h0 + i]
                        for j in range(k):
                            dr[w0 + j] += g


@nb.njit(cache=True)
def global_avgpool_forward(x, y):
    """y[n, c] ← mean of x[n, c] over the H·W plane. x (N, C, H, W) C-contiguous; y (N, C)."""
    N, C, H, W = x.shape
    x3 = x.reshape(N, C, H * W)
    inv = 1.0 / (H * W)
    for n in range(N):
        for ch in range(C):
            r = x3[n, ch]
            s = 0.0
            for t in range(H * W):
                s += r[t]
            y[n, ch] = s * inv


@nb.njit(cache=True)
def global_avgpool_backward(dy, dx):
    """dx[n, c, :, :] ← dy[n, c] / (H·W). dy (N, C); dx (N, C, H, W) C-contiguous, overwritten."""
    N, C, H, W = dx.shape
    dx3 = dx.reshape(N, C, H * W)
    inv = 1.0 / (H * W)
    for n in range(N):
        for ch in range(C):
            g = dy[n, ch] * inv
            r = dx3[n, ch]
            for t in range(H * W):
                r[t] = g


@nb.njit(cache=True)
def relu_forward(x, y):
    """y ← max(x, 0) element-wise; x, y C-contiguous of one shape; ``y`` may BE ``x`` (in place)."""
    xf = x.reshape(x.size)
    yf = y.reshape(y.size)
    zero = yf.dtype.type(0)
    for t in range(xf.size):
        v = xf[t]
        yf[t] = v if v > zero else zero


@nb.njit(cache=True)
def relu_backward(dy, y, dx):
    """dx ← dy where y > 0, else 0 (y: the ReLU output, or its input: same sign pattern).

    dy, y, dx C-contiguous of one shape; ``dx`` may BE ``dy`` (in place).
    """
    df = dy.reshape(dy.size)
    yf = y.reshape(y.size)
    of = dx.reshape(dx.size)
    zero = of.dtype.type(0)
    for t in range(df.size):
        of[t] = df[t] if yf[t] > zero else zero
