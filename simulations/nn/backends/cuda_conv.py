"""CUDA kernels of the convolutional neural core: direct convolution, pooling, activations, BatchNorm.

The device counterpart of :mod:`simulations.nn.backends.cpu_conv` and
:mod:`simulations.nn.backends.cpu_batchnorm` (the mathematics and the conventions are stated
there): plain ``numba.cuda`` kernels on device arrays, each with a host launcher of the same
name (``conv2d_forward``, ``maxpool2d_backward``, ...) that takes device arrays, computes the
launch configuration and launches; no validation (the checked entry points are
:mod:`simulations.nn.cuda_conv_net`), no allocation (every output is passed in). Layout NCHW,
C-contiguous; ``stride``, ``pad``, ``kernel`` are (height, width) pairs.

Convolution is computed *directly* (no im2col), one thread per entry of the result, so that no
thread writes where another does and no atomics are needed (the gather form of each adjoint):

    y[n,o,a,c]   = b[o] + Σ_{ch,i,j} w[o,ch,i,j] · xp[n, ch, a·sh + i, c·sw + j],
    dw[o,ch,i,j] = Σ_{n,a,c} dy[n,o,a,c] · xp[n, ch, a·sh + i, c·sw + j],   db[o] = Σ_{n,a,c} dy[n,o,a,c],
    dx[n,ch,h,v] = Σ_{o,i,j : h + ph − i = a·sh, v + pw − j = c·sw, 0 ≤ a < OH, 0 ≤ c < OW} w[o,ch,i,j] · dy[n,o,a,c],

xp the zero-padded input (Dumoulin & Visin 2016, "A guide to convolution arithmetic", §2).
Pooling (no padding): max pooling keeps the flat H·W index of the first maximum in row-major
window order, a NaN winning (``v > m or isnan(v)``, as the CPU kernel and PyTorch); its
gradient gathers, for every input entry, the dy of the windows whose argmax it is (in window
order, so overlapping windows sum exactly as the CPU scatter does). Average pooling divides by
kh·kw. Activations use :func:`simulations.nn.backends.pointwise.activation` and
``activation_backward`` compiled for the device (the same source as the CPU MLP kernels).
Dense layers use the tiled GEMM of :mod:`simulations.nn.backends.cuda_dense`.

BatchNorm (Ioffe & Szegedy 2015, ICML, Algorithm 1): one thread block per channel reduces
Σ x, then Σ (x − μ)² (two passes, as the CPU kernel) in shared memory (a tree reduction), writes
μ, 1/√(σ² + ε) and, in training, the running statistics r ← (1 − m) r + m · statistic with the
UNBIASED variance q/(M − 1); an element-wise kernel then writes y = γ x̂ + β. The backward
reduces ∂β = Σ g, ∂γ = Σ g x̂ per channel, then writes ∂x element-wise
(training: γ/(M √(σ²+ε)) (M g − ∂β − x̂ ∂γ); evaluation: γ g/√(r_σ² + ε)).

Every sum is accumulated in float64 (also for float32 tensors), in an order that differs from
the CPU's BLAS: the two backends agree to rounding, not bit for bit. (A kernel catalogue: one
module for every layer of the convolutional core, longer than the usual module.)
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import cuda

from simulations._core.codes import ACT_IDENTITY, ACT_RELU
from simulations._core.device import simulator_enabled
from simulations.nn.backends import cuda_dense as dk
from simulations.nn.backends import pointwise

__all__ = [
    "TPB", "RED", "conv2d_forward", "conv2d_backward", "maxpool2d_forward", "maxpool2d_backward",
    "avgpool2d_forward", "avgpool2d_backward", "global_avgpool_forward", "global_avgpool_backward",
    "activation_forward", "activation_backward", "relu_forward", "relu_backward", "batchnorm_forward_train",
    "batchnorm_forward_eval", "batchnorm_backward_train", "batchnorm_backward_eval", "dense_forward",
    "dense_backward", "add_into", "shortcut_a_add", "shortcut_a_add_adjoint", "loss_grad", "flag_nonfinite",
]

_act = cuda.jit(device=True, inline=True)(pointwise.activation.py_func)
_act_back = cuda.jit(device=True, inline=True)(pointwise.activation_backward.py_func)
_row_loss_grad = cuda.jit(device=True, inline=True)(pointwise.row_loss_grad.py_func)

#: threads per block of the element-wise kernels; RED: threads of a per-channel reduction block (a power of 2).
#: The simulator runs one Python thread per CUDA thread, so its blocks are small.
TPB = 32 if simulator_enabled() else 256
RED = 8 if simulator_enabled() else 256


def _grid(total: int):
    return (max(1, (total + TPB - 1) // TPB),), (TPB,)


# ---------------------------------------------------------------------------------- convolution
@cuda.jit
def _conv_fwd(x, w, b, has_bias, sh, sw, ph, pw, y):
    t = cuda.grid(1)
    N, O, OH, OW = y.shape
    if t >= N * O * OH * OW:
        return
    c = t % OW
    r = t // OW
    a = r % OH
    r //= OH
    o = r % O
    n = r // O
    C, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    H, W = x.shape[2], x.shape[3]
    s = 0.0
    h0 = a * sh - ph
    w0 = c * sw - pw
    for ch in range(C):
        for i in range(kh):
            ih = h0 + i
            if 0 <= ih < H:
                for j in range(kw):
                    iw = w0 + j
                    if 0 <= iw < W:
                        s += w[o, ch, i, j] * x[n, ch, ih, iw]
    if has_bias:
        s += b[o]
    y[n, o, a, c] = s


@cuda.jit
def _conv_dw(x, dy, sh, sw, ph, pw, dw):
    t = cuda.grid(1)
    O, C, kh, kw = dw.shape
    if t >= O * C * kh * kw:
        return
    j = t % kw
    r = t // kw
    i = r % kh
    r //= kh
    ch = r % C
    o = r // C
    N, _, OH, OW = dy.shape
    H, W = x.shape[2], x.shape[3]
    s = 0.0
    for n in range(N):
        for a in range(OH):
            ih = a * sh - ph + i
            if 0 <= ih < H:
                for c in range(OW):
                    iw = c * sw - pw + j
                    if 0 <= iw < W:
                        s += dy[n, o, a, c] * x[n, ch, ih, iw]
    dw[o, ch, i, j] = s


@cuda.jit
def _conv_db(dy, db):
    o = cuda.grid(1)
    N, O, OH, OW = dy.shape
    if o >= O:
        return
    s = 0.0
    for n in range(N):
        for a in range(OH):
            for c in range(OW):
                s += dy[n, o, a, c]
    db[o] = s


@cuda.jit
def _conv_dx(dy, w, sh, sw, ph, pw, dx):
    t = cuda.grid(1)
    N, C, H, W = dx.shape
    if t >= N * C * H * W:
        return
    v = t % W
    r = t // W
    h = r % H
    r //= H
    ch = r % C
    n = r // C
    O, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    OH, OW = dy.shape[2], dy.shape[3]
    s = 0.0
    for i in range(kh):
        qa = h + ph - i
        if qa < 0 or qa % sh != 0 or qa // sh >= OH:
            continue
        a = qa // sh
        for j in range(kw):
            qc = v + pw - j
            if qc < 0 or qc % sw != 0 or qc // sw >= OW:
                continue
            c = qc // sw
            for o in range(O):
                s += w[o, ch, i, j] * dy[n, o, a, c]
    dx[n, ch, h, v] = s


def conv2d_forward(x, w, b, has_bias, stride, pad, y):
    """y ← conv2d(x, w) (+ b iff ``has_bias``; b any array of the dtype otherwise). x (N, C, H, W), w (O, C, kh, kw), y (N, O, OH, OW)."""
    _conv_fwd[_grid(y.size)](x, w, b, has_bias, stride[0], stride[1], pad[0], pad[1], y)


def conv2d_backward(x, w, dy, stride, pad, dx, dw, db, has_bias, need_dx):
    """dw ← ∂/∂w, db ← ∂/∂b (iff ``has_bias``), dx ← ∂/∂x (iff ``need_dx``) given dy = ∂loss/∂y (all overwritten)."""
    _conv_dw[_grid(dw.size)](x, dy, stride[0], stride[1], pad[0], pad[1], dw)
    if has_bias:
        _conv_db[_grid(db.size)](dy, db)
    if need_dx:
        _conv_dx[_grid(dx.size)](dy, w, stride[0], stride[1], pad[0], pad[1], dx)


# ---------------------------------------------------------------------------------- pooling
@cuda.jit(device=True, inline=True)
def _unravel4(t, shape):
    d3 = shape[3]
    d2 = shape[2]
    d1 = shape[1]
    c = t % d3
    r = t // d3
    a = r % d2
    r //= d2
    return r // d1, r % d1, a, c


@cuda.jit
def _pool_fwd(x, kh, kw, sh, sw, is_max, y, argmax):
    t = cuda.grid(1)
    if t >= y.size:
        return
    n, ch, a, c = _unravel4(t, y.shape)
    W = x.shape[3]
    h0 = a * sh
    w0 = c * sw
    if is_max:
        m = -math.inf
        idx = h0 * W + w0
        for i in range(kh):
            for j in range(kw):
                v = x[n, ch, h0 + i, w0 + j]
                if v > m or math.isnan(v):
                    m = v
                    idx = (h0 + i) * W + w0 + j
        y[n, ch, a, c] = m
        argmax[n, ch, a, c] = idx
    else:
        s = 0.0
        for i in range(kh):
            for j in range(kw):
                s += x[n, ch, h0 + i, w0 + j]
        y[n, ch, a, c] = s / (kh * kw)


@cuda.jit
def _pool_bwd(dy, argmax, kh, kw, sh, sw, is_max, dx):
    t = cuda.grid(1)
    if t >= dx.size:
        return
    n, ch, h, v = _unravel4(t, dx.shape)
    OH, OW = dy.shape[2], dy.shape[3]
    me = h * dx.shape[3] + v
    a0 = 0 if h < kh else (h - kh) // sh + 1       # first window a with a·sh + kh > h
    c0 = 0 if v < kw else (v - kw) // sw + 1
    a1 = min(OH - 1, h // sh)
    c1 = min(OW - 1, v // sw)
    inv = 1.0 / (kh * kw)
    s = 0.0
    for a in range(a0, a1 + 1):
        for c in range(c0, c1 + 1):
            if is_max:
                if argmax[n, ch, a, c] == me:
                    s += dy[n, ch, a, c]
            else:
                s += dy[n, ch, a, c] * inv
    dx[n, ch, h, v] = s


def maxpool2d_forward(x, kernel, stride, y, argmax):
    """y ← max over windows; argmax (int64, shape of y) ← flat H·W index of the first maximum (NaN wins)."""
    _pool_fwd[_grid(y.size)](x, kernel[0], kernel[1], stride[0], stride[1], True, y, argmax)


def maxpool2d_backward(dy, argmax, kernel, stride, dx):
    """dx ← the sum of the dy whose argmax is each entry (0 elsewhere)."""
    _pool_bwd[_grid(dx.size)](dy, argmax, kernel[0], kernel[1], stride[0], stride[1], True, dx)


def avgpool2d_forward(x, kernel, stride, y):
    """y ← mean over kh×kw windows."""
    _pool_fwd[_grid(y.size)](x, kernel[0], kernel[1], stride[0], stride[1], False, y, y)


def avgpool2d_backward(dy, kernel, stride, dx):
    """dx ← Σ over the windows holding each entry of dy/(kh·kw)."""
    _pool_bwd[_grid(dx.size)](dy, dy, kernel[0], kernel[1], stride[0], stride[1], False, dx)


@cuda.jit
def _gap_fwd(x, y):
    t = cuda.grid(1)
    N, C = y.shape
    if t >= N * C:
        return
    n = t // C
    ch = t % C
    H, W = x.shape[2], x.shape[3]
    s = 0.0
    for h in range(H):
        for v in range(W):
            s += x[n, ch, h, v]
    y[n, ch] = s / (H * W)


@cuda.jit
def _gap_bwd(dy, dx):
    t = cuda.grid(1)
    if t >= dx.size:
        return
    n, ch, h, v = _unravel4(t, dx.shape)
    dx[n, ch, h, v] = dy[n, ch] / (dx.shape[2] * dx.shape[3])


def global_avgpool_forward(x, y):
    """y[n, c] ← mean of x[n, c] over H·W. x (N, C, H, W), y (N, C)."""
    _gap_fwd[_grid(y.size)](x, y)


def global_avgpool_backward(dy, dx):
    """dx[n, c, :, :] ← dy[n, c]/(H·W)."""
    _gap_bwd[_grid(dx.size)](dy, dx)


# ---------------------------------------------------------------------------------- element-wise
@cuda.jit
def _act_fwd(x, y, act):
    t = cuda.grid(1)
    if t < x.size:
        y[t] = _act(x[t], act)


@cuda.jit
def _act_bwd(dy, a, dx, act):
    t = cuda.grid(1)
    if t < dy.size:
        dx[t] = _act_back(dy[t], a[t], act)


def _flat(arr):
    return arr.reshape(arr.size)


def activation_forward(x, y, act):
    """y ← φ(x) for the activation code ``act``; x, y contiguous of one shape, y may BE x."""
    _act_fwd[_grid(x.size)](_flat(x), _flat(y), act)


def activation_backward(dy, a, dx, act):
    """dx ← dy · φ'(z) written through the output a = φ(z); dx may BE dy."""
    _act_bwd[_grid(dy.size)](_flat(dy), _flat(a), _flat(dx), act)


def relu_forward(x, y):
    """y ← max(x, 0) (y may BE x)."""
    activation_forward(x, y, ACT_RELU)


def relu_backward(dy, y, dx):
    """dx ← dy where y > 0, else 0 (dx may BE dy)."""
    activation_backward(dy, y, dx, ACT_RELU)


@cuda.jit
def _add(dst, src):
    t = cuda.grid(1)
    if t < dst.size:
        dst[t] += src[t]


def add_into(dst, src):
    """dst += src (same shape, contiguous)."""
    _add[_grid(dst.size)](_flat(dst), _flat(src))


@cuda.jit
def _shortcut_a(out, x, s, p, adjoint):
    t = cuda.grid(1)
    N, C = x.shape[0], x.shape[1]
    OH, OW = out.shape[2], out.shape[3]
    if t >= N * C * OH * OW:
        return
    c = t % OW
    r = t // OW
    a = r % OH
    r //= OH
    ch = r % C
    n = r // C
    if adjoint:                       # x plays dx, out plays dz
        x[n, ch, a * s, c * s] += out[n, p + ch, a, c]
    else:
        out[n, p + ch, a, c] += x[n, ch, a * s, c * s]


def shortcut_a_add(out, x, s, p):
    """out[:, p:p + C] += x[:, :, ::s, ::s] (the option-A shortcut of a basic block); out (N, O, OH, OW)."""
    _shortcut_a[_grid(x.shape[0] * x.shape[1] * out.shape[2] * out.shape[3])](out, x, s, p, False)


def shortcut_a_add_adjoint(dx, dz, s, p):
    """dx[:, :, ::s, ::s] += dz[:, p:p + C] (the adjoint of :func:`shortcut_a_add`)."""
    _shortcut_a[_grid(dx.shape[0] * dx.shape[1] * dz.shape[2] * dz.shape[3])](dz, dx, s, p, True)


# ---------------------------------------------------------------------------------- batch normalisation
@cuda.jit(device=True)
def _block_sum(buf, v, tid):
    """Σ over the block of every thread's v (tree reduction in the shared ``buf`` of RED entries)."""
    buf[tid] = v
    cuda.syncthreads()
    k = RED // 2
    while k > 0:
        if tid < k:
            buf[tid] += buf[tid + k]
        cuda.syncthreads()
        k //= 2
    total = buf[0]
    cuda.syncthreads()
    return total


@cuda.jit
def _bn_stats(x, eps, momentum, train, run_mean, run_var, mean, inv_std):
    ch = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    N, C, H, W = x.shape
    P = H * W
    M = N * P
    if not train:
        if tid == 0:
            mean[ch] = run_mean[ch]
            inv_std[ch] = 1.0 / math.sqrt(float(run_var[ch]) + eps)
        return
    buf = cuda.shared.array(RED, numba.float64)
    s = 0.0
    for m in range(tid, M, RED):
        p = m % P
        s += x[m // P, ch, p // W, p % W]
    mu = _block_sum(buf, s, tid) / M
    q = 0.0
    for m in range(tid, M, RED):
        p = m % P
        d = x[m // P, ch, p // W, p % W] - mu
        q += d * d
    q = _block_sum(buf, q, tid)
    if tid == 0:
        mean[ch] = mu
        inv_std[ch] = 1.0 / math.sqrt(q / M + eps)
        run_mean[ch] = (1.0 - momentum) * run_mean[ch] + momentum * mu
        run_var[ch] = (1.0 - momentum) * run_var[ch] + momentum * (q / (M - 1))


@cuda.jit
def _bn_apply(x, gamma, beta, mean, inv_std, y):
    t = cuda.grid(1)
    if t >= x.size:
        return
    n, ch, h, v = _unravel4(t, x.shape)
    a = gamma[ch] * inv_std[ch]
    y[n, ch, h, v] = a * x[n, ch, h, v] + (beta[ch] - a * mean[ch])


@cuda.jit
def _bn_sums(dy, x, mean, inv_std, dgamma, dbeta):
    ch = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    N, C, H, W = x.shape
    P = H * W
    buf = cuda.shared.array(RED, numba.float64)
    mu = float(mean[ch])
    istd = float(inv_std[ch])
    sg = 0.0
    sgx = 0.0
    for m in range(tid, N * P, RED):
        p = m % P
        n = m // P
        g = dy[n, ch, p // W, p % W]
        sg += g
        sgx += g * ((x[n, ch, p // W, p % W] - mu) * istd)
    sg = _block_sum(buf, sg, tid)
    sgx = _block_sum(buf, sgx, tid)
    if tid == 0:
        dbeta[ch] = sg
        dgamma[ch] = sgx


@cuda.jit
def _bn_dx(dy, x, gamma, mean, inv_std, dgamma, dbeta, train, dx):
    t = cuda.grid(1)
    if t >= x.size:
        return
    n, ch, h, v = _unravel4(t, x.shape)
    istd = float(inv_std[ch])
    g = dy[n, ch, h, v]
    if train:
        M = x.shape[0] * x.shape[2] * x.shape[3]
        xh = (x[n, ch, h, v] - mean[ch]) * istd
        dx[n, ch, h, v] = gamma[ch] * istd / M * (M * g - dbeta[ch] - xh * dgamma[ch])
    else:
        dx[n, ch, h, v] = gamma[ch] * istd * g


def batchnorm_forward_train(x, gamma, beta, eps, momentum, run_mean, run_var, mean, inv_std, y):
    """y ← BN(x) with the batch statistics; mean, inv_std ← μ, 1/√(σ² + ε); running statistics updated (N·H·W ≥ 2)."""
    _bn_stats[(x.shape[1],), (RED,)](x, eps, momentum, True, run_mean, run_var, mean, inv_std)
    _bn_apply[_grid(x.size)](x, gamma, beta, mean, inv_std, y)


def batchnorm_forward_eval(x, gamma, beta, eps, run_mean, run_var, mean, inv_std, y):
    """y ← γ (x − r_μ)/√(r_σ² + ε) + β; mean, inv_std ← r_μ, 1/√(r_σ² + ε)."""
    _bn_stats[(x.shape[1],), (RED,)](x, eps, 0.0, False, run_mean, run_var, mean, inv_std)
    _bn_apply[_grid(x.size)](x, gamma, beta, mean, inv_std, y)


def _bn_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, train):
    _bn_sums[(x.shape[1],), (RED,)](dy, x, mean, inv_std, dgamma, dbeta)
    _bn_dx[_grid(x.size)](dy, x, gamma, mean, inv_std, dgamma, dbeta, train, dx)


def batchnorm_backward_train(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta):
    """dx, dγ, dβ of training-mode BN given dy (mean, inv_std from the forward); dx may BE dy."""
    _bn_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, True)


def batchnorm_backward_eval(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta):
    """dx = γ dy/√(r_σ² + ε), dγ = Σ dy x̂, dβ = Σ dy; dx may BE dy."""
    _bn_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, False)


# ---------------------------------------------------------------------------------- dense, loss
_DUMMY: dict = {}


def _dummies(dtype):
    key = np.dtype(dtype).name
    if key not in _DUMMY:
        _DUMMY[key] = (cuda.device_array(1, dtype), cuda.device_array((1, 1), dtype))
    return _DUMMY[key]


def dense_forward(a, w, b, has_bias, z):
    """z ← a wᵀ (+ b iff ``has_bias``). a (n, in), w (out, in), z (n, out)."""
    vec, H = _dummies(z.dtype)
    grid, block = dk.gemm_grid(z.shape[0], z.shape[1])
    dk.gemm_kernel(z.dtype)[grid, block](a, w, z, b if has_bias else vec, H, 0, 1, int(has_bias), ACT_IDENTITY, 0,
                                         ACT_IDENTITY, 0)


def dense_backward(a, w, dz, dx, dw, db, has_bias, need_dx):
    """dw ← dzᵀ a, db ← Σ_rows dz (iff ``has_bias``, fused in the GEMM), dx ← dz w (iff ``need_dx``)."""
    vec, H = _dummies(dw.dtype)
    gemm = dk.gemm_kernel(dw.dtype)
    grid, block = dk.gemm_grid(dw.shape[0], dw.shape[1])
    gemm[grid, block](dz, a, dw, db if has_bias else vec, H, 1, 0, 0, ACT_IDENTITY, 0, ACT_IDENTITY, int(has_bias))
    if need_dx:
        grid, block = dk.gemm_grid(dx.shape[0], dx.shape[1])
        gemm[grid, block](dz, w, dx, vec, H, 0, 0, 0, ACT_IDENTITY, 0, ACT_IDENTITY, 0)


@cuda.jit
def _loss(Z, y, D, scale, loss, acc):
    i = cuda.grid(1)
    if i < y.shape[0]:
        if y[i] < 0 or y[i] >= Z.shape[1]:
            acc[3] = 1.0
            return
        value, correct = _row_loss_grad(Z, i, y[i], loss, D, scale)
        cuda.atomic.add(acc, 0, value)
        if correct:
            cuda.atomic.add(acc, 1, 1.0)


def loss_grad(Z, y, D, scale, loss, acc):
    """acc[0] += Σ_rows loss, acc[1] += #(first argmax = label); D ← scale · ∂loss/∂Z (D may have 0 rows).

    acc (≥ 4,) float64; a label outside [0, K) sets acc[3] = 1 and its row is skipped.
    """
    _loss[_grid(y.shape[0])](Z, y, D, scale, loss, acc)


@cuda.jit
def _nonfinite(a, acc, slot):
    t = cuda.grid(1)
    if t < a.size and not math.isfinite(a[t]):
        acc[slot] = 1.0


def flag_nonfinite(a, acc, slot):
    """acc[slot] ← 1 if some entry of a is NaN or ±inf (left unchanged otherwise)."""
    _nonfinite[_grid(a.size)](_flat(a), acc, slot)
