"""Device kernels of the convolutional core and the device network pass, on the CUDA simulator.

Oracles: the CPU pooling, ReLU and BatchNorm kernels (``cpu_conv``, ``cpu_batchnorm``) and the
CPU network pass (``conv_net``: convolution as im2col + BLAS GEMM), independent implementations
of the same documented mathematics (the device computes the convolution directly and its
adjoints and the pooling gradients by gathering instead of scattering, BatchNorm sums by a tree
reduction instead of a loop); a numpy direct-sum convolution written here (rectangular strides
and paddings included, which the CPU kernels do not take) and numpy products for dense layers.

Tolerance (float64): both sides compute every entry as a sum of at most a few hundred products,
in different orders; each such sum is within n·u·Σ|terms| of the exact one (u = 2⁻⁵³ ≈ 1.1e-16,
Higham 2002, Lemma 3.1), i.e. ≲ 1e-13 relative here even after the BatchNorm normalisation
(a division by σ ≳ 0.1 of unit-scale data). RTOL = 1e-10 leaves a wide margin for that while
any wrong index, tie rule or statistic changes entries by O(1e-2) or more.
"""
from __future__ import annotations

import itertools

import _cuda_setup  # noqa: F401  (sets NUMBA_ENABLE_CUDASIM before numba.cuda is imported)
import numpy as np
import pytest

SIM = _cuda_setup.require()
pytestmark = _cuda_setup.PYTESTMARK

from numba import cuda  # noqa: E402

from simulations._core.codes import ACT_SOFTPLUS, ACT_TANH  # noqa: E402
from simulations.nn import conv_net as cn  # noqa: E402
from simulations.nn import cuda_conv_net as gn  # noqa: E402
from simulations.nn import layers as L  # noqa: E402
from simulations.nn.backends import cpu_batchnorm as cbn  # noqa: E402
from simulations.nn.backends import cpu_conv as ck  # noqa: E402
from simulations.nn.backends import cuda_conv as gk  # noqa: E402
from simulations.nn.model_spec import ModelSpec, init_model_buffers, init_model_params  # noqa: E402

RTOL = 1e-10


def close(got, want, rtol=RTOL):
    """Entry-wise |got − want| ≤ rtol · max(1, max|want|) (the scale of the tensor)."""
    got = got.copy_to_host() if hasattr(got, "copy_to_host") else np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=rtol * max(1.0, float(np.max(np.abs(want), initial=0.0))))


def dev(a):
    return cuda.to_device(np.ascontiguousarray(a))


def zeros(shape, dtype=np.float64):
    return cuda.to_device(np.zeros(shape, dtype))


# ------------------------------------------------------------------------------------------ kernels
def ref_conv(x, w, b, stride, pad, dy):
    """y, dx, dw, db of a convolution by its defining sum over the zero-padded input (adjoints by scattering)."""
    (sh, sw), (ph, pw) = stride, pad
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    OH, OW = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    y, dxp, dw = np.zeros((N, O, OH, OW)), np.zeros(xp.shape), np.zeros(w.shape)
    for n, o, a, c in itertools.product(range(N), range(O), range(OH), range(OW)):
        win = (n, slice(None), slice(a * sh, a * sh + kh), slice(c * sw, c * sw + kw))
        y[n, o, a, c] = np.sum(w[o] * xp[win]) + b[o]
        if dy is not None:
            dxp[win] += dy[n, o, a, c] * w[o]
            dw[o] += dy[n, o, a, c] * xp[win]
    db = None if dy is None else dy.sum(axis=(0, 2, 3))
    return y, dxp[:, :, ph:ph + H, pw:pw + W], dw, db


@pytest.mark.parametrize("N,C,H,W,O,k,s,p,bias", [
    (2, 2, 6, 6, 3, (3, 3), (1, 1), (0, 0), True),
    (2, 3, 7, 5, 2, (3, 3), (2, 2), (1, 1), False),
    (3, 1, 5, 6, 2, (2, 3), (1, 1), (2, 2), True),      # rectangular kernel, padding larger than needed
    (2, 2, 7, 6, 3, (3, 2), (2, 1), (0, 1), True),      # rectangular stride and padding
])
def test_conv2d_matches_direct_sum(N, C, H, W, O, k, s, p, bias):
    rng = np.random.default_rng(N * 100 + C * 10 + H)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, *k)), rng.standard_normal(O)
    y, _, _, _ = ref_conv(x, w, b if bias else np.zeros(O), s, p, None)
    dy = rng.standard_normal(y.shape)
    _, dx, dw, db = ref_conv(x, w, b, s, p, dy)
    yd, dxd, dwd, dbd = zeros(y.shape), zeros(x.shape), zeros(w.shape), cuda.to_device(np.full(O, 7.0))
    xd, wd = dev(x), dev(w)
    gk.conv2d_forward(xd, wd, dev(b), bias, s, p, yd)
    gk.conv2d_backward(xd, wd, dev(dy), s, p, dxd, dwd, dbd, bias, True)
    close(yd, y)
    close(dxd, dx)
    close(dwd, dw)
    close(dbd, db if bias else np.full(O, 7.0))     # untouched without a bias


@pytest.mark.parametrize("k,s", [(2, 2), (3, 2), (2, 1)])
def test_maxpool_matches_cpu_with_ties_and_nan(k, s):
    rng = np.random.default_rng(k * 10 + s)
    x = rng.integers(0, 3, size=(2, 2, 7, 6)).astype(np.float64)     # many ties: first index must win
    x[0, 0, 1, 1] = np.nan                                            # a NaN wins its windows
    x[1, 1, :3, :3] = -np.inf                                         # an all −inf window keeps its first index
    OH, OW = (7 - k) // s + 1, (6 - k) // s + 1
    y, arg, dx = np.zeros((2, 2, OH, OW)), np.zeros((2, 2, OH, OW), np.int64), np.zeros(x.shape)
    dy = rng.standard_normal(y.shape)
    ck.maxpool2d_forward(x, k, s, y, arg)
    ck.maxpool2d_backward(dy, arg, dx)
    yd, argd, dxd = zeros(y.shape), zeros(y.shape, np.int64), zeros(x.shape)
    gk.maxpool2d_forward(dev(x), (k, k), (s, s), yd, argd)
    gk.maxpool2d_backward(dev(dy), argd, (k, k), (s, s), dxd)
    np.testing.assert_array_equal(argd.copy_to_host(), arg)
    np.testing.assert_array_equal(yd.copy_to_host(), y)               # NaN positions included
    close(dxd, dx)


@pytest.mark.parametrize("k,s", [(2, 2), (3, 1)])
def test_avgpool_and_global_avgpool_match_cpu(k, s):
    rng = np.random.default_rng(k + s)
    x = rng.standard_normal((2, 3, 7, 6))
    OH, OW = (7 - k) // s + 1, (6 - k) // s + 1
    y, dx = np.zeros((2, 3, OH, OW)), np.zeros(x.shape)
    dy = rng.standard_normal(y.shape)
    ck.avgpool2d_forward(x, k, s, y)
    ck.avgpool2d_backward(dy, k, s, dx)
    yd, dxd = zeros(y.shape), zeros(x.shape)
    gk.avgpool2d_forward(dev(x), (k, k), (s, s), yd)
    gk.avgpool2d_backward(dev(dy), (k, k), (s, s), dxd)
    close(yd, y)
    close(dxd, dx)
    g, dg, dgy = np.zeros((2, 3)), np.zeros(x.shape), rng.standard_normal((2, 3))
    ck.global_avgpool_forward(x, g)
    ck.global_avgpool_backward(dgy, dg)
    gd, dgd = zeros((2, 3)), zeros(x.shape)
    gk.global_avgpool_forward(dev(x), gd)
    gk.global_avgpool_backward(dev(dgy), dgd)
    close(gd, g)
    close(dgd, dg)


def test_activations_match_cpu_and_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4, 5))
    x[0, 0, 0, :2] = 0.0                                 # ReLU' at 0 is 0
    dy = rng.standard_normal(x.shape)
    y, dx = np.zeros(x.shape), np.zeros(x.shape)
    ck.relu_forward(x, y)
    ck.relu_backward(dy, y, dx)
    xd = dev(x)
    gk.relu_forward(xd, xd)                              # in place
    close(xd, y)
    dyd = dev(dy)
    gk.relu_backward(dyd, xd, dyd)                       # in place
    close(dyd, dx)
    for act, f, fprime in [(ACT_TANH, np.tanh, lambda z: 1 - np.tanh(z) ** 2),
                           (ACT_SOFTPLUS, lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))]:
        yd, dxd = zeros(x.shape), zeros(x.shape)
        gk.activation_forward(dev(x), yd, act)
        gk.activation_backward(dev(dy), yd, dxd, act)
        close(yd, f(x))
        close(dxd, dy * fprime(x))


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_matches_cpu(train):
    rng = np.random.default_rng(11 + train)
    N, C, H, W = 3, 2, 5, 4
    x = 2.0 + 1.5 * rng.standard_normal((N, C, H, W))
    g, b = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2.0, C)
    dy = rng.standard_normal(x.shape)
    y, mean, istd, dx, dg, db = (np.zeros(x.shape), np.zeros(C), np.zeros(C), np.zeros(x.shape), np.zeros(C),
                                 np.zeros(C))
    rmc, rvc = rm.copy(), rv.copy()
    rmd, rvd, meand, istdd, yd = dev(rm), dev(rv), zeros(C), zeros(C), zeros(x.shape)
    if train:
        cbn.batchnorm_forward_train(x, g, b, 1e-5, 0.1, rmc, rvc, mean, istd, y)
        cbn.batchnorm_backward_train(dy, x, g, mean, istd, dx, dg, db)
        gk.batchnorm_forward_train(dev(x), dev(g), dev(b), 1e-5, 0.1, rmd, rvd, meand, istdd, yd)
    else:
        cbn.batchnorm_forward_eval(x, g, b, 1e-5, rmc, rvc, mean, istd, y)
        cbn.batchnorm_backward_eval(dy, x, g, mean, istd, dx, dg, db)
        gk.batchnorm_forward_eval(dev(x), dev(g), dev(b), 1e-5, rmd, rvd, meand, istdd, yd)
    close(yd, y)
    close(meand, mean)
    close(istdd, istd)
    close(rmd, rmc)
    close(rvd, rvc)
    if train:   # the running variance takes the unbiased batch variance (PyTorch's convention)
        M = N * H * W
        close(rvd, 0.9 * rv + 0.1 * x.var(axis=(0, 2, 3)) * M / (M - 1))
    dyd, dgd, dbd = dev(dy), zeros(C), zeros(C)
    kern = gk.batchnorm_backward_train if train else gk.batchnorm_backward_eval
    kern(dyd, dev(x), dev(g), meand, istdd, dyd, dgd, dbd)    # dx written over dy
    close(dyd, dx)
    close(dgd, dg)
    close(dbd, db)


def test_dense_matches_numpy():
    rng = np.random.default_rng(7)
    a, w, b = rng.standard_normal((3, 20)), rng.standard_normal((5, 20)), rng.standard_normal(5)
    dz = rng.standard_normal((3, 5))
    zd, dxd, dwd, dbd = zeros((3, 5)), zeros((3, 20)), zeros((5, 20)), zeros(5)
    gk.dense_forward(dev(a), dev(w), dev(b), True, zd)
    gk.dense_backward(dev(a), dev(w), dev(dz), dxd, dwd, dbd, True, True)
    close(zd, a @ w.T + b)
    close(dxd, dz @ w)
    close(dwd, dz.T @ a)
    close(dbd, dz.sum(0))


# ------------------------------------------------------------------------------------------ networks
def _net(dtype="float64"):
    return ModelSpec((2, 8, 8), (L.Conv2d(3, 3, padding=1), L.ReLU(), L.MaxPool2d(2), L.Conv2d(4, 3, bias=False),
                                 L.BatchNorm2d(momentum=0.3), L.ReLU(), L.AvgPool2d(2, 1), L.Flatten(), L.Dense(3)),
                     3, dtype=dtype)


def _data(spec, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *spec.input_shape)).astype(spec.np_dtype)
    return X, rng.integers(0, spec.n_classes, n)


def _buffers(spec, seed=1):
    buf = init_model_buffers(spec)
    rng = np.random.default_rng(seed)
    for e in spec.buffer_layout():       # non-trivial running statistics, so evaluation mode uses them
        buf[e.mean_offset:e.var_offset] = rng.standard_normal(e.channels) * 0.3
        buf[e.var_offset:e.var_offset + e.channels] = rng.uniform(0.5, 2.0, e.channels)
    return buf


@pytest.mark.parametrize("train", [True, False])
def test_network_loss_grad_and_running_stats_match_conv_net(train):
    spec = _net()
    flat, buf = init_model_params(spec, 3), _buffers(spec)
    X, y = _data(spec, 3)
    bc = buf.copy()
    loss, grad = cn.loss_and_grad(spec, flat, bc, X, y, train=train)
    ws = gn.CudaConvWorkspace(spec, 4)
    bd = dev(buf)
    loss_d, grad_d = gn.loss_and_grad(ws, dev(flat), bd, dev(X), dev(y), 3, train=train)
    assert abs(loss_d - loss) <= RTOL * abs(loss)
    close(grad_d, grad)
    close(bd, bc)
    assert train == (not np.array_equal(bc, buf))       # train updates the running statistics, eval does not


def test_forward_and_evaluate_match_conv_net():
    spec = _net()
    flat, buf = init_model_params(spec, 4), _buffers(spec)
    X, y = _data(spec, 5, seed=2)
    ws = gn.CudaConvWorkspace(spec, 2, backward=False)   # evaluate runs in chunks of 2, 2, 1 rows
    fd, bd, Xd, yd = dev(flat), dev(buf), dev(X), dev(y.astype(np.int32))
    close(gn.forward(ws, fd, bd, Xd, 2), cn.forward(spec, flat, buf.copy(), X[:2]))
    loss, acc = cn.evaluate(spec, flat, buf, X, y, batch_size=5)
    loss_d, acc_d = gn.evaluate(ws, fd, bd, Xd, yd)
    assert abs(loss_d - loss) <= RTOL * abs(loss) and acc_d == acc
    close(bd, buf)                                       # evaluation leaves the buffers alone


@pytest.mark.parametrize("mid", [None, (1, 3, 2)])
def test_basic_blocks_match_conv_net(mid):
    """Blocks of full inner width, and narrowed ones (``mid_channels``, as filter pruning leaves them)."""
    m = mid or (None, None, None)
    spec = ModelSpec((2, 4, 4), (L.Conv2d(2, 3, padding=1, bias=False), L.BasicBlock(2, mid_channels=m[0]),
                                 L.BasicBlock(4, stride=2, shortcut="B", mid_channels=m[1]),
                                 L.BasicBlock(6, shortcut="A", mid_channels=m[2]),
                                 L.GlobalAvgPool(), L.Dense(3)), 3, loss="squared", dtype="float64")
    flat, buf = init_model_params(spec, 5), _buffers(spec)
    X, y = _data(spec, 2, seed=4)
    bc = buf.copy()
    loss, grad = cn.loss_and_grad(spec, flat, bc, X, y, train=True)
    ws = gn.CudaConvWorkspace(spec, 2)
    bd = dev(buf)
    loss_d, grad_d = gn.loss_and_grad(ws, dev(flat), bd, dev(X), dev(y), 2, train=True)
    assert abs(loss_d - loss) <= RTOL * abs(loss)
    close(grad_d, grad)
    close(bd, bc)


def test_float32_network_close_to_conv_net():
    spec = _net("float32")
    flat, buf = init_model_params(spec, 6), _buffers(spec).astype(np.float32)
    X, y = _data(spec, 2, seed=6)
    loss, grad = cn.loss_and_grad(spec, flat, buf.copy(), X, y, train=True)
    ws = gn.CudaConvWorkspace(spec, 2)
    loss_d, grad_d = gn.loss_and_grad(ws, dev(flat), dev(buf), dev(X), dev(y), 2)
    assert grad_d.dtype == np.float32
    # float32 (u = 6e-8): sums of ≤ 200 terms in different orders, through BatchNorm: well within 1e-4
    assert abs(loss_d - loss) <= 1e-4 * abs(loss)
    close(grad_d, grad, rtol=1e-4)


# the simulator runs the loss on numpy scalars, which warn about inf − inf in the overflow case
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_errors_name_the_argument():
    spec = _net()
    flat, buf = init_model_params(spec, 0), init_model_buffers(spec)
    X, y = _data(spec, 2)
    ws = gn.CudaConvWorkspace(spec, 2)
    fd, bd, Xd, yd = dev(flat), dev(buf), dev(X), dev(y)
    with pytest.raises(TypeError, match="flat"):
        gn.loss_and_grad(ws, flat, bd, Xd, yd, 2)
    with pytest.raises(TypeError, match="flat"):
        gn.loss_and_grad(ws, dev(flat.astype(np.float32)), bd, Xd, yd, 2)
    with pytest.raises(TypeError, match="buffers"):
        gn.loss_and_grad(ws, fd, None, Xd, yd, 2)
    with pytest.raises(ValueError, match="X"):
        gn.loss_and_grad(ws, fd, bd, dev(X[:, :1]), yd, 2)
    with pytest.raises(ValueError, match="^n "):
        gn.loss_and_grad(ws, fd, bd, Xd, yd, 3)
    with pytest.raises(TypeError, match="y"):
        gn.loss_and_grad(ws, fd, bd, Xd, dev(y.astype(np.float64)), 2)
    with pytest.raises(ValueError, match="labels"):
        gn.loss_and_grad(ws, fd, bd, Xd, dev(np.array([0, 3])), 2)
    tiny = ModelSpec((1, 3, 3), (L.Conv2d(2, 3), L.BatchNorm2d(), L.Flatten(), L.Dense(3)), 3, dtype="float64")
    tws = gn.CudaConvWorkspace(tiny, 2)
    targs = (dev(init_model_params(tiny, 0)), dev(init_model_buffers(tiny)), dev(np.zeros((2, 1, 3, 3))), yd)
    with pytest.raises(ValueError, match="BatchNorm"):       # a 1×1 map: one value per channel when n = 1
        gn.loss_and_grad(tws, *targs, 1, train=True)
    gn.loss_and_grad(tws, *targs, 1, train=False)
    with pytest.raises(ValueError, match="backward"):
        gn.loss_and_grad(gn.CudaConvWorkspace(spec, 2, backward=False), fd, bd, Xd, yd, 2)
    with pytest.raises(ValueError, match="batch_size"):
        gn.CudaConvWorkspace(spec, 0)
    with pytest.raises(TypeError, match="spec"):
        gn.CudaConvWorkspace("vgg", 2)
    big, dense = flat.copy(), spec.param_layout()[-1]
    big[dense.weight_offset:dense.end] = 1e308      # 1e308 + Σ of ≥ 0 activations × 1e308 overflows to inf
    with pytest.raises(ValueError, match="overflowed"):
        gn.forward(ws, dev(big), bd, Xd, 2)
    with pytest.raises(ValueError, match="overflowed"):
        gn.loss_and_grad(ws, dev(big), bd, Xd, yd, 2, train=False)
