"""Device RNG, α-stable draws and dense-layer kernels vs CPU references (CUDA simulator, tiny sizes).

Oracles: the CPU xoroshiro128+/CMS kernels of simulations.stable.streams / simulations.stable.cpu
(same streams ⇒ same numbers), numba.cuda.random (NVIDIA's own xoroshiro128+), numpy matrix
products and straightforward numpy formulas written in this file, scipy's levy_stable CDF.
"""
from __future__ import annotations

import _cuda_setup  # noqa: F401  (sets NUMBA_ENABLE_CUDASIM before numba.cuda is imported)

import math
import warnings

import numba as nb
import numpy as np
import pytest
from scipy import stats

SIM = _cuda_setup.require()
pytestmark = _cuda_setup.PYTESTMARK

from numba import cuda  # noqa: E402

from simulations.stable import cpu as sk  # noqa: E402
from simulations.nn.backends import cuda_dense as dk  # noqa: E402
from simulations.stable import cuda as rk  # noqa: E402
from simulations.stable.streams import init_states, next_uint64, uniform  # noqa: E402
from simulations.stable.streams import normal as cpu_normal  # noqa: E402
from simulations.stable.api import stream_rvs  # noqa: E402

# Same uniforms bit for bit; the CMS transform is the same formula, evaluated with libm (simulator)
# or libdevice (GPU) sin/log/exp on the device and partly with the CPU kernels' own polynomials:
# a few ulp per operation, amplified at most ~1e3 times near the formula's singular points.
RTOL_TRANSC = 1e-12 if SIM else 1e-10


@nb.njit
def _cpu_bits_and_uniforms(states, m):
    n = states.shape[0]
    bits = np.empty((n, m), np.uint64)
    u = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            bits[i, j] = next_uint64(states, i)
            u[i, j] = uniform(states, i)
    return bits, u


@nb.njit
def _cpu_subgauss_factors(states, alpha, m):
    out = np.empty((states.shape[0], m))
    for i in range(states.shape[0]):
        for j in range(m):
            out[i, j] = sk.sub_gaussian_factor_draw(states, i, alpha)
    return out


def test_states_equal_numba_cuda_random():
    from numba.cuda.random import create_xoroshiro128p_states

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the simulator's object-mode fallback warns
        dev = create_xoroshiro128p_states(2, 2024).copy_to_host()
    assert np.array_equal(dev.view(np.uint64).reshape(2, 2), init_states(2, 2024))


def test_device_uniforms_bitwise_equal_cpu_and_numba_random():
    from numba.cuda.random import xoroshiro128p_dtype, xoroshiro128p_uniform_float64

    st = init_states(6, 7)
    bits = cuda.device_array((6, 3), np.uint64)
    u = cuda.device_array((6, 3), np.float64)
    rk.fill_uniform_kernel[1, 6](cuda.to_device(st.copy()), u, bits)
    ref_bits, ref_u = _cpu_bits_and_uniforms(st.copy(), 3)
    assert np.array_equal(bits.copy_to_host(), ref_bits)
    assert np.array_equal(u.copy_to_host(), ref_u)

    @cuda.jit
    def nv_uniforms(states, out):  # NVIDIA's implementation, structured states
        i = cuda.grid(1)
        if i < out.shape[0]:
            for j in range(out.shape[1]):
                out[i, j] = xoroshiro128p_uniform_float64(states, i)

    st_struct = np.ascontiguousarray(st).view(xoroshiro128p_dtype).reshape(6)
    nv = cuda.device_array((6, 4), np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nv_uniforms[1, 6](cuda.to_device(st_struct), nv)
    ours = cuda.device_array((6, 2), np.float64)
    rk.fill_uniform_kernel[1, 6](cuda.to_device(st.copy()), ours, cuda.device_array((6, 2), np.uint64))
    # our kernel alternates raw draw / uniform: its uniforms are NVIDIA's draws 1 and 3
    assert np.array_equal(ours.copy_to_host(), nv.copy_to_host()[:, 1::2])


@pytest.mark.parametrize("alpha,beta", [(1.5, 0.0), (0.8, 0.0), (2.0, 0.0), (1.0, 0.0), (1.2, 0.7), (1.0, -0.5)])
def test_device_stable_draws_equal_cpu_streams(alpha, beta):
    n, m = 8, 6
    out = cuda.device_array((n, m), np.float64)
    rk.fill_stable_kernel[1, n](cuda.to_device(init_states(n, 99)), alpha, beta, 1.0, 0.0, out)
    ref = stream_rvs(alpha, beta, n, m, param="S1", seed=99)
    np.testing.assert_allclose(out.copy_to_host(), ref, rtol=RTOL_TRANSC, atol=1e-15)


def test_device_sub_gaussian_factor_equals_cpu():
    @cuda.jit
    def factors(states, alpha, out):
        i = cuda.grid(1)
        if i < out.shape[0]:
            for j in range(out.shape[1]):
                out[i, j] = rk.sub_gaussian_factor_draw(states, i, alpha)

    st = init_states(4, 5)
    out = cuda.device_array((4, 3), np.float64)
    factors[1, 4](cuda.to_device(st.copy()), 1.3, out)
    np.testing.assert_allclose(out.copy_to_host(), _cpu_subgauss_factors(st.copy(), 1.3, 3), rtol=RTOL_TRANSC)


def test_device_sas_draws_follow_stable_law():
    # KS test against scipy's SαS(1) CDF (S1 = S0 at β = 0), n = 256·4 = 1024 draws; the fixed seed
    # makes the test deterministic; for a correct sampler a p-value < 1e-3 happens with prob. 1e-3.
    n, m, alpha = 256, 4, 1.5
    out = cuda.device_array((n, m), np.float64)
    rk.fill_stable_kernel[4, 64](cuda.to_device(init_states(n, 3)), alpha, 0.0, 1.0, 0.0, out)
    x = out.copy_to_host().ravel()
    p = stats.kstest(x, stats.levy_stable(alpha, 0.0).cdf).pvalue
    assert p > 1e-3


# ---------------------------------------------------------------------------------------- GEMM
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
