"""Winograd F(2×2, 3×3) convolutions (simulations.nn.backends.cpu_winograd) against direct sums written here.

Oracles: the forward correlation as an einsum over numpy's sliding windows of the zero-padded
input; its input and weight gradients as the adjoint sums written out shift by shift; the filter
transform as the matrix product G g Gᵀ with Lavin & Gray's G. None of them shares code with the kernels.
"""
from __future__ import annotations

import numpy as np
import pytest

from simulations.nn import conv_net, conv_ops
from simulations.nn import layers as L
from simulations.nn.backends import cpu_winograd as wk
from simulations.nn.model_spec import ModelSpec, init_model_params

G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])


def direct(x, w, b=None):
    """y[n, o, a, c] = Σ_{ch,i,j} w[o, ch, i, j] xp[n, ch, a + i, c + j] (+ b[o]), xp: x padded by 1."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    y = np.einsum("nchwij,ocij->nohw", win, w)
    return y if b is None else y + b[None, :, None, None]


def direct_dx(dy, w):
    """The adjoint of :func:`direct`: every dy[n, o, a, c]·w[o, ch, i, j] added to x position (a + i − 1, c + j − 1)."""
    N, O, H, W = dy.shape
    dxp = np.zeros((N, w.shape[1], H + 2, W + 2))
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + H, j:j + W] += np.einsum("noab,oc->ncab", dy, w[:, :, i, j])
    return dxp[:, :, 1:-1, 1:-1]


def run(x, w, b=None, relu=False, chunk=2, mask=None, rotate=False):
    """The kernels' correlation of x with w (or, iff ``rotate``, the input gradient of x = dy through w)."""
    N, C, H, W = x.shape
    O = w.shape[1] if rotate else w.shape[0]
    S = wk.stream_stride(w.shape[0] * w.shape[1])
    U = np.full(16 * S, np.nan, x.dtype)
    wk.filter_transform(w, rotate, U, S)
    sv, sm = wk.scratch_sizes(max(C, O), max(C, O), H, W, chunk)
    V, M = np.full(sv, np.nan, x.dtype), np.full(sm, np.nan, x.dtype)
    y = np.full((N, O, H, W), np.nan, x.dtype)
    bb = np.zeros(0, x.dtype) if b is None else b
    wk.winograd_conv(x, x if mask is None else mask, mask is not None, 0, N, U, O, bb, b is not None, relu,
                     chunk, V, M, y)
    return y


SIZES = [(1, 1), (2, 3), (3, 3), (4, 4), (5, 7), (7, 7), (8, 6), (14, 14)]


@pytest.mark.parametrize("H,W", SIZES)
@pytest.mark.parametrize("chunk", [1, 2, 5])
def test_forward_equals_direct_correlation(H, W, chunk):
    rng = np.random.default_rng(H * 100 + W + chunk)
    x, w, b = rng.standard_normal((3, 4, H, W)), rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    ref = direct(x, w, b)
    # float64 sums of ~36 terms of size ~1: a wrong tile offset or transform entry is an O(1) error
    np.testing.assert_allclose(run(x, w, b, chunk=chunk), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(run(x, w, b, relu=True, chunk=chunk), np.maximum(ref, 0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("H,W", SIZES)
def test_input_gradient_equals_the_adjoint(H, W):
    rng = np.random.default_rng(7 + H * W)
    w, dy = rng.standard_normal((5, 4, 3, 3)), rng.standard_normal((3, 5, H, W))
    dx = run(dy, w, rotate=True)
    np.testing.assert_allclose(dx, direct_dx(dy, w), rtol=0, atol=1e-12)
    x = rng.standard_normal((3, 4, H, W))                 # <conv(x), dy> = <x, conv_T(dy)>
    assert np.isclose(np.sum(direct(x, w) * dy), np.sum(x * dx), rtol=1e-12, atol=1e-12)


def direct_dw(x, dy):
    """∂w[o, c, i, j] = Σ_{n,a,b} dy[n, o, a, b] xp[n, c, a + i, b + j], xp: x padded by 1."""
    H, W = x.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    dw = np.empty((dy.shape[1], x.shape[1], 3, 3))
    for i in range(3):
        for j in range(3):
            dw[:, :, i, j] = np.einsum("nchw,nohw->oc", xp[:, :, i:i + H, j:j + W], dy)
    return dw


@pytest.mark.parametrize("H,W", SIZES)
@pytest.mark.parametrize("chunk", [1, 2, 5])
def test_weight_gradient_equals_the_direct_sum(H, W, chunk):
    rng = np.random.default_rng(13 + H * W + chunk)
    N, C, O = 3, 4, 5
    x, dy, y = (rng.standard_normal(s) for s in ((N, C, H, W), (N, O, H, W), (N, O, H, W)))
    sv, sm = wk.scratch_sizes(max(C, O), max(C, O), H, W, chunk)
    V, D, E = np.full(sv, np.nan), np.full(sm, np.nan), np.full(16 * wk.stream_stride(O * C), np.nan)
    for relu in (False, True):
        dw, db = np.full((O, C, 3, 3), np.nan), np.full(O, 1.0)
        wk.winograd_weight_grad(x, dy, y, relu, 0, N, chunk, V, D, E, dw, True, db)
        g = dy * (y > 0) if relu else dy
        np.testing.assert_allclose(dw, direct_dw(x, g), rtol=0, atol=1e-12)
        np.testing.assert_allclose(db, 1.0 + g.sum(axis=(0, 2, 3)), rtol=0, atol=1e-12)   # added to


def test_the_relu_mask_zeroes_the_incoming_gradient_where_the_output_was_not_positive():
    rng = np.random.default_rng(3)
    w, dy, y = rng.standard_normal((6, 3, 3, 3)), rng.standard_normal((2, 6, 5, 6)), rng.standard_normal((2, 6, 5, 6))
    y[0, 0, 0, :3] = 0.0                                   # exactly 0 counts as not positive (ReLU's subgradient)
    np.testing.assert_allclose(run(dy, w, rotate=True, mask=y), direct_dx(dy * (y > 0), w), rtol=0, atol=1e-12)


def test_filter_transform_is_G_g_Gt():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 2, 3, 3))
    S = wk.stream_stride(6)
    for rotate in (False, True):
        U = np.full(16 * S, np.nan)
        wk.filter_transform(w, rotate, U, S)
        for o in range(3):
            for c in range(2):
                g = w[o, c, ::-1, ::-1] if rotate else w[o, c]
                ref = (G @ g @ G.T).reshape(16)
                got = U[np.arange(16) * S + (c * 3 + o if rotate else o * 2 + c)]
                np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15)


def test_float32_error_is_a_few_ulps_of_the_terms():
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((2, 64, 14, 14)), rng.standard_normal((32, 64, 3, 3))
    ref = direct(x, w)
    scale = direct(np.abs(x), np.abs(w))                   # Σ |w||x| per output: the size of the terms
    err = np.abs(run(x.astype(np.float32), w.astype(np.float32)) - ref) / scale
    # a direct float32 sum of 576 terms errs by ≲ √576·2⁻²⁴ ≈ 1.4e-6 of Σ|terms|; the transforms add a few
    # more roundings of partial sums up to 4× the terms (Lavin & Gray 2016, §5): 2e-5 leaves a margin of 5
    assert err.max() < 2e-5


def test_stream_stride_keeps_the_16_streams_off_one_cache_set():
    for entries in (1, 64, 4096, 12544 * 64, 2**20):
        S = wk.stream_stride(entries)
        assert S >= entries
        for itemsize in (4, 8):                            # no two of the 16 streams a multiple of 4 KiB apart
            assert all((k * S * itemsize) % 4096 for k in range(1, 16))


def _net(C):
    layers = (L.Conv2d(C, 3, padding=1, bias=False), L.ReLU(), L.Conv2d(C, 3, padding=1), L.ReLU(),
              L.MaxPool2d(2), L.Conv2d(C, 3, padding=1), L.Flatten(), L.Dense(3))
    return ModelSpec(input_shape=(C, 6, 6), layers=layers, n_classes=3, dtype="float64")


@pytest.mark.parametrize("winograd_dw", [False, True])
def test_a_network_of_winograd_layers_has_the_gradient_of_the_im2col_one(monkeypatch, winograd_dw):
    C = conv_ops.WINOGRAD_MIN_CHANNELS
    monkeypatch.setattr(conv_ops, "WINOGRAD_DW_MIN_CHANNELS", C if winograd_dw else 10**6)
    spec = _net(C)
    rng = np.random.default_rng(0)
    flat = init_model_params(spec, rng)
    X, y = rng.standard_normal((5, C, 6, 6)), rng.integers(0, 3, 5)
    ws = conv_net.Workspace(spec, 5)
    # the two 6×6 layers run by Winograd, the 3×3-map one by im2col (WINOGRAD_MIN_SIDE)
    assert [op.wino for op in ws.ops if isinstance(op, conv_ops.ConvOp)] == [True, True, False]
    assert [op.wino_dw for op in ws.ops if isinstance(op, conv_ops.ConvOp)] == [winograd_dw, winograd_dw, False]
    loss, grad = conv_net.loss_and_grad(spec, flat, None, X, y, ws)
    grad = grad.copy()
    monkeypatch.setattr(conv_ops, "WINOGRAD_MIN_CHANNELS", 10**6)
    ws2 = conv_net.Workspace(spec, 5)
    assert not any(op.wino for op in ws2.ops if isinstance(op, conv_ops.ConvOp))
    loss2, grad2 = conv_net.loss_and_grad(spec, flat, None, X, y, ws2)
    assert abs(loss - loss2) < 1e-12
    np.testing.assert_allclose(grad, grad2, rtol=0, atol=1e-10 * np.abs(grad2).max())
    np.testing.assert_allclose(conv_net.forward(spec, flat, None, X, ws=ws), conv_net.forward(spec, flat, None, X),
                               rtol=0, atol=1e-10)


def test_winograd_is_chosen_only_for_its_case():
    C = conv_ops.WINOGRAD_MIN_CHANNELS
    assert conv_ops.uses_winograd(3, 1, 1, C, C, 4)
    assert not conv_ops.uses_winograd(3, 2, 1, C, C, 4)       # strided
    assert not conv_ops.uses_winograd(3, 1, 0, C, C, 4)       # "valid"
    assert not conv_ops.uses_winograd(5, 1, 2, C, C, 4)       # 5×5
    assert not conv_ops.uses_winograd(3, 1, 1, 1, C, 28)      # thin: one input channel
    assert not conv_ops.uses_winograd(3, 1, 1, C, C, 3)       # small map
    assert conv_ops.WINOGRAD_DW_MIN_CHANNELS >= C                # the weight gradient only where the forward is


@pytest.mark.parametrize("winograd_dw", [False, True])
def test_two_threads_split_the_samples_of_a_winograd_network_with_the_same_numbers(monkeypatch, winograd_dw):
    from simulations.nn import blas_threads

    C = conv_ops.WINOGRAD_MIN_CHANNELS
    monkeypatch.setattr(conv_ops, "WINOGRAD_DW_MIN_CHANNELS", C if winograd_dw else 10**6)
    spec = _net(C)
    rng = np.random.default_rng(4)
    flat = init_model_params(spec, rng)
    X, y = rng.standard_normal((7, C, 6, 6)), rng.integers(0, 3, 7)
    ws = conv_net.Workspace(spec, 7)
    assert ws.split                                   # a Winograd layer: multi-threaded passes split the samples
    with blas_threads(1):
        loss1, g1 = conv_net.loss_and_grad(spec, flat, None, X, y, ws)
        g1 = g1.copy()
    with blas_threads(2):
        loss2, g2 = conv_net.loss_and_grad(spec, flat, None, X, y, ws)
        assert ws.threads == 2
    # the same sums, the weight gradients added in another order: float64 rounding only
    assert abs(loss1 - loss2) < 1e-12
    np.testing.assert_allclose(g2, g1, rtol=0, atol=1e-12 * np.abs(g1).max())


_ALLOC_SCRIPT = """
import numba as nb, numpy as np
from numba.core.runtime import rtsys
from simulations.nn.backends import cpu_winograd as wk

@nb.njit
def same_arguments(*arrays):       # what numba allocates to pass arrays in (one MemInfo each), and nothing else
    return 0

N, C, O, H, W, chunk = 3, 4, 5, 7, 6, 2
rng = np.random.default_rng(0)
x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, 3, 3))
S = wk.stream_stride(O * C)
U, E, db = np.zeros(16 * S), np.zeros(16 * S), np.zeros(O)
sv, sm = wk.scratch_sizes(max(C, O), max(C, O), H, W, chunk)
V, M, y, dw = np.zeros(sv), np.zeros(sm), np.zeros((N, O, H, W)), np.zeros_like(w)
calls = [(wk.filter_transform, (w, False, U, S)),
         (wk.winograd_conv, (x, x, False, 0, N, U, O, db, True, True, chunk, V, M, y)),
         (wk.winograd_weight_grad, (x, y, y, True, 0, N, chunk, V, M, E, dw, True, db))]
for f, a in calls:
    f(*a); same_arguments(*[v for v in a if isinstance(v, np.ndarray)])
    s0 = rtsys.get_allocation_stats().alloc
    f(*a)
    s1 = rtsys.get_allocation_stats().alloc
    same_arguments(*[v for v in a if isinstance(v, np.ndarray)])
    s2 = rtsys.get_allocation_stats().alloc
    print(f.__name__, s1 - s0, s2 - s1)
"""


def test_the_kernels_allocate_nothing_beyond_passing_their_arrays_in():
    """A training step allocates nothing: each kernel's NRT allocations equal those of a no-op taking its arrays."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_NRT_STATS="1")           # numba counts allocations only when asked at import
    out = subprocess.run([sys.executable, "-c", _ALLOC_SCRIPT], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rows = [line.split() for line in out.stdout.strip().splitlines()]
    assert len(rows) == 3
    for name, kernel, baseline in rows:
        assert int(kernel) == int(baseline), f"{name}: {kernel} NRT allocations, {baseline} for passing its arrays"
