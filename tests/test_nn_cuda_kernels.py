"""Device kernels of the neural core vs numpy references (CUDA simulator, tiny sizes).

The GEMM with its fused epilogues (bias, activation, activation derivative, bias gradient), the
per-sample loss kernel, and the parameter update + α-stable noise kernels of the training step.
Oracles: numpy matrix products and straightforward numpy formulas written in this file; the CPU
streams for the noise draws.
"""
from __future__ import annotations

import math

import _cuda_setup  # noqa: F401  (sets NUMBA_ENABLE_CUDASIM before numba.cuda is imported)
import numba as nb
import numpy as np
import pytest

SIM = _cuda_setup.require()
pytestmark = _cuda_setup.PYTESTMARK

from numba import cuda  # noqa: E402

from simulations._core.codes import (  # noqa: E402
    ACT_IDENTITY,
    ACT_RELU,
    ACT_SOFTPLUS,
    ACT_TANH,
    LOSS_CROSS_ENTROPY,
    LOSS_SQUARED,
    NOISE_ELLIPTICAL,
    NOISE_ENTRY,
    NOISE_NEURON,
    NOISE_NONE,
)
from simulations.nn.backends import cuda_dense as dk  # noqa: E402
from simulations.nn.backends import cuda_kernels as mk  # noqa: E402
from simulations.stable import cpu as sk  # noqa: E402
from simulations.stable.streams import init_states  # noqa: E402
from simulations.stable.streams import normal as cpu_normal  # noqa: E402

# Same uniforms bit for bit; the CMS transform is the same formula, evaluated with libm (simulator)
# or libdevice (GPU) sin/log/exp on the device and partly with the CPU kernels' own polynomials:
# a few ulp per operation, amplified at most ~1e3 times near the formula's singular points.
RTOL_TRANSC = 1e-12 if SIM else 1e-10



def _act_np(z, act):
    if act == ACT_RELU:
        return np.maximum(z, 0)
    if act == ACT_TANH:
        return np.tanh(z)
    if act == ACT_SOFTPLUS:
        return np.logaddexp(0, z)
    return z


@pytest.mark.parametrize(
    "M,N,K,ta,tb,act,dtype",
    [
        (8, 16, 24, 0, 0, ACT_RELU, np.float32),
        (70, 5, 20, 1, 0, ACT_IDENTITY, np.float32),  # two blocks along M, K not a multiple of BK
        (9, 66, 17, 0, 1, ACT_TANH, np.float64),  # two blocks along N
        (3, 4, 33, 1, 1, ACT_SOFTPLUS, np.float64),  # three K slabs
    ],
)
def test_gemm_matches_numpy(M, N, K, ta, tb, act, dtype):
    rng = np.random.default_rng(M * 1000 + N)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    b = rng.standard_normal(N).astype(dtype)
    C0 = rng.standard_normal((M, N)).astype(dtype)
    accumulate = int(act == ACT_IDENTITY)
    C = cuda.to_device(C0)
    grid, block = dk.gemm_grid(M, N)
    dummy = cuda.device_array((1, 1), dtype)
    dk.gemm_kernel(dtype)[grid, block](cuda.to_device(A), cuda.to_device(B), C, cuda.to_device(b), dummy, ta, tb, 1,
                                       act, accumulate, 0, 0)
    ref = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64) + b + accumulate * C0
    ref = _act_np(ref, act)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(C.copy_to_host(), ref, rtol=tol, atol=tol * math.sqrt(K))
    # fused backward extras: C = (op(A) op(B)) ⊙ φ'(z) given H = φ(z), and row sums of op(A)
    Z = rng.standard_normal((M, N))
    H = _act_np(Z, act).astype(dtype)
    rs = cuda.device_array(M, dtype)
    dk.gemm_kernel(dtype)[grid, block](cuda.to_device(A), cuda.to_device(B), C, rs, cuda.to_device(H), ta, tb, 0,
                                       ACT_IDENTITY, 0, act, 1)
    dact = {ACT_RELU: (Z > 0) * 1.0, ACT_TANH: 1 - np.tanh(Z) ** 2, ACT_SOFTPLUS: 1 / (1 + np.exp(-Z)),
            ACT_IDENTITY: np.ones_like(Z)}[act]
    ref = ((A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)) * dact
    np.testing.assert_allclose(C.copy_to_host(), ref, rtol=tol * 10, atol=tol * math.sqrt(K) * 10)
    np.testing.assert_allclose(rs.copy_to_host(), (A.T if ta else A).astype(np.float64).sum(1), rtol=tol,
                               atol=tol * math.sqrt(K))


def _gemm(A, B, ta, tb, vec, H, act, dact, rowsum, M, N):
    C = cuda.device_array((M, N), A.dtype)
    grid, block = dk.gemm_grid(M, N)
    dk.gemm_kernel(A.dtype)[grid, block](cuda.to_device(A), cuda.to_device(B), C, vec, cuda.to_device(H), ta, tb,
                                         int(act is not None), ACT_IDENTITY if act is None else act, 0, dact, rowsum)
    return C.copy_to_host()


def test_bias_act_and_backward_match_numpy():
    # the GEMM epilogue on op(A) = I: C = φ(Z + b), then C = G ⊙ φ'(Z + b) read through H = φ(Z + b),
    # then the bias gradient Σ_batch G as the row sums of op(A) = Gᵀ
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((5, 7))
    b = rng.standard_normal(7)
    G = rng.standard_normal((5, 7))
    eye = np.eye(5)
    dummy_h = np.zeros((1, 1))
    for act, dact in [(ACT_RELU, lambda z: (z > 0) * 1.0), (ACT_TANH, lambda z: 1 - np.tanh(z) ** 2),
                      (ACT_SOFTPLUS, lambda z: 1 / (1 + np.exp(-z)))]:
        H = _gemm(eye, Z, 0, 0, cuda.to_device(b), dummy_h, act, ACT_IDENTITY, 0, 5, 7)
        np.testing.assert_allclose(H, _act_np(Z + b, act), rtol=1e-12)
        dH = _gemm(eye, G, 0, 0, cuda.to_device(np.zeros(1)), H, None, act, 0, 5, 7)
        np.testing.assert_allclose(dH, G * dact(Z + b), rtol=1e-10, atol=1e-14)
    db = cuda.device_array(7, np.float64)
    _gemm(G, np.zeros((5, 1)), 1, 0, db, dummy_h, None, ACT_IDENTITY, 1, 7, 1)
    np.testing.assert_allclose(db.copy_to_host(), G.sum(0), rtol=1e-12)


def _row_losses(Z, y, dZ, grad_scale, loss):
    """Per-row losses and correct flags from the real loss kernel: row i alone as step i."""
    n = Z.shape[0]
    acc = cuda.to_device(np.zeros(2))
    batch_loss = cuda.to_device(np.zeros(n))
    ctrl = cuda.to_device(np.zeros(3, np.int64))
    Zd, yd = cuda.to_device(Z), cuda.to_device(y)
    correct = np.zeros(n, np.int32)
    for i in range(n):
        before = acc.copy_to_host()[1]
        mk.loss_stats_kernel[1, 8](Zd[i:i + 1], yd[i:i + 1], dZ[i:i + 1], grad_scale, loss, acc, batch_loss, ctrl, i)
        correct[i] = int(acc.copy_to_host()[1] - before)
    return batch_loss.copy_to_host(), correct


def test_softmax_xent_and_squared_loss_match_numpy():
    rng = np.random.default_rng(2)
    Z = (3 * rng.standard_normal((6, 4))).astype(np.float32)
    y = rng.integers(0, 4, 6).astype(np.int64)
    dZ = cuda.device_array((6, 4), np.float32)
    loss, correct = _row_losses(Z, y, dZ, np.float32(1.0 / 6), LOSS_CROSS_ENTROPY)
    z = Z.astype(np.float64)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(loss, -logp[np.arange(6), y], rtol=1e-5)
    np.testing.assert_allclose(dZ.copy_to_host(), (np.exp(logp) - onehot) / 6, atol=1e-6)
    assert np.array_equal(correct, (Z.argmax(1) == y).astype(np.int32))
    loss, correct = _row_losses(Z, y, dZ, np.float32(0.5), LOSS_SQUARED)
    np.testing.assert_allclose(loss, 0.5 * ((z - onehot) ** 2).sum(1), rtol=1e-5)
    np.testing.assert_allclose(dZ.copy_to_host(), 0.5 * (z - onehot), rtol=1e-6)


# ---------------------------------------------------------------------------------------- SGD
@nb.njit
def _ref_noise(states, rows, cols, kind, alpha, mask):
    """ξ of the documented noise kinds, row j from stream j: ``entry`` one SαS draw per unmasked entry in
    column order; ``neuron`` one SαS draw per row; ``elliptical`` R_j = √(2A_j) times N(0, 1) draws."""
    out = np.zeros((rows, cols))
    for j in range(rows):
        if kind == NOISE_NEURON:
            out[j, :] = sk.sas_draw(states, j, alpha)
        elif kind == NOISE_ELLIPTICAL:
            r = sk.sub_gaussian_factor_draw(states, j, alpha)
            for i in range(cols):
                out[j, i] = r * cpu_normal(states, j)
        else:
            for i in range(cols):
                if mask[j * cols + i] != 0:
                    out[j, i] = sk.sas_draw(states, j, alpha)
    return out


@pytest.mark.parametrize("mode", [NOISE_NONE, NOISE_ENTRY, NOISE_NEURON, NOISE_ELLIPTICAL])
def test_fused_sgd_step_matches_reference(mode):
    # the update and noise kernels of the training step (flat_update_kernel, then row_noise_kernel)
    rng = np.random.default_rng(3)
    rows, cols = 3, 5
    n = rows * cols
    W = rng.standard_normal(n)
    G = rng.standard_normal(n)
    V = rng.standard_normal(n)
    mask = (rng.random(n) < 0.7).astype(np.uint8)
    lr, mu, wd, sigma, alpha = 0.1, 0.9, 1e-3, 0.05, 1.4
    st = init_states(rows, 11)
    d = {k: cuda.to_device(v) for k, v in dict(W=W, G=G, V=V, mask=mask).items()}
    ctrl = cuda.to_device(np.zeros(3, np.int64))
    mk.flat_update_kernel[(n + 31) // 32, 32](d["W"], d["G"], d["V"], d["mask"], cuda.to_device(np.zeros(1)), lr, mu,
                                              wd, 1, 1, 0, cuda.to_device(np.zeros(1)), 1.0, 0.0, ctrl, 0)
    if mode != NOISE_NONE:
        row_off = cuda.to_device(cols * np.arange(rows, dtype=np.int64))
        row_len = cuda.to_device(np.full(rows, cols, np.int64))
        mk.row_noise_kernel[1, 8](d["W"], d["mask"], cuda.to_device(st.copy()), row_off, row_len, sigma, lr, alpha,
                                  mode, 1, 0, ctrl, 0)
    W1, V1 = d["W"].copy_to_host(), d["V"].copy_to_host()
    # reference: written out from the docstrings, noise from the CPU streams
    m = mask.astype(np.float64)
    v_ref = (mu * V + G + wd * W) * m
    w_ref = (W - lr * v_ref) * m
    if mode != NOISE_NONE:
        w_ref = w_ref + sigma * lr ** (1 / alpha) * _ref_noise(st.copy(), rows, cols, mode, alpha, mask).ravel()
    w_ref = w_ref * m
    np.testing.assert_allclose(V1, v_ref, rtol=1e-13)
    np.testing.assert_allclose(W1, w_ref, rtol=max(RTOL_TRANSC, 1e-13), atol=1e-15)
    assert np.all(W1[mask == 0] == 0)


@pytest.mark.parametrize("has_mask", [0, 1])
def test_float32_entry_noise_draws_the_cpu_float32_stream(has_mask):
    # float32 θ (single = 1): one stream output per draw, computed in float32, as the CPU's float32 kernel
    # (cpu_noise.noise_entry on float32 weights); reference: the CPU's scalar float32 draws
    from simulations.nn.backends.cpu_noise import noise_entry
    from simulations.stable.f32 import sas32_draw

    rng = np.random.default_rng(5)
    rows, cols, sigma, lr, alpha = 4, 9, 0.05, 0.1, 1.6
    mask = (rng.random(rows * cols) < 0.7).astype(np.uint8) if has_mask else np.ones(rows * cols, np.uint8)
    W = rng.standard_normal(rows * cols).astype(np.float32) * mask
    st = init_states(rows, 8)
    d_w = cuda.to_device(W.copy())
    d_st = cuda.to_device(st.copy())
    mk.row_noise_kernel[1, 8](d_w, cuda.to_device(mask), d_st, cuda.to_device(cols * np.arange(rows, dtype=np.int64)),
                              cuda.to_device(np.full(rows, cols, np.int64)), sigma, lr, alpha, NOISE_ENTRY, has_mask, 1,
                              cuda.to_device(np.zeros(3, np.int64)), 0)
    amp = sigma * lr ** (1 / alpha)
    ref, s_ref = W.astype(np.float64).reshape(rows, cols), st.copy()
    for j in range(rows):
        for i in range(cols):
            if mask[j * cols + i]:
                ref[j, i] += amp * float(sas32_draw(s_ref, j, alpha))
    got = d_w.copy_to_host().reshape(rows, cols)
    assert np.array_equal(d_st.copy_to_host(), s_ref)        # one output per unmasked entry
    # device float32 libm (or the simulator's float64 libm on float32 inputs) vs the CPU's: a few float32 ulp
    np.testing.assert_allclose(got, ref.astype(np.float32), rtol=3e-6, atol=1e-8)
    Wc, sc = W.reshape(rows, cols).copy(), st.copy()
    noise_entry(Wc, mask.reshape(rows, cols) if has_mask else mask[:0].reshape(0, 0), bool(has_mask), sc, 0, alpha,
                amp, np.empty((1, 3 * cols)))
    np.testing.assert_allclose(got, Wc, rtol=3e-6, atol=1e-8)  # and the CPU training kernel itself
    assert np.array_equal(sc, s_ref)
