"""CUDA kernel of the dense neural core: a tiled GEMM with the bias, the activation, its derivative
and the bias gradient fused into it.

A plain ``numba.cuda`` kernel on device arrays (no validation: see
:mod:`simulations.nn.backends.cuda` for the checked entry points). Layout: row-major; a dense
layer computes Z = A Wᵀ + b with A (batch, in), W (out, in) as in :class:`simulations.nn.model.Params`
(``tb = 1``), b (out,). φ and δ ⊙ φ' are the device compilations of
:func:`simulations.nn.backends.pointwise.activation` / ``activation_backward`` (the CPU kernels
compile the same source); activation codes are those of :mod:`simulations._core.codes`.

GEMM. C = act(op(A) op(B) + b) (optionally + C), op = identity or transpose. Classical
shared-memory tiling with register blocking (Volkov & Demmel 2008; the "2D blocktiling" of
the CUTLASS/MAGMA SGEMM kernels): a 16×16 thread block computes a 64×64 tile of C, each thread a
4×4 sub-tile kept in registers; A and B are staged through shared memory in 64×16 / 16×64
slabs. Accumulation is in the output dtype (float32 in training, float64 for gradient checks).
"""
from __future__ import annotations

import numba
from numba import cuda

from simulations._core.codes import ACT_IDENTITY
from simulations.nn.backends import pointwise

__all__ = ["TPB", "BM", "BN", "BK", "activation", "activation_backward", "gemm_kernel", "gemm_grid"]

#: the device compilations of the very source of the CPU kernels' φ and δ ⊙ φ'
activation = cuda.jit(device=True, inline=True)(pointwise.activation.py_func)
activation_backward = cuda.jit(device=True, inline=True)(pointwise.activation_backward.py_func)


def _simulator() -> bool:
    try:
        from numba.cuda.core import config  # noqa: PLC0415

        return bool(config.ENABLE_CUDASIM)
    except ImportError:  # pragma: no cover
        return bool(numba.config.ENABLE_CUDASIM)


# On the simulator (one Python thread per CUDA thread) the block shrinks to 4×4 threads
# (16×16 tiles): the same code with smaller constants, ~16× faster to simulate.
TX = 4 if _simulator() else 16  # threads per block along N (columns of C)
TY = TX  # threads per block along M (rows of C)
RM = 4  # rows of C per thread
RN = 4  # columns of C per thread
BM = TY * RM  # 64 (16 on the simulator)
BN = TX * RN  # 64 (16 on the simulator)
BK = 16
TPB = TX * TY  # 256 threads per block (16 on the simulator)


def _make_gemm(dtype):
    @cuda.jit
    def gemm(A, B, C, vec, H, ta, tb, has_bias, act, accumulate, dact, rowsum):
        """C[M,N] = act(op(A)[M,K] @ op(B)[K,N] + vec) (+ C if ``accumulate``), with fused extras.

        ``ta``/``tb`` = 1 read A/B transposed (A is then stored (K, M), B stored (N, K)).
        ``has_bias``: add vec[n] (the bias) before the activation ``act``.
        ``dact`` ≠ ACT_IDENTITY: multiply by the derivative of activation ``dact`` written through its output
        H[M, N] (backward pass: dA = (dZ W) ⊙ φ'(Z_prev)).
        ``rowsum`` = 1: also write vec[m] = Σ_k op(A)[m, k] (the bias gradient Σ_batch dZ when
        op(A) = dZᵀ); done by the first block column, vec must then not be a bias.
        """
        As = cuda.shared.array((BK, BM), dtype)  # As[k, m] = op(A)[m0 + m, k0 + k]
        Bs = cuda.shared.array((BK, BN), dtype)  # Bs[k, n] = op(B)[k0 + k, n0 + n]
        acc = cuda.local.array((RM, RN), dtype)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * TX + tx
        m0 = cuda.blockIdx.y * BM
        n0 = cuda.blockIdx.x * BN
        M = C.shape[0]
        N = C.shape[1]
        K = A.shape[0] if ta else A.shape[1]
        for r in range(RM):
            for c in range(RN):
                acc[r, c] = 0
        do_rs = rowsum != 0 and tx == 0 and cuda.blockIdx.x == 0
        rs0 = acc[0, 0]
        rs1 = acc[0, 0]
        rs2 = acc[0, 0]
        rs3 = acc[0, 0]
        for k0 in range(0, K, BK):
            # stage op(A)[m0:m0+BM, k0:k0+BK]: BM*BK = 1024 values, 4 per thread
            for p in range(tid, BM * BK, TPB):
                if ta:  # A stored (K, M): consecutive threads read consecutive m
                    kk = p // BM
                    mm = p % BM
                    gm = m0 + mm
                    gk = k0 + kk
                    As[kk, mm] = A[gk, gm] if (gm < M and gk < K) else 0
                else:  # A stored (M, K): consecutive threads read consecutive k
                    mm = p // BK
                    kk = p % BK
                    gm = m0 + mm
                    gk = k0 + kk
                    As[kk, mm] = A[gm, gk] if (gm < M and gk < K) else 0
            for p in range(tid, BK * BN, TPB):
                if tb:  # B stored (N, K)
                    nn = p // BK
                    kk = p % BK
                    gn = n0 + nn
                    gk = k0 + kk
                    Bs[kk, nn] = B[gn, gk] if (gn < N and gk < K) else 0
                else:  # B stored (K, N)
                    kk = p // BN
                    nn = p % BN
                    gn = n0 + nn
                    gk = k0 + kk
                    Bs[kk, nn] = B[gk, gn] if (gn < N and gk < K) else 0
            cuda.syncthreads()
            for kk in range(BK):
                a0 = As[kk, ty]
                a1 = As[kk, ty + TY]
                a2 = As[kk, ty + 2 * TY]
                a3 = As[kk, ty + 3 * TY]
                b0 = Bs[kk, tx]
                b1 = Bs[kk, tx + TX]
                b2 = Bs[kk, tx + 2 * TX]
                b3 = Bs[kk, tx + 3 * TX]
                acc[0, 0] += a0 * b0
                acc[0, 1] += a0 * b1
                acc[0, 2] += a0 * b2
                acc[0, 3] += a0 * b3
                acc[1, 0] += a1 * b0
                acc[1, 1] += a1 * b1
                acc[1, 2] += a1 * b2
                acc[1, 3] += a1 * b3
                acc[2, 0] += a2 * b0
                acc[2, 1] += a2 * b1
                acc[2, 2] += a2 * b2
                acc[2, 3] += a2 * b3
                acc[3, 0] += a3 * b0
                acc[3, 1] += a3 * b1
                acc[3, 2] += a3 * b2
                acc[3, 3] += a3 * b3
                if do_rs:
                    rs0 += a0
                    rs1 += a1
                    rs2 += a2
                    rs3 += a3
            cuda.syncthreads()
        # epilogue: thread (ty, tx) owns rows m0 + ty + r*TY, columns n0 + tx + c*TX (strided:
        # consecutive threads write consecutive columns -> coalesced stores)
        for r in range(RM):
            gm = m0 + ty + r * TY
            if gm < M:
                for c in range(RN):
                    gn = n0 + tx + c * TX
                    if gn < N:
                        v = acc[r, c]
                        if accumulate:
                            v += C[gm, gn]
                        if has_bias:
                            v += vec[gn]
                        if act != ACT_IDENTITY:
                            v = activation(v, act)
                        if dact != ACT_IDENTITY:
                            v = activation_backward(v, H[gm, gn], dact)
                        C[gm, gn] = v
        if do_rs:
            gm = m0 + ty
            if gm < M:
                vec[gm] = rs0
            if gm + TY < M:
                vec[gm + TY] = rs1
            if gm + 2 * TY < M:
                vec[gm + 2 * TY] = rs2
            if gm + 3 * TY < M:
                vec[gm + 3 * TY] = rs3

    return gemm


_GEMM = {}


def gemm_kernel(dtype):
    """The GEMM kernel specialised for ``dtype`` (numpy float32 or float64)."""
    import numpy as np

    key = np.dtype(dtype).name
    if key not in _GEMM:
        _GEMM[key] = _make_gemm(numba.from_dtype(np.dtype(dtype)))
    return _GEMM[key]


def gemm_grid(M: int, N: int):
    """Launch configuration (blocks, threads) for an M×N output."""
    return ((N + BN - 1) // BN, (M + BM - 1) // BM), (TX, TY)
