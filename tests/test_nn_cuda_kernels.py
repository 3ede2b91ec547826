"""Dense-layer device kernels vs numpy references (CUDA simulator, tiny sizes).

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

from simulations.nn.backends import cuda_dense as dk  # noqa: E402
from simulations.stable import cpu as sk  # noqa: E402
from simulations.stable.api import stream_rvs  # noqa: E402
from simulations.stable.streams import init_states  # noqa: E402
from simulations.stable.streams import normal as cpu_normal  # noqa: E402

# Same uniforms bit for bit; the CMS transform is the same formula, evaluated with libm (simulator)
# or libdevice (GPU) sin/log/exp on the device and partly with the CPU kernels' own polynomials:
# a few ulp per operation, amplified at most ~1e3 times near the formula's singular points.
RTOL_TRANSC = 1e-12 if SIM else 1e-10



@nb.njit
def _cpu_subgauss_factors(states, alpha, m):
    out = np.empty((states.shape[0], m))
    for i in range(states.shape[0]):
        for j in range(m):
            out[i, j] = sk.sub_gaussian_factor_draw(states, i, alpha)
    return out


def _act_np(z, act):
    if act == dk.ACT_RELU:
        return np.maximum(z, 0)
    if act == dk.ACT_TANH:
        return np.tanh(z)
    if act == dk.ACT_SOFTPLUS:
        return np.logaddexp(0, z)
    return z


@pytest.mark.parametrize(
    "M,N,K,ta,tb,act,dtype",
    [
        (8, 16, 24, 0, 0, dk.ACT_RELU, np.float32),
        (70, 5, 20, 1, 0, dk.ACT_IDENTITY, np.float32),  # two blocks along M, K not a multiple of BK
        (9, 66, 17, 0, 1, dk.ACT_TANH, np.float64),  # two blocks along N
        (3, 4, 33, 1, 1, dk.ACT_SOFTPLUS, np.float64),  # three K slabs
    ],
)
def test_gemm_matches_numpy(M, N, K, ta, tb, act, dtype):
    rng = np.random.default_rng(M * 1000 + N)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    b = rng.standard_normal(N).astype(dtype)
    C0 = rng.standard_normal((M, N)).astype(dtype)
    accumulate = int(act == dk.ACT_IDENTITY)
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
                                       dk.ACT_IDENTITY, 0, act, 1)
    dact = {dk.ACT_RELU: (Z > 0) * 1.0, dk.ACT_TANH: 1 - np.tanh(Z) ** 2, dk.ACT_SOFTPLUS: 1 / (1 + np.exp(-Z)),
            dk.ACT_IDENTITY: np.ones_like(Z)}[act]
    ref = ((A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)) * dact
    np.testing.assert_allclose(C.copy_to_host(), ref, rtol=tol * 10, atol=tol * math.sqrt(K) * 10)
    np.testing.assert_allclose(rs.copy_to_host(), (A.T if ta else A).astype(np.float64).sum(1), rtol=tol,
                               atol=tol * math.sqrt(K))


def test_bias_act_and_backward_match_numpy():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((5, 7))
    b = rng.standard_normal(7)
    G = rng.standard_normal((5, 7))
    for act, dact in [(dk.ACT_RELU, lambda z: (z > 0) * 1.0), (dk.ACT_TANH, lambda z: 1 - np.tanh(z) ** 2),
                      (dk.ACT_SOFTPLUS, lambda z: 1 / (1 + np.exp(-z)))]:
        H = cuda.device_array((5, 7), np.float64)
        dk.bias_act_kernel[(1, 1), (8, 8)](cuda.to_device(Z), cuda.to_device(b), H, act)
        np.testing.assert_allclose(H.copy_to_host(), _act_np(Z + b, act), rtol=1e-12)
        dH = cuda.to_device(G.copy())
        dk.act_backward_kernel[(1, 1), (8, 8)](H, dH, act)
        np.testing.assert_allclose(dH.copy_to_host(), G * dact(Z + b), rtol=1e-10, atol=1e-14)
    db = cuda.to_device(np.ones(7))
    dk.colsum_kernel[1, 8](cuda.to_device(G), db, 1)
    np.testing.assert_allclose(db.copy_to_host(), G.sum(0) + 1, rtol=1e-12)


def test_softmax_xent_and_squared_loss_match_numpy():
    rng = np.random.default_rng(2)
    Z = (3 * rng.standard_normal((6, 4))).astype(np.float32)
    y = rng.integers(0, 4, 6).astype(np.int64)
    dZ = cuda.device_array((6, 4), np.float32)
    loss = cuda.device_array(6, np.float32)
    correct = cuda.device_array(6, np.int32)
    dk.softmax_xent_kernel[1, 8](cuda.to_device(Z), cuda.to_device(y), dZ, loss, correct, 1.0 / 6)
    z = Z.astype(np.float64)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(loss.copy_to_host(), -logp[np.arange(6), y], rtol=1e-5)
    np.testing.assert_allclose(dZ.copy_to_host(), (np.exp(logp) - onehot) / 6, atol=1e-6)
    assert np.array_equal(correct.copy_to_host(), (Z.argmax(1) == y).astype(np.int32))
    dk.squared_loss_kernel[1, 8](cuda.to_device(Z), cuda.to_device(y), dZ, loss, correct, 0.5)
    np.testing.assert_allclose(loss.copy_to_host(), 0.5 * ((z - onehot) ** 2).sum(1), rtol=1e-5)
    np.testing.assert_allclose(dZ.copy_to_host(), 0.5 * (z - onehot), rtol=1e-6)


# ---------------------------------------------------------------------------------------- SGD
def _launch_sgd(W, G, V, mask, states, factor, n_cols, lr, mu, wd, s, alpha, mode):
    n = W.size
    d = {k: cuda.to_device(v) for k, v in dict(W=W, G=G, V=V, mask=mask).items()}
    dk.sgd_step_kernel[(n + 31) // 32, 32](d["W"], d["G"], d["V"], d["mask"], states, factor, n_cols, lr, mu, wd,
                                            s, alpha, 1, int(mu > 0), mode)
    return d["W"].copy_to_host(), d["V"].copy_to_host()


@pytest.mark.parametrize("mode", [dk.NOISE_NONE, dk.NOISE_IID, dk.NOISE_NEURON, dk.NOISE_SUBGAUSS])
def test_fused_sgd_step_matches_reference(mode):
    rng = np.random.default_rng(3)
    rows, cols = 3, 5
    n = rows * cols
    W = rng.standard_normal(n)
    G = rng.standard_normal(n)
    V = rng.standard_normal(n)
    mask = (rng.random(n) < 0.7).astype(np.float64)
    lr, mu, wd, s, alpha = 0.1, 0.9, 1e-3, 0.05, 1.4
    st_w = init_states(n, 11)
    st_n = init_states(cols, 12)
    factor = cuda.device_array(cols, np.float64)
    if mode in (dk.NOISE_NEURON, dk.NOISE_SUBGAUSS):
        dk.neuron_factor_kernel[1, 8](cuda.to_device(st_n.copy()), alpha, mode, factor)
    W1, V1 = _launch_sgd(W, G, V, mask, cuda.to_device(st_w.copy()), factor, cols, lr, mu, wd, s, alpha, mode)
    # reference: written out from the docstring, noise from the CPU streams
    v_ref = mu * V + G + wd * W
    w_ref = W - lr * v_ref
    if mode == dk.NOISE_IID:
        w_ref = w_ref + s * stream_rvs(alpha, 0.0, n, 1, seed=11)[:, 0]
    elif mode == dk.NOISE_NEURON:
        w_ref = w_ref + s * np.tile(stream_rvs(alpha, 0.0, cols, 1, seed=12)[:, 0], rows)
    elif mode == dk.NOISE_SUBGAUSS:
        r = _cpu_subgauss_factors(st_n.copy(), alpha, 1)[:, 0]
        z = np.array([_cpu_normal(st_w.copy(), k) for k in range(n)])
        w_ref = w_ref + s * np.tile(r, rows) * z
    w_ref = w_ref * mask
    np.testing.assert_allclose(V1, v_ref, rtol=1e-13)
    np.testing.assert_allclose(W1, w_ref, rtol=max(RTOL_TRANSC, 1e-13), atol=1e-15)
    assert np.all(W1[mask == 0] == 0)


@nb.njit
def _cpu_normal(states, k):
    return cpu_normal(states, k)
