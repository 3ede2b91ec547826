"""Convolution, pooling and ReLU kernels (``cpu_conv``, through ``conv_api``) against independent oracles.

Oracles: (1) direct-loop numpy references written here (convolution as the defining sum over the
zero-padded input, its adjoint by scattering, pooling window by window); (2) central finite
differences in float64 for every gradient (conv dx, dw, db; pooling and ReLU dx) — the maps are
linear or piecewise linear, so with inputs kept away from ties/kinks the central difference is
exact up to rounding (≈ u·|f|/eps ≈ 1e-11 here); (3) PyTorch (skipped when torch is absent).

float32 tolerance: the kernels compute every output entry as a sum of n products in some order
(BLAS blocking and FMA included), whose error is bounded by γ_n · Σ|terms| with γ_n = n·u/(1 − n·u),
u = 2⁻²⁴ (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., eq. 3.5 and Lemma 3.1).
The tests assert that bound entry-wise, Σ|terms| being the reference applied to |x|, |w|, |dy|.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from simulations.nn import conv_api as C
from simulations.nn.backends import cpu_conv as K
from simulations.nn.backends import cpu_conv_gemm as G

U32 = 2.0 ** -24


def gamma(n: int) -> float:
    return n * U32 / (1 - n * U32)


# ------------------------------------------------------------------------------ references
def ref_conv(x, w, b, s, p):
    N, Ch, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    y = np.zeros((N, O, OH, OW))
    for n, o, a, c in itertools.product(range(N), range(O), range(OH), range(OW)):
        y[n, o, a, c] = np.sum(w[o] * xp[n, :, a * s:a * s + kh, c * s:c * s + kw]) + (b[o] if b is not None else 0.0)
    return y


def ref_conv_backward(x, w, dy, s, p):
    N, Ch, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros(w.shape)
    for n, o, a, c in itertools.product(range(N), range(O), range(dy.shape[2]), range(dy.shape[3])):
        win = (n, slice(None), slice(a * s, a * s + kh), slice(c * s, c * s + kw))
        dxp[win] += dy[n, o, a, c] * w[o]
        dw[o] += dy[n, o, a, c] * xp[win]
    return dxp[:, :, p:p + H, p:p + W], dw, dy.sum(axis=(0, 2, 3))


def ref_pool(x, k, s, how):
    N, Ch, H, W = x.shape
    OH, OW = (H - k) // s + 1, (W - k) // s + 1
    y, idx = np.zeros((N, Ch, OH, OW)), np.zeros((N, Ch, OH, OW), dtype=np.int64)
    for n, c, a, b in itertools.product(range(N), range(Ch), range(OH), range(OW)):
        if how == "avg":
            y[n, c, a, b] = x[n, c, a * s:a * s + k, b * s:b * s + k].sum() / (k * k)
            continue
        best, where = -np.inf, None
        for i, j in itertools.product(range(k), range(k)):   # row-major window scan, strict '>' keeps the first
            v = x[n, c, a * s + i, b * s + j]
            if v > best:
                best, where = v, (a * s + i) * W + b * s + j
        y[n, c, a, b], idx[n, c, a, b] = best, where
    return y, idx


def fd_grad(f, theta, G, eps=1e-4):
    """Central differences of θ ↦ Σ G·f(θ) at every entry of θ (float64)."""
    g = np.zeros_like(theta)
    for i in np.ndindex(theta.shape):
        t = theta.copy()
        t[i] += eps
        fp = np.sum(G * f(t))
        t[i] -= 2 * eps
        g[i] = (fp - np.sum(G * f(t))) / (2 * eps)
    return g


# ------------------------------------------------------------------------------ convolution
CASES = list(itertools.product((1, 2), (0, 1, 2), (1, 3, 5), (1, 3), (1, 2)))   # stride, pad, k, C, N


def _conv_data(stride, pad, k, Ch, N, kw=None, seed=0, O=2):
    rng = np.random.default_rng(seed + 1000 * stride + 100 * pad + 10 * k + Ch + 7 * N)
    x = rng.standard_normal((N, Ch, 7, 6))          # H != W catches a swapped axis
    w = rng.standard_normal((O, Ch, k, k if kw is None else kw))
    b = rng.standard_normal(O)
    return x, w, b


@pytest.mark.parametrize("stride,pad,k,Ch,N", CASES)
def test_conv_forward_matches_direct_sum(stride, pad, k, Ch, N):
    x, w, b = _conv_data(stride, pad, k, Ch, N)
    np.testing.assert_allclose(C.conv2d_forward(x, w, b, stride, pad), ref_conv(x, w, b, stride, pad),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(C.conv2d_forward(x, w, None, stride, pad), ref_conv(x, w, None, stride, pad),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,pad,k,Ch,N", CASES)
def test_conv_backward_matches_finite_differences(stride, pad, k, Ch, N):
    x, w, b = _conv_data(stride, pad, k, Ch, N)
    y = C.conv2d_forward(x, w, b, stride, pad)
    G = np.random.default_rng(1).standard_normal(y.shape)            # the loss Σ G·y has dy = G
    dx, dw, db = C.conv2d_backward(x, w, G, stride, pad)
    np.testing.assert_allclose(dx, fd_grad(lambda t: C.conv2d_forward(t, w, b, stride, pad), x, G), atol=1e-8)
    np.testing.assert_allclose(dw, fd_grad(lambda t: C.conv2d_forward(x, t, b, stride, pad), w, G), atol=1e-8)
    np.testing.assert_allclose(db, fd_grad(lambda t: C.conv2d_forward(x, w, t, stride, pad), b, G), atol=1e-8)
    # and the scatter reference (a second, exact oracle)
    rdx, rdw, rdb = ref_conv_backward(x, w, G, stride, pad)
    for got, want in ((dx, rdx), (dw, rdw), (db, rdb)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # the first layer: no dx, the rest unchanged; no bias: no db
    ndx, ndw, ndb = C.conv2d_backward(x, w, G, stride, pad, bias=False, need_dx=False)
    assert ndx is None and ndb is None
    np.testing.assert_array_equal(ndw, dw)


@pytest.mark.parametrize("stride,pad,kh,kw", [(1, 0, 3, 2), (2, 1, 2, 3), (1, 2, 5, 1), (3, 1, 3, 3)])
def test_conv_rectangular_kernels_and_stride_three(stride, pad, kh, kw):
    rng = np.random.default_rng(kh * 10 + kw)
    x, w, b = rng.standard_normal((3, 2, 8, 7)), rng.standard_normal((3, 2, kh, kw)), rng.standard_normal(3)
    y = C.conv2d_forward(x, w, b, stride, pad)
    np.testing.assert_allclose(y, ref_conv(x, w, b, stride, pad), rtol=1e-12, atol=1e-12)
    G = rng.standard_normal(y.shape)
    for got, want in zip(C.conv2d_backward(x, w, G, stride, pad), ref_conv_backward(x, w, G, stride, pad)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,pad,k,Ch,N", [c for c in CASES if c[4] == 2])
def test_conv_float32_within_the_summation_error_bound(stride, pad, k, Ch, N):
    x, w, b = (a.astype(np.float32) for a in _conv_data(stride, pad, k, Ch, N, O=4))
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    y = C.conv2d_forward(x, w, b, stride, pad)
    assert y.dtype == np.float32
    ref = ref_conv(x64, w64, b64, stride, pad)
    mag = ref_conv(np.abs(x64), np.abs(w64), np.abs(b64), stride, pad)
    assert np.all(np.abs(y - ref) <= gamma(Ch * k * k + 1) * mag)
    G = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    dx, dw, db = C.conv2d_backward(x, w, G, stride, pad)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    rdx, rdw, rdb = ref_conv_backward(x64, w64, G.astype(np.float64), stride, pad)
    mdx, mdw, mdb = ref_conv_backward(np.abs(x64), np.abs(w64), np.abs(G.astype(np.float64)), stride, pad)
    L = y.shape[0] * y.shape[2] * y.shape[3]
    assert np.all(np.abs(dx - rdx) <= gamma(w.shape[0] * k * k) * mdx)
    assert np.all(np.abs(dw - rdw) <= gamma(L) * mdw)
    assert np.all(np.abs(db - rdb) <= gamma(L) * mdb)


def test_im2col_rows_are_the_padded_windows_and_col2im_is_its_adjoint():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 6))
    s, p, kh, kw = 2, 1, 3, 2
    cols = C.im2col(x, kh, kw, s, p)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    OH, OW = (5 + 2 - kh) // s + 1, (6 + 2 - kw) // s + 1
    assert cols.shape == (2 * OH * OW, 3 * kh * kw)
    for n, a, c in itertools.product(range(2), range(OH), range(OW)):
        np.testing.assert_array_equal(cols[n * OH * OW + a * OW + c],
                                      xp[n, :, a * s:a * s + kh, c * s:c * s + kw].ravel())
    R = rng.standard_normal(cols.shape)          # <im2col(x), R> = <x, col2im(R)>
    assert np.isclose(np.vdot(cols, R), np.vdot(x, C.col2im(R, x.shape, kh, kw, s, p)), rtol=1e-12)
    acc = np.ones_like(x)                        # the kernel accumulates into dx
    K.col2im_add(R, 2, 3, 5, 6, kh, kw, s, p, acc)
    np.testing.assert_allclose(acc - 1.0, C.col2im(R, x.shape, kh, kw, s, p), atol=1e-14)


# ------------------------------------------------------------------------------ pooling and ReLU
def _distinct(shape, seed):
    """Entries 0.01 apart (shuffled): no ties, so ±1e-4 perturbations keep every argmax."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))) * 0.01 - 1.0).reshape(shape)


@pytest.mark.parametrize("k,stride", [(2, 2), (3, 1), (3, 2), (2, 3), (1, 1)])
@pytest.mark.parametrize("N,Ch", [(1, 1), (2, 3)])
def test_maxpool_forward_and_gradient(k, stride, N, Ch):
    x = _distinct((N, Ch, 7, 6), k + stride)
    y, idx = C.maxpool2d_forward(x, k, stride)
    ry, ridx = ref_pool(x, k, stride, "max")
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
    G = np.random.default_rng(3).standard_normal(y.shape)
    dx = C.maxpool2d_backward(G, idx, x.shape)
    np.testing.assert_allclose(dx, fd_grad(lambda t: C.maxpool2d_forward(t, k, stride)[0], x, G), atol=1e-9)


def test_maxpool_ties_take_the_first_index():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 0] = x[0, 0, 1, 1] = 2.0          # a tie inside the first 2×2 window, first in row 1
    y, idx = C.maxpool2d_forward(x, 2)
    assert idx[0, 0].tolist() == [[4, 2], [8, 10]]   # (1, 0) before (1, 1); all-zero windows: their first entry
    np.testing.assert_array_equal(y[0, 0], [[2.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(idx, ref_pool(x, 2, 2, "max")[1])


@pytest.mark.parametrize("k,stride", [(2, 2), (3, 1), (3, 2), (2, 3)])
@pytest.mark.parametrize("N,Ch", [(1, 1), (2, 3)])
def test_avgpool_forward_and_gradient(k, stride, N, Ch):
    x = np.random.default_rng(k * stride).standard_normal((N, Ch, 7, 6))
    y = C.avgpool2d_forward(x, k, stride)
    np.testing.assert_allclose(y, ref_pool(x, k, stride, "avg")[0], rtol=1e-13, atol=1e-14)
    G = np.random.default_rng(4).standard_normal(y.shape)
    np.testing.assert_allclose(C.avgpool2d_backward(G, x.shape, k, stride),
                               fd_grad(lambda t: C.avgpool2d_forward(t, k, stride), x, G), atol=1e-9)


def test_global_avgpool_and_gradient():
    x = np.random.default_rng(6).standard_normal((2, 3, 5, 4))
    y = C.global_avgpool_forward(x)
    np.testing.assert_allclose(y, x.reshape(2, 3, -1).sum(-1) / 20, rtol=1e-13)
    G = np.random.default_rng(7).standard_normal(y.shape)
    np.testing.assert_allclose(C.global_avgpool_backward(G, x.shape), fd_grad(C.global_avgpool_forward, x, G),
                               atol=1e-9)


def test_relu_forward_gradient_and_in_place():
    x = _distinct((2, 3, 4, 5), 8) + 0.005        # no entry within 0.005 of the kink
    y = C.relu_forward(x)
    np.testing.assert_array_equal(y, np.where(x > 0, x, 0.0))
    G = np.random.default_rng(9).standard_normal(x.shape)
    dx = C.relu_backward(G, y)
    np.testing.assert_allclose(dx, fd_grad(C.relu_forward, x, G), atol=1e-9)
    np.testing.assert_array_equal(C.relu_backward(G, x), dx)    # the input has the output's sign pattern
    assert C.relu_backward(np.ones(3), np.array([-1.0, 0.0, 1.0])).tolist() == [0.0, 0.0, 1.0]
    a, g = x.copy(), G.copy()                     # documented in-place use of the kernels
    K.relu_forward(a, a)
    K.relu_backward(g, a, g)
    np.testing.assert_array_equal(a, y)
    np.testing.assert_array_equal(g, dx)


def test_pooling_float32_keeps_dtype_and_accuracy():
    x = np.random.default_rng(10).standard_normal((2, 3, 6, 6)).astype(np.float32)
    y, idx = C.maxpool2d_forward(x, 2)
    assert y.dtype == np.float32 and idx.dtype == np.int64
    np.testing.assert_array_equal(y, ref_pool(x.astype(np.float64), 2, 2, "max")[0])   # max is exact
    a = C.avgpool2d_forward(x, 3, 1)
    mag = ref_pool(np.abs(x.astype(np.float64)), 3, 1, "avg")[0]
    assert a.dtype == np.float32
    assert np.all(np.abs(a - ref_pool(x.astype(np.float64), 3, 1, "avg")[0]) <= gamma(10) * mag)


# ------------------------------------------------------------------------------ validation
def test_output_size():
    assert C.conv_output_size(28, 5, 1, 2) == 28 and C.conv_output_size(7, 3, 2, 0) == 3
    assert C.conv_output_size(14, 3, 1, 1) == 14 and C.conv_output_size(5, 5) == 1


X4, W4 = np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3))


@pytest.mark.parametrize("call,name", [
    (lambda: C.conv2d_forward(X4, W4, stride=0), "stride"),
    (lambda: C.conv2d_forward(X4, W4, pad=-1), "pad"),
    (lambda: C.conv2d_forward(X4, W4, stride=1.5), "stride"),
    (lambda: C.conv2d_forward(X4, np.ones((4, 3, 6, 3))), "w"),           # kernel larger than the input
    (lambda: C.conv2d_forward(X4, np.ones((4, 2, 3, 3))), "w"),           # channel mismatch
    (lambda: C.conv2d_forward(X4, W4.astype(np.float32)), "w"),           # dtype mismatch
    (lambda: C.conv2d_forward(X4, W4, np.ones(3)), "b"),
    (lambda: C.conv2d_forward(X4[0], W4), "x"),
    (lambda: C.conv2d_forward(X4.astype(np.float16), W4), "x"),
    (lambda: C.conv2d_forward(np.full((2, 3, 5, 5), np.nan), W4), "x"),
    (lambda: C.conv2d_forward(X4, W4, pad=2**40), "pad"),
    (lambda: C.conv2d_backward(X4, W4, np.ones((2, 4, 2, 2))), "dy"),
    (lambda: C.conv2d_backward(X4, W4, np.ones((2, 4, 3, 3)), need_dx=1), "need_dx"),
    (lambda: C.im2col(X4, 6, 3), "kh"),
    (lambda: C.col2im(np.ones((5, 27)), (2, 3, 5, 5), 3, 3), "cols"),
    (lambda: C.col2im(np.ones((18, 27)), (2, 3, 5), 3, 3), "x_shape"),
    (lambda: C.maxpool2d_forward(X4, 6), "k"),
    (lambda: C.maxpool2d_forward(X4, 2, 0), "stride"),
    (lambda: C.maxpool2d_backward(np.ones((2, 3, 2, 2)), np.full((2, 3, 2, 2), 25), (2, 3, 5, 5)), "argmax"),
    (lambda: C.maxpool2d_backward(np.ones((2, 3, 2, 2)), np.zeros((2, 3, 2, 2)), (2, 3, 5, 5)), "argmax"),
    (lambda: C.avgpool2d_backward(np.ones((2, 3, 3, 3)), (2, 3, 5, 5), 2), "dy"),
    (lambda: C.global_avgpool_backward(np.ones((2, 4)), (2, 3, 5, 5)), "dy"),
    (lambda: C.relu_backward(np.ones(3), np.ones(4)), "y"),
    (lambda: C.conv_output_size(3, 6), "k"),
])
def test_errors_name_the_parameter(call, name):
    with pytest.raises((TypeError, ValueError), match=rf"(?<![A-Za-z_]){name}(?![A-Za-z_])"):
        call()


def test_overflow_is_reported_not_returned():
    with pytest.raises(ValueError, match="overflowed"):
        C.conv2d_forward(np.full((1, 1, 3, 3), 1e200), np.full((1, 1, 3, 3), 1e200))


# ------------------------------------------------------------------------------ PyTorch as a second oracle
TORCH_CASES = [(1, 0, 1, 1, 1), (1, 1, 3, 3, 2), (2, 2, 5, 3, 2), (2, 1, 3, 1, 3), (1, 2, 5, 3, 1), (2, 0, 3, 3, 2)]


@pytest.mark.parametrize("stride,pad,k,Ch,N", TORCH_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_matches_torch(stride, pad, k, Ch, N, dtype):
    torch = pytest.importorskip("torch")
    x, w, b = (a.astype(dtype) for a in _conv_data(stride, pad, k, Ch, N, O=5, seed=11))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)
    G = np.random.default_rng(12).standard_normal(tuple(ty.shape)).astype(dtype)
    (ty * torch.tensor(G)).sum().backward()
    ours = (C.conv2d_forward(x, w, b, stride, pad), *C.conv2d_backward(x, w, G, stride, pad))
    theirs = (ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy())
    if dtype == np.float64:
        tols = [1e-12 * (1.0 + np.abs(t)) for t in theirs]
    else:   # both sides are within γ_n·Σ|terms| of the exact value: they differ by at most twice that
        a64 = [np.abs(v).astype(np.float64) for v in (x, w, b, G)]
        mags = (ref_conv(*a64[:3], stride, pad), *ref_conv_backward(a64[0], a64[1], a64[3], stride, pad))
        n = max(Ch * k * k + 1, G.shape[0] * G.shape[2] * G.shape[3], w.shape[0] * k * k)
        tols = [2 * gamma(n) * m for m in (mags[0], mags[1], mags[2], mags[3])]
    for got, want, tol in zip(ours, theirs, tols):
        assert got.dtype == dtype and got.shape == want.shape
        assert np.all(np.abs(got - want) <= tol)


@pytest.mark.parametrize("k,stride", [(2, 2), (3, 1), (3, 2)])
def test_pooling_and_relu_match_torch(k, stride):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(13)
    x = rng.integers(-2, 3, (2, 3, 7, 6)).astype(np.float64)        # small integers: many ties
    tx = torch.tensor(x, requires_grad=True)
    ty, tidx = F.max_pool2d(tx, k, stride, return_indices=True)
    y, idx = C.maxpool2d_forward(x, k, stride)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    G = rng.standard_normal(y.shape)
    (ty * torch.tensor(G)).sum().backward()
    np.testing.assert_allclose(C.maxpool2d_backward(G, idx, x.shape), tx.grad.numpy(), rtol=1e-13, atol=1e-14)
    tx.grad = None
    ta = F.avg_pool2d(tx, k, stride)
    (ta * torch.tensor(G[..., :ta.shape[2], :ta.shape[3]])).sum().backward()
    np.testing.assert_allclose(C.avgpool2d_forward(x, k, stride), ta.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(C.avgpool2d_backward(G[..., :ta.shape[2], :ta.shape[3]], x.shape, k, stride),
                               tx.grad.numpy(), rtol=1e-13, atol=1e-14)
    tx.grad = None
    tg = F.adaptive_avg_pool2d(tx, 1)[:, :, 0, 0]
    Gg = rng.standard_normal(tg.shape)
    (tg * torch.tensor(Gg)).sum().backward()
    np.testing.assert_allclose(C.global_avgpool_forward(x), tg.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(C.global_avgpool_backward(Gg, x.shape), tx.grad.numpy(), rtol=1e-13)
    tx.grad = None
    tr = F.relu(tx)
    (tr * torch.tensor(x)).sum().backward()
    np.testing.assert_array_equal(C.relu_forward(x), tr.detach().numpy())
    np.testing.assert_array_equal(C.relu_backward(x, C.relu_forward(x)), tx.grad.numpy())


# ------------------------------------------------------------------------------ batched (one-GEMM) kernels
def ref_cols_t(x, kh, kw, s, p):
    """The transposed batched im2col matrix (C·kh·kw, N·OH·OW), built window by window from np.pad."""
    N, Ch, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    out = np.zeros((Ch * kh * kw, N * OH * OW))
    for n, a, c in itertools.product(range(N), range(OH), range(OW)):
        out[:, n * OH * OW + a * OW + c] = xp[n, :, a * s:a * s + kh, c * s:c * s + kw].ravel()
    return out


@pytest.mark.parametrize("s,p,kh,kw", [(1, 0, 3, 3), (1, 1, 3, 3), (1, 2, 5, 5), (2, 1, 3, 2), (3, 2, 2, 3), (2, 0, 1, 1)])
def test_im2col_t_is_the_transposed_window_matrix_and_col2im_t_its_adjoint(s, p, kh, kw):
    rng = np.random.default_rng(21 + s + p + kh)
    x = rng.standard_normal((3, 2, 7, 6))
    want = ref_cols_t(x, kh, kw, s, p)
    cols = np.full(want.shape, np.nan)                       # every entry must be written
    G.im2col_t(x, 0, 3, kh, kw, s, p, cols)
    np.testing.assert_array_equal(cols, want)
    L = want.shape[1] // 3
    part = np.full((want.shape[0], 2 * L), np.nan)           # samples 1..2 alone: their columns
    G.im2col_t(x, 1, 3, kh, kw, s, p, part)
    np.testing.assert_array_equal(part, want[:, L:])
    R = rng.standard_normal(cols.shape)
    dx = np.full_like(x, np.nan)                             # overwritten, not accumulated
    G.col2im_t(R, 0, 3, kh, kw, s, p, dx)
    ref = np.zeros_like(np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))))   # scatter each column back
    OH, OW = (7 + 2 * p - kh) // s + 1, (6 + 2 * p - kw) // s + 1
    for n, a, c in itertools.product(range(3), range(OH), range(OW)):
        ref[n, :, a * s:a * s + kh, c * s:c * s + kw] += R[:, n * OH * OW + a * OW + c].reshape(2, kh, kw)
    np.testing.assert_allclose(dx, ref[:, :, p:p + 7, p:p + 6], rtol=1e-13, atol=1e-13)
    assert np.isclose(np.vdot(cols, R), np.vdot(x, dx), rtol=1e-12)
    dx2 = np.full_like(x, np.nan)                            # a sample range: only its samples written
    G.col2im_t(np.ascontiguousarray(R[:, L:]), 1, 3, kh, kw, s, p, dx2)
    assert np.all(np.isnan(dx2[0]))
    np.testing.assert_allclose(dx2[1:], dx[1:], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("has_bias,relu", [(True, True), (True, False), (False, True), (False, False)])
def test_unpermute_and_permute_match_numpy_transposes(has_bias, relu):
    rng = np.random.default_rng(31)
    N, O, OH, OW = 3, 5, 4, 3
    L = OH * OW
    yr = rng.standard_normal((N * L, O)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    y = np.full((N, O, OH, OW), np.nan, np.float32)
    G.unpermute_bias_relu(yr, 0, N, b, has_bias, relu, y)
    want = yr.reshape(N, L, O).transpose(0, 2, 1).reshape(N, O, OH, OW) + (b[:, None, None] if has_bias else 0)
    np.testing.assert_array_equal(y, np.maximum(want, 0) if relu else want)
    dy = rng.standard_normal(y.shape)
    yy = rng.standard_normal(y.shape) * (rng.random(y.shape) < 0.5)       # many exact zeros: the mask is y > 0
    dyt, db = np.full((O, N * L), np.nan), np.full(O, 0.5)
    G.permute_mask_sum(dy, yy, 0, N, relu, has_bias, dyt, db)
    g = dy * (yy > 0) if relu else dy
    np.testing.assert_array_equal(dyt, g.transpose(1, 0, 2, 3).reshape(O, N * L))
    if has_bias:                                                           # added to what db held
        np.testing.assert_allclose(db, 0.5 + g.sum(axis=(0, 2, 3)), rtol=1e-13, atol=1e-13)
    else:
        assert np.all(db == 0.5)                                           # db untouched without a bias
    part = np.full((O, 2 * L), np.nan)                                     # samples 1..2 alone
    G.permute_mask_sum(dy, yy, 1, N, relu, False, part, db)
    np.testing.assert_array_equal(part, g[1:].transpose(1, 0, 2, 3).reshape(O, 2 * L))


@pytest.mark.parametrize("stride,pad,need_dx,chunk", [(1, 1, True, 1), (2, 0, True, 2), (1, 2, False, 3),
                                                      (1, 1, True, 8)])
def test_conv_kernels_with_fused_relu_match_the_reference(stride, pad, need_dx, chunk):
    """Forward = ReLU(direct sum); backward = the reference backward of dy·[y > 0]; no dx when not asked.

    Any chunk size (1, one that does not divide the batch, one larger than it) gives the same numbers.
    """
    x, w, b = _conv_data(stride, pad, 3, 3, 5, O=4, seed=41)
    N, Ch, H, W = x.shape
    O = w.shape[0]
    OH, OW = (H + 2 * pad - 3) // stride + 1, (W + 2 * pad - 3) // stride + 1
    cols = np.full(Ch * 9 * chunk * OH * OW, np.nan)
    yt = np.full(O * chunk * OH * OW, np.nan)
    y = np.empty((N, O, OH, OW))
    G.conv2d_forward(x, 0, N, w, b, True, True, stride, pad, chunk, cols, yt, y)
    z = ref_conv(x, w, b, stride, pad)
    np.testing.assert_allclose(y, np.maximum(z, 0), rtol=1e-12, atol=1e-12)
    assert (y == 0).any() and (y > 0).any()
    dy = np.random.default_rng(42).standard_normal(y.shape)
    dx, dw, db = np.full_like(x, np.nan), np.full_like(w, np.nan), np.zeros(O)
    G.conv2d_backward(x, 0, N, w, dy, y, True, stride, pad, chunk, cols, yt, np.empty_like(cols), dx, dw, db, True,
                      need_dx)
    rdx, rdw, rdb = ref_conv_backward(x, w, dy * (z > 0), stride, pad)
    np.testing.assert_allclose(dw, rdw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, rdb, rtol=1e-12, atol=1e-12)
    if need_dx:
        np.testing.assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12)
    else:
        assert np.all(np.isnan(dx))


@pytest.mark.parametrize("k", [2, 3])
def test_maxpool_nan_wins_the_window(k):
    """PyTorch's rule ``val > max || isnan(val)``: a NaN takes the window, a later NaN takes it from it."""
    x = np.zeros((1, 1, k, k))
    x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 0, 0] = np.nan, np.nan, 5.0
    y, idx = np.empty((1, 1, 1, 1)), np.empty((1, 1, 1, 1), np.int64)
    K.maxpool2d_forward(x, k, k, y, idx)
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == k        # the second NaN, at (1, 0)
