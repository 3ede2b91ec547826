"""CUDA kernels of the dense neural core: GEMM (+ bias + activation), softmax cross-entropy,
activation backward, bias gradient, and the fused SGD/momentum + mask + α-stable noise update.

All kernels are plain ``numba.cuda`` kernels on device arrays (no validation: see
:mod:`simulations.nn.backends.cuda` for the checked entry points). Layout: row-major,
a dense layer computes Z = X W + b with X (batch, in), W (in, out), b (out,).

GEMM. C = act(op(A) op(B) + b) (optionally + C), op = identity or transpose. Classical
shared-memory tiling with register blocking (Volkov & Demmel 2008; the "2D blocktiling" of
the CUTLASS/MAGMA SGEMM kernels): a 16×16 thread block computes a 64×64 tile of C, each thread a
4×4 sub-tile kept in registers; A and B are staged through shared memory in 64×16 / 16×64
slabs. Accumulation is in the output dtype (float32 in training, float64 for gradient checks).
"""
from __future__ import annotations

import math

import numba
from numba import cuda

from simulations.stable.cuda import normal, sas_draw, sub_gaussian_factor_draw

__all__ = [
    "TPB",
    "BM",
    "BN",
    "BK",
    "ACT_IDENTITY",
    "ACT_RELU",
    "ACT_TANH",
    "ACT_SOFTPLUS",
    "squared_loss_kernel",
    "gemm_kernel",
    "gemm_grid",
    "bias_act_kernel",
    "act_backward_kernel",
    "colsum_kernel",
    "softmax_xent_kernel",
    "NOISE_NONE",
    "NOISE_IID",
    "NOISE_NEURON",
    "NOISE_SUBGAUSS",
    "sgd_step_kernel",
    "neuron_factor_kernel",
]

ACT_IDENTITY = 0
ACT_RELU = 1
ACT_TANH = 2
ACT_SOFTPLUS = 3  # log(1 + e^z), computed as max(z, 0) + log1p(e^{-|z|})


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
        ``dact`` ≠ 0: multiply by the derivative of activation ``dact`` written through its output
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
                        if act == ACT_RELU:
                            v = max(v, 0)
                        elif act == ACT_TANH:
                            v = math.tanh(v)
                        elif act == ACT_SOFTPLUS:
                            v = max(v, 0) + math.log1p(math.exp(-abs(v)))
                        if dact == ACT_RELU:
                            if H[gm, gn] <= 0:
                                v = 0
                        elif dact == ACT_TANH:
                            h = H[gm, gn]
                            v = v * (1 - h * h)
                        elif dact == ACT_SOFTPLUS:
                            v = v * -math.expm1(-H[gm, gn])
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


@cuda.jit
def bias_act_kernel(Z, bias, H, act):
    """H[i, j] = act(Z[i, j] + bias[j]) (H may alias Z)."""
    i, j = cuda.grid(2)
    if i < Z.shape[0] and j < Z.shape[1]:
        v = Z[i, j] + bias[j]
        if act == ACT_RELU:
            v = max(v, 0)
        elif act == ACT_TANH:
            v = math.tanh(v)
        elif act == ACT_SOFTPLUS:
            v = max(v, 0) + math.log1p(math.exp(-abs(v)))
        H[i, j] = v


@cuda.jit
def act_backward_kernel(H, dH, act):
    """dH ← dH ⊙ act'(Z) written through H = act(Z): ReLU' = 1[H > 0], tanh' = 1 − H²,
    softplus' = logistic(z) = 1 − e^{−H} (since e^H = 1 + e^z)."""
    i, j = cuda.grid(2)
    if i < H.shape[0] and j < H.shape[1]:
        if act == ACT_RELU:
            if H[i, j] <= 0:
                dH[i, j] = 0
        elif act == ACT_TANH:
            h = H[i, j]
            dH[i, j] = dH[i, j] * (1 - h * h)
        elif act == ACT_SOFTPLUS:
            dH[i, j] = dH[i, j] * -math.expm1(-H[i, j])


@cuda.jit
def colsum_kernel(G, out, accumulate):
    """out[j] = Σ_i G[i, j] (+ out[j] if ``accumulate``): the bias gradient, one thread per column."""
    j = cuda.grid(1)
    if j < G.shape[1]:
        s = G[0, j] - G[0, j]
        for i in range(G.shape[0]):
            s += G[i, j]
        if accumulate:
            s += out[j]
        out[j] = s


@cuda.jit(device=True, inline=True)
def xent_row(Z, y, dZ, i, grad_scale):
    """Softmax cross-entropy of row i: returns (loss, correct) and, when dZ has row i,
    writes dZ[i] = grad_scale · (softmax(Z[i]) − e_{y_i}). Row max subtracted; argmax = first maximum."""
    C = Z.shape[1]
    m = Z[i, 0]
    am = 0
    for c in range(1, C):
        if Z[i, c] > m:
            m = Z[i, c]
            am = c
    tot = 0.0
    for c in range(C):
        tot += math.exp(Z[i, c] - m)
    yi = y[i]
    if dZ.shape[0] > i:
        inv = 1.0 / tot
        for c in range(C):
            p = math.exp(Z[i, c] - m) * inv
            if c == yi:
                p -= 1.0
            dZ[i, c] = grad_scale * p
    return math.log(tot) - (Z[i, yi] - m), 1 if am == yi else 0


@cuda.jit(device=True, inline=True)
def squared_row(Z, y, dZ, i, grad_scale):
    """Squared loss ½‖Z[i] − e_{y_i}‖² of row i: returns (loss, correct) and, when dZ has row i,
    writes dZ[i] = grad_scale · (Z[i] − e_{y_i})."""
    yi = y[i]
    m = Z[i, 0]
    am = 0
    tot = 0.0
    for c in range(Z.shape[1]):
        z = Z[i, c]
        if z > m:
            m = z
            am = c
        r = z - 1.0 if c == yi else z
        tot += r * r
        if dZ.shape[0] > i:
            dZ[i, c] = grad_scale * r
    return 0.5 * tot, 1 if am == yi else 0


@cuda.jit
def softmax_xent_kernel(Z, y, dZ, loss, correct, grad_scale):
    """Softmax cross-entropy per row, one thread per sample i (see :func:`xent_row`):
    loss[i] = logsumexp(Z[i]) − Z[i, y_i], dZ[i] = grad_scale · (p − e_{y_i}) (grad_scale = 1/batch
    for a mean loss), correct[i] = 1 if argmax Z[i] = y_i (first maximum) else 0.
    """
    i = cuda.grid(1)
    if i < Z.shape[0]:
        loss[i], correct[i] = xent_row(Z, y, dZ, i, grad_scale)


@cuda.jit
def squared_loss_kernel(Z, y, dZ, loss, correct, grad_scale):
    """Squared loss on one-hot targets, one thread per sample: loss[i] = ½‖Z[i] − e_{y_i}‖²,
    dZ[i] = grad_scale · (Z[i] − e_{y_i}), correct[i] = 1[argmax Z[i] = y_i]."""
    i = cuda.grid(1)
    if i < Z.shape[0]:
        loss[i], correct[i] = squared_row(Z, y, dZ, i, grad_scale)


NOISE_NONE = 0
NOISE_IID = 1  # one SαS draw per weight, stream = flat index of the weight
NOISE_NEURON = 2  # one SαS scalar per neuron (column j), broadcast over its incoming weights
NOISE_SUBGAUSS = 3  # sub-Gaussian SαS vector per neuron: R_j · Z_ij, Z_ij ~ N(0,1) from weight streams


@cuda.jit
def sgd_step_kernel(W, G, V, mask, states, factor, n_cols, lr, momentum, weight_decay, noise_scale, alpha,
                    has_mask, use_momentum, noise_mode):
    """Fused update of one parameter tensor viewed 1-D (length n, row-major (rows, n_cols)); one thread per entry k:

    g ← G + λW;  V ← μV + g, d = V (momentum) or d = g (plain SGD);  W ← W − η d
    W ← W + s ξ_k,  ξ_k = SαS(1) from stream k (``NOISE_IID``), factor[j] (``NOISE_NEURON``),
    factor[j] · N(0,1) from stream k (``NOISE_SUBGAUSS``), j = k mod n_cols;  W ← W ⊙ mask.

    ``s`` is the caller's noise scale (σ η^{1/α} for the Euler step of a Lévy-driven SDE, as in
    Wan et al. 2024). Masked weights stay exactly zero (the mask is applied last).
    """
    k = cuda.grid(1)
    if k < W.shape[0]:
        wk = W[k]
        g = G[k] + weight_decay * wk
        if use_momentum:
            vk = momentum * V[k] + g
            V[k] = vk
            g = vk
        wk = wk - lr * g
        if noise_mode == NOISE_IID:
            wk += noise_scale * sas_draw(states, k, alpha)
        elif noise_mode == NOISE_NEURON:
            wk += noise_scale * factor[k % n_cols]
        elif noise_mode == NOISE_SUBGAUSS:
            wk += noise_scale * factor[k % n_cols] * normal(states, k)
        if has_mask:
            wk = wk * mask[k]
        W[k] = wk


@cuda.jit
def neuron_factor_kernel(states, alpha, mode, out):
    """out[j] from stream j: SαS(1) (``NOISE_NEURON``) or the sub-Gaussian factor R = √(2A) (``NOISE_SUBGAUSS``)."""
    j = cuda.grid(1)
    if j < out.shape[0]:
        if mode == NOISE_NEURON:
            out[j] = sas_draw(states, j, alpha)
        else:
            out[j] = sub_gaussian_factor_draw(states, j, alpha)
