"""numba kernels of the CPU backend: convolution as ONE matrix product per layer for the whole batch.

Plain ``@njit(cache=True)`` functions on arrays, no validation (the checked wrappers are
:mod:`simulations.nn.conv_api`), no allocation: every output and workspace array is passed in.
Layout and notation as :mod:`simulations.nn.backends.cpu_conv`: x (N, C, H, W), w (O, C, kh, kw),
y (N, O, OH, OW), L = OH·OW, K = C·kh·kw, W2 = w viewed (O, K).

The convolution is lowered to a matrix product (Chellapilla, Puri & Simard 2006, "High performance
convolutional neural networks for document processing") over many samples at once, with the
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
The batch is processed in chunks of samples whose im2col matrix has at most
:data:`CHUNK_ENTRIES` entries (one sample at least), so that the matrix is still in the core's
cache when the GEMM reads it: on LeNet-5 (6 and 16 filters, where the GEMM reads each im2col
entry only 6 or 16 times) that made a training step 1.5× faster than one whole-batch matrix. The
backward pass recomputes a chunk's matrix from the layer's input rather than keeping the forward
pass's (an im2col costs less than reading a whole-batch matrix back from memory), and dw sums the
chunks' products (GEMM with β = 1).
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
           "conv2d_backward", "chunk_size", "CHUNK_ENTRIES"]

#: a chunk's im2col matrix has at most this many entries (256 KiB in float32, a share of a core's
#: L2 cache that leaves room for the GEMM's own blocks) ...
CHUNK_ENTRIES = 2**16
#: ... unless that leaves fewer GEMM columns (chunk · OH·OW) than this: a wide layer's GEMM is
#: compute-bound, and one narrower than ~1000 columns runs below BLAS's speed (VGG-11's 784-column
#: single-sample products ran 25 % slower than 1568-column ones)
MIN_COLUMNS = 1024


def chunk_size(fan_in: int, positions: int, batch: int) -> int:
    """Samples per chunk of a convolution with C·kh·kw = fan_in and OH·OW = positions, in [1, batch].

    The most samples whose im2col matrix has ≤ :data:`CHUNK_ENTRIES` entries, or enough for
    :data:`MIN_COLUMNS` GEMM columns if that is more.
    """
    by_cache = CHUNK_ENTRIES // max(1, fan_in * positions)
    return max(1, min(batch, max(by_cache, -(-MIN_COLUMNS // max(1, positions)))))

#: flat indices are cast to unsigned in the inner loops: numba then drops its negative-index
#: wrap-around test, which otherwise keeps LLVM from vectorising the copies (every index is ≥ 0)
_u = np.uint64


@nb.njit(cache=True, nogil=True)
def im2col_t(x, n0, n1, kh, kw, stride, pad, cols):
    """cols ← the batched, transposed im2col matrix (C·kh·kw, m·OH·OW) of samples n0 ≤ n < n1 of x (m = n1 − n0).

    cols[ch·kh·kw + i·kw + j, (n − n0)·L + a·OW + c] = xp[n, ch, a·s + i, c·s + j] (xp: x zero-padded),
    L = OH·OW: the transpose of :func:`~simulations.nn.backends.cpu_conv.im2col`'s matrix. x
    (N, C, H, W) and cols C-contiguous, cols fully overwritten. Row by row, each one window
    offset (ch, i, j) copied from rows of x, its valid column range [c0, c1) computed once.
    """
    N, C, H, W = x.shape
    OH = (H + 2 * pad - kh) // stride + 1
    OW = (W + 2 * pad - kw) // stride + 1
    L = OH * OW
    m = n1 - n0
    xf = x.reshape(x.size)
    cf = cols.reshape(cols.size)
    zero = cols.dtype.type(0)
    for k in range(C * kh * kw):
        ch = k // (kh * kw)
        i = (k // kw) % kh
        off = k % kw - pad
        c0 = min(OW, max(0, (stride - 1 - off) // stride))      # first c with c·s + off ≥ 0
        c1 = max(c0, min(OW, (W - 1 - off) // stride + 1))     # 1 + last c with c·s + off ≤ W − 1
        for n in range(n0, n1):
            for a in range(OH):
                ih = a * stride + i - pad
                q = k * m * L + (n - n0) * L + a * OW
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


@nb.njit(cache=True, nogil=True)
def col2im_t(cols, n0, n1, kh, kw, stride, pad, dx):
    """dx[n0:n1] ← col2im of the transposed matrix of :func:`im2col_t` (its adjoint), OVERWRITTEN.

    cols (C·kh·kw, m·OH·OW) C-contiguous, m = n1 − n0; dx (N, C, H, W) C-contiguous, sample by
    sample; entries falling in the padding are dropped; samples outside [n0, n1) untouched.
    """
    N, C, H, W = dx.shape
    OH = (H + 2 * pad - kh) // stride + 1
    OW = (W + 2 * pad - kw) // stride + 1
    L = OH * OW
    m = n1 - n0
    cf = cols.reshape(cols.size)
    df = dx.reshape(dx.size)
    zero = dx.dtype.type(0)
    for n in range(n0, n1):
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
                q = k * m * L + (n - n0) * L + a * OW
                dst = ((n * C + ch) * H + ih) * W + off
                if stride == 1:
                    for c in range(c0, c1):
                        df[_u(dst + c)] += cf[_u(q + c)]
                else:
                    for c in range(c0, c1):
                        df[_u(dst + c * stride)] += cf[_u(q + c)]


@nb.njit(cache=True, nogil=True)
def unpermute_bias_relu(yr, n0, n1, b, has_bias, relu, y):
    """y[n, o, t] ← yr[(n − n0)·L + t, o] (+ b[o] iff ``has_bias``; then max(·, 0) iff ``relu``), n0 ≤ n < n1.

    yr (m·L, O) C-contiguous (the GEMM output, position-major, m = n1 − n0); y (N, O, OH, OW)
    C-contiguous, L = OH·OW. A transpose per sample, in tiles of 16 positions (the tile of yr
    stays in cache).
    """
    O = y.shape[1]
    L = y.shape[2] * y.shape[3]
    sf = yr.reshape(yr.size)
    df = y.reshape(y.size)
    zero = y.dtype.type(0)
    for n in range(n0, n1):
        for t0 in range(0, L, 16):
            t1 = min(L, t0 + 16)
            for o in range(O):
                d0 = (n * O + o) * L
                bo = b[o] if has_bias else zero
                for t in range(t0, t1):
                    v = sf[_u(((n - n0) * L + t) * O + o)]
                    if has_bias:
                        v = v + bo
                    if relu:
                        v = v if v > zero else zero
                    df[_u(d0 + t)] = v


@nb.njit(cache=True, nogil=True)
def permute_mask_sum(dy, y, n0, n1, relu, has_bias, dyt, db):
    """dyt[o, (n − n0)·L + t] ← dy[n, o, t] (· [y[n, o, t] > 0] iff ``relu``), n0 ≤ n < n1; db[o] += Σ_{n,t} of it iff ``has_bias``.

    dy, y (N, O, OH, OW) C-contiguous (y read iff ``relu``: the ReLU output, so the product is the
    ReLU's backward); dyt (O, m·L) C-contiguous, m = n1 − n0; db (O,) float64, ADDED to (a caller
    summing over several sample ranges zeroes it first), each sum in 4 interleaved partial sums.
    """
    O = dy.shape[1]
    L = dy.shape[2] * dy.shape[3]
    m = n1 - n0
    sf = dy.reshape(dy.size)
    yf = y.reshape(y.size)
    df = dyt.reshape(dyt.size)
    zero = dyt.dtype.type(0)
    for o in range(O):
        for n in range(n0, n1):
            s0 = (n * O + o) * L
            d0 = o * m * L + (n - n0) * L
            if relu:
                for t in range(L):
                    df[_u(d0 + t)] = sf[_u(s0 + t)] if yf[_u(s0 + t)] > zero else zero
            else:
                for t in range(L):
                    df[_u(d0 + t)] = sf[_u(s0 + t)]
        if has_bias:
            s0 = s1 = s2 = s3 = 0.0
            for r in range(m):
                r0 = o * m * L + r * L
                for t in range(0, L - 3, 4):
                    s0 += df[_u(r0 + t)]
                    s1 += df[_u(r0 + t + 1)]
                    s2 += df[_u(r0 + t + 2)]
                    s3 += df[_u(r0 + t + 3)]
                for t in range(L - L % 4, L):
                    s0 += df[_u(r0 + t)]
            db[o] += (s0 + s1) + (s2 + s3)


@nb.njit(cache=True, nogil=True)
def conv2d_forward(x, n0, n1, w, b, has_bias, relu, stride, pad, chunk, cols, yt, y):
    """y[n0:n1] ← conv2d(x, w) + b (then ReLU iff ``relu``), ``chunk`` samples at a time: im2col_t, then ONE GEMM.

    x (N, C, H, W); w (O, C, kh, kw) C-contiguous; b (O,) read iff ``has_bias``; cols ≥
    C·kh·kw·chunk·OH·OW and yt ≥ O·chunk·OH·OW entries, 1-D scratch; y (N, O, OH, OW)
    C-contiguous. A chunk's im2col matrix is sized to stay in the core's cache.
    """
    O, C, kh, kw = w.shape
    K = C * kh * kw
    L = y.shape[2] * y.shape[3]
    W2 = w.reshape(O, K)
    for s in range(n0, n1, chunk):
        e = min(n1, s + chunk)
        c = cols[:K * (e - s) * L].reshape(K, (e - s) * L)
        im2col_t(x, s, e, kh, kw, stride, pad, c)
        yr = yt[:O * (e - s) * L].reshape((e - s) * L, O)
        gemm(np.bool_(True), np.bool_(True), 1.0, c, W2, 0.0, yr)            # Yᵀ = colsᵀ·W2ᵀ: faster in OpenBLAS than W2·cols
        unpermute_bias_relu(yr, s, e, b, has_bias, relu, y)


@nb.njit(cache=True, nogil=True)
def conv2d_backward(x, n0, n1, w, dy, y, relu, stride, pad, chunk, cols, dyt, dcols, dx, dw, db, has_bias, need_dx):
    """Gradients of conv2d (then ReLU iff ``relu``) over samples [n0, n1) given dy = ∂loss/∂(output).

    x (N, C, H, W) the forward input (its im2col recomputed, ``chunk`` samples at a time); w (O, C,
    kh, kw) C-contiguous; dy (N, O, OH, OW) C-contiguous; y the forward output (read iff ``relu``);
    cols, dcols (dcols used iff ``need_dx``) ≥ C·kh·kw·chunk·OH·OW and dyt ≥ O·chunk·OH·OW entries,
    1-D scratch; dx (N, C, H, W): dx[n0:n1] overwritten iff ``need_dx`` (pass any 4-D array
    otherwise); dw (O, C, kh, kw) C-contiguous, overwritten; db (O,) float64, ADDED to iff
    ``has_bias``. With G = dyt (O, m·L) per chunk: dW2 = Σ G·colsᵀ, db = Σ G·1, dcols = W2ᵀ·G,
    dx = col2im(dcols).
    """
    O, C, kh, kw = w.shape
    K = C * kh * kw
    L = dy.shape[2] * dy.shape[3]
    W2 = w.reshape(O, K)
    dW2 = dw.reshape(O, K)
    for s in range(n0, n1, chunk):
        e = min(n1, s + chunk)
        m = (e - s) * L
        g = dyt[:O * m].reshape(O, m)
        permute_mask_sum(dy, y, s, e, relu, has_bias, g, db)
        c = cols[:K * m].reshape(K, m)
        im2col_t(x, s, e, kh, kw, stride, pad, c)
        gemm(np.bool_(False), np.bool_(True), 1.0, g, c, 0.0 if s == n0 else 1.0, dW2)
        if need_dx:
            dc = dcols[:K * m].reshape(K, m)
            gemm(np.bool_(True), np.bool_(False), 1.0, W2, g, 0.0, dc)
            col2im_t(dc, s, e, kh, kw, stride, pad, dx)
