"""numba kernels of the CPU backend, dense part: BLAS GEMM, forward pass, loss, backward pass.

Plain ``@njit`` functions on flat arrays, no validation (the checked API is
:mod:`simulations.nn.train`). Matrix products call BLAS ``sgemm``/``dgemm`` (scipy's bundled
OpenBLAS, through numba's ``numba_xxgemm`` helper) with the full ``C ← α op(A) op(B) + β C``
form (:func:`gemm`), so that the training chunk (:mod:`simulations.nn.backends.cpu_kernels`)
can fold the SGD update into the weight-gradient product.

Network (:mod:`simulations.nn.model`): z_l = a_{l−1} W_lᵀ + b_l, a_l = φ(z_l), logits z_L.
Backpropagation (Rumelhart, Hinton & Williams 1986, Nature): δ_L = ∂(mean loss)/∂z_L,
∂L/∂W_l = δ_lᵀ a_{l−1}, ∂L/∂b_l = Σ_batch δ_l, δ_{l−1} = (δ_l W_l) ⊙ φ'(z_{l−1}), φ' read from
the stored activation. φ, φ' and the per-row losses are :mod:`simulations.nn.backends.pointwise`,
shared with the CUDA kernels.

Layout: activations of layer l (1..L) live in ``acts[aoff[l-1] : aoff[l-1] + nb·d_l]``
viewed as (nb, d_l); parameters as in :class:`simulations.nn.model.Params`.
"""
from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import check_blas_return, ensure_blas, get_blas_kind

from simulations._core.codes import ACT_IDENTITY, ACT_RELU, ACT_SOFTPLUS, ACT_TANH
from simulations.nn.backends.pointwise import activation, activation_backward, row_loss_grad

__all__ = ["gemm", "act_grad", "act_grad_colsum", "loss_delta", "forward_into", "loss_grad_kernel"]

ensure_blas()

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast math without nnan/ninf: NaN checks stay valid
_FM = FASTMATH


@intrinsic
def _gemm_cm(typingctx, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Column-major BLAS xGEMM: C ← alpha op(A) op(B) + beta C (transa/transb: 0 = 'n', else 't')."""
    dtype = c.dtype
    sig = types.void(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, sig, args):
        ll_char = ir.IntType(8)
        ll_void_p = ll_char.as_pointer()
        intp_t = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.IntType(32), [ll_char, ll_char, ll_char, intp_t, intp_t, intp_t,
                                                ll_void_p, ll_void_p, intp_t, ll_void_p, intp_t, ll_void_p,
                                                ll_void_p, intp_t])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        (ta, tb, mm, nn, kk, al, aa, la, bb, lb, be, cc, lc) = args
        st = sig.args

        def as_trans(v, ty):
            iv = context.cast(builder, v, ty, types.intp)
            isz = builder.icmp_signed("!=", iv, ir.Constant(intp_t, 0))
            return builder.select(isz, ir.Constant(ll_char, ord("t")), ir.Constant(ll_char, ord("n")))

        def as_intp(v, ty):
            return context.cast(builder, v, ty, types.intp)

        def data(v, ty):
            return builder.bitcast(context.make_array(ty)(context, builder, v).data, ll_void_p)

        alpha_slot = cgutils.alloca_once_value(builder, context.cast(builder, al, st[5], dtype))
        beta_slot = cgutils.alloca_once_value(builder, context.cast(builder, be, st[10], dtype))
        kind = ir.Constant(ll_char, ord(get_blas_kind(dtype)))
        res = builder.call(fn, (kind, as_trans(ta, st[0]), as_trans(tb, st[1]), as_intp(mm, st[2]),
                                as_intp(nn, st[3]), as_intp(kk, st[4]), builder.bitcast(alpha_slot, ll_void_p),
                                data(aa, st[6]), as_intp(la, st[7]), data(bb, st[8]), as_intp(lb, st[9]),
                                builder.bitcast(beta_slot, ll_void_p), data(cc, st[11]), as_intp(lc, st[12])))
        check_blas_return(context, builder, res)
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(cache=True)
def gemm(ta, tb, alpha, A, B, beta, C):
    """Row-major C (M, N) ← alpha op(A) op(B) + beta C for C-contiguous 2-D A, B, C.

    op(X) = Xᵀ when the flag is true. Row-major C is column-major Cᵀ = op(B)ᵀ op(A)ᵀ,
    so BLAS gets B's memory first (transposed iff ``tb``) and A's second.

    Jitted callers pass the flags as ``np.bool_(True)`` / ``np.bool_(False)``: a bare constant is
    typed ``Literal[bool]`` and would compile one copy of this function per combination of flags.
    """
    M = C.shape[0]
    N = C.shape[1]
    K = A.shape[0] if ta else A.shape[1]
    if M == 0 or N == 0:
        return
    _gemm_cm(tb, ta, N, M, K, alpha, B, B.shape[1], A, A.shape[1], beta, C, C.shape[1])


# ------------------------------------------------------------------------------------------
# small fused passes (the per-element arithmetic is :mod:`simulations.nn.backends.pointwise`)
# ------------------------------------------------------------------------------------------
@nb.njit(cache=True, fastmath=_FM, inline="always")
def _bias_act(Z, b, has_bias, act):
    """Z ← φ(Z + b) in place (rows of Z).

    One loop per activation, each calling :func:`activation` with a constant code, so the
    branch on ``act`` is taken once per row, not per element.
    """
    n, d = Z.shape
    for r in range(n):
        z = Z[r]
        if act == ACT_RELU:
            for j in range(d):
                z[j] = activation(z[j] + b[j] if has_bias else z[j], ACT_RELU)
        elif act == ACT_TANH:
            for j in range(d):
                z[j] = activation(z[j] + b[j] if has_bias else z[j], ACT_TANH)
        elif act == ACT_SOFTPLUS:
            for j in range(d):
                z[j] = activation(z[j] + b[j] if has_bias else z[j], ACT_SOFTPLUS)
        elif has_bias:
            for j in range(d):
                z[j] = z[j] + b[j]


@nb.njit(cache=True, fastmath=_FM, inline="always")
def act_grad_colsum(D, A, act, gb):
    """D ← D ⊙ φ'(A) and gb ← column sums of the result (the next layer's bias gradient)."""
    n, d = D.shape
    for j in range(d):
        gb[j] = 0.0
    for r in range(n):
        dr = D[r]
        ar = A[r]
        if act == ACT_RELU:
            for j in range(d):
                v = activation_backward(dr[j], ar[j], ACT_RELU)
                dr[j] = v
                gb[j] += v
        elif act == ACT_TANH:
            for j in range(d):
                v = activation_backward(dr[j], ar[j], ACT_TANH)
                dr[j] = v
                gb[j] += v
        elif act == ACT_SOFTPLUS:
            for j in range(d):
                v = activation_backward(dr[j], ar[j], ACT_SOFTPLUS)
                dr[j] = v
                gb[j] += v
        else:
            for j in range(d):
                gb[j] += dr[j]


@nb.njit(cache=True, fastmath=_FM, inline="always")
def act_grad(D, A, act):
    """D ← D ⊙ φ'(A), φ' expressed through the activation a = φ(z)."""
    n, d = D.shape
    for r in range(n):
        dr = D[r]
        ar = A[r]
        if act == ACT_RELU:
            for j in range(d):
                dr[j] = activation_backward(dr[j], ar[j], ACT_RELU)
        elif act == ACT_TANH:
            for j in range(d):
                dr[j] = activation_backward(dr[j], ar[j], ACT_TANH)
        elif act == ACT_SOFTPLUS:
            for j in range(d):
                dr[j] = activation_backward(dr[j], ar[j], ACT_SOFTPLUS)


@nb.njit(cache=True)
def loss_delta(Z, y, loss, D, inv_b):
    """Batch loss sum and correct count of the logits Z (n, K); D ← ∂(mean loss)/∂Z (D may be 0-row: loss only)."""
    total = 0.0
    correct = 0
    for r in range(Z.shape[0]):
        row, ok = row_loss_grad(Z, r, y[r], loss, D, inv_b)
        total += row
        correct += ok
    return total, correct


@nb.njit(cache=True)
def forward_into(sizes, offsets, aoff, act, has_bias, params, Xb, acts, n):
    """Forward pass of the first n rows of Xb; returns nothing (activations in ``acts``)."""
    L = sizes.shape[0] - 1
    for l in range(L):
        din = sizes[l]
        dout = sizes[l + 1]
        W = params[offsets[l, 0]:offsets[l, 1]].reshape((dout, din))
        b = params[offsets[l, 1]:offsets[l, 2]]
        if l == 0:
            A = Xb[:n]
        else:
            A = acts[aoff[l - 1]:aoff[l - 1] + n * din].reshape((n, din))
        Z = acts[aoff[l]:aoff[l] + n * dout].reshape((n, dout))
        gemm(np.bool_(False), np.bool_(True), 1.0, A, W, 0.0, Z)
        _bias_act(Z, b, has_bias, act if l < L - 1 else ACT_IDENTITY)


@nb.njit(cache=True)
def loss_grad_kernel(sizes, offsets, aoff, act, loss, has_bias, params, X, y, acts, d0, d1, grad):
    """Mean loss over the rows of X and its gradient (flat, layout of params) — for checks."""
    L = sizes.shape[0] - 1
    n = X.shape[0]
    K = sizes[L]
    forward_into(sizes, offsets, aoff, act, has_bias, params, X, acts, n)
    Z = acts[aoff[L - 1]:aoff[L - 1] + n * K].reshape((n, K))
    D = d0[:n * K].reshape((n, K))
    total, _ = loss_delta(Z, y, loss, D, 1.0 / n)
    cur = d0
    nxt = d1
    for l in range(L - 1, -1, -1):
        din = sizes[l]
        dout = sizes[l + 1]
        W = params[offsets[l, 0]:offsets[l, 1]].reshape((dout, din))
        D = cur[:n * dout].reshape((n, dout))
        if l == 0:
            A = X
        else:
            A = acts[aoff[l - 1]:aoff[l - 1] + n * din].reshape((n, din))
        gW = grad[offsets[l, 0]:offsets[l, 1]].reshape((dout, din))
        gemm(np.bool_(True), np.bool_(False), 1.0, D, A, 0.0, gW)
        if has_bias:
            gb = grad[offsets[l, 1]:offsets[l, 2]]
            gb[:] = 0.0
            for r in range(n):
                for j in range(dout):
                    gb[j] += D[r, j]
        if l > 0:
            Dn = nxt[:n * din].reshape((n, din))
            gemm(np.bool_(False), np.bool_(False), 1.0, D, W, 0.0, Dn)
            act_grad(Dn, A, act)
            tmp = cur
            cur = nxt
            nxt = tmp
    return total / n


