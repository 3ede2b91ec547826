"""Forward and backward pass of a whole :class:`~simulations.nn.model_spec.ModelSpec` network on the device.

The numba.cuda counterpart of :mod:`simulations.nn.conv_net`, with the same layer order, the
same mathematics and the same flat gradient layout (``spec.param_layout()``): a
:class:`CudaConvWorkspace` allocates every device buffer once (activations, max-pool argmax,
BatchNorm statistics, two ping-pong gradient buffers, the flat gradient, block scratch), and
:func:`forward`, :func:`loss_and_grad` and :func:`evaluate` launch the kernels of
:mod:`simulations.nn.backends.cuda_conv` on the first ``n`` rows of device arrays, allocating
nothing on the device. Backpropagation (Rumelhart, Hinton & Williams 1986) runs the layers in
reverse from the first parameterised layer on; each writes its parameter gradient at its
offsets of the flat gradient. Losses: mean cross-entropy or mean ½‖z − e_y‖²
(:func:`simulations.nn.backends.pointwise.row_loss_grad`). A
:class:`~simulations.nn.layers.BasicBlock` is y = ReLU(BN₂(conv₂(ReLU(BN₁(conv₁(x))))) + s(x))
(He, Zhang, Ren & Sun 2016, CVPR), s the identity, option A or option B.

``train=True`` uses the batch statistics in every BatchNorm and updates the running statistics
in ``buffers`` in place (the device array), as a PyTorch module in training mode; ``train=False``
uses them. Unlike the CPU kernels, kernels, strides and paddings may be rectangular. Arguments
are device arrays of the spec's dtype; their shapes and dtypes are checked on the host, the
labels' range and the finiteness of the results on the device (one small copy per call, the
only synchronisation). The running statistics themselves are not inspected.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulations._core.codes import ACT_RELU, ACT_SOFTPLUS, ACT_TANH, LOSS_CODES
from simulations._core.device import check_device_array, is_device_array, require_cuda
from simulations._core.validation import check_bool, check_int
from simulations.nn import layers as L
from simulations.nn.backends import cuda_conv as gk
from simulations.nn.conv_net import BATCH_MAX, WORKSPACE_BYTES_MAX
from simulations.nn.model import MLPSpec
from simulations.nn.model_spec import ModelSpec

__all__ = ["CudaConvWorkspace", "forward", "loss_and_grad", "evaluate"]

_INPLACE_AFTER = (L.Conv2d, L.BatchNorm2d, L.Dense, L.MaxPool2d, L.AvgPool2d, L.GlobalAvgPool, L.BasicBlock, L.ReLU)
_ACT = {"ReLU": ACT_RELU, "Tanh": ACT_TANH, "Softplus": ACT_SOFTPLUS}


class _Alloc:
    """Device buffers of (N, *shape), counted against :data:`WORKSPACE_BYTES_MAX`."""

    def __init__(self, cuda, N: int, dt: np.dtype):
        self.cuda, self.N, self.dt, self.bytes, self.scratch = cuda, N, dt, 0, 0

    def __call__(self, shape, dtype=None, batch=True):
        dt = np.dtype(dtype or self.dt)
        size = (self.N if batch else 1) * math.prod(shape)
        self.bytes += size * dt.itemsize
        if self.bytes > WORKSPACE_BYTES_MAX:
            raise ValueError(f"batch_size {self.N} needs more than WORKSPACE_BYTES_MAX = {WORKSPACE_BYTES_MAX} "
                             f"bytes of device buffers for this spec; use a smaller batch_size")
        return _Buf(self.cuda.device_array(max(size, 1), dt), tuple(shape)) if batch else \
            self.cuda.device_array(tuple(shape), dt)


class _Buf:
    """A flat device buffer; ``buf(n)`` is the (n, *shape) view of its first n rows."""

    def __init__(self, flat, shape):
        self.flat, self.shape, self.size = flat, shape, math.prod(shape)

    def __call__(self, n: int):
        return self.flat[:n * self.size].reshape((n, *self.shape))


def _view(flat, off: int, shape):
    return flat[off:off + math.prod(shape)].reshape(shape)


class _Conv:
    def __init__(self, e, stride, pad, out_shape, A):
        self.e, self.stride, self.pad, self.y = e, tuple(stride), tuple(pad), A(out_shape)
        self.has_b = e.bias_shape is not None

    def forward(self, x, ws, n, train):
        e, y = self.e, self.y(n)
        b = ws.flat[e.bias_offset:e.end] if self.has_b else ws.dummy
        gk.conv2d_forward(x, _view(ws.flat, e.weight_offset, e.weight_shape), b, self.has_b, self.stride, self.pad, y)
        return y

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        e = self.e
        db = ws.grad[e.bias_offset:e.end] if self.has_b else ws.dummy
        gk.conv2d_backward(x, _view(ws.flat, e.weight_offset, e.weight_shape), dy, self.stride, self.pad, dx,
                           _view(ws.grad, e.weight_offset, e.weight_shape), db, self.has_b, need_dx)
        return dx


class _BatchNorm:
    def __init__(self, e, be, lay, out_shape, A):
        self.e, self.be, self.eps, self.m, self.y = e, be, float(lay.eps), float(lay.momentum), A(out_shape)
        self.mean, self.istd = A((out_shape[0],), batch=False), A((out_shape[0],), batch=False)

    def forward(self, x, ws, n, train):
        e, be, y = self.e, self.be, self.y(n)
        g, b = ws.flat[e.weight_offset:e.bias_offset], ws.flat[e.bias_offset:e.end]
        rm, rv = ws.buffers[be.mean_offset:be.var_offset], ws.buffers[be.var_offset:be.var_offset + be.channels]
        if train:
            gk.batchnorm_forward_train(x, g, b, self.eps, self.m, rm, rv, self.mean, self.istd, y)
        else:
            gk.batchnorm_forward_eval(x, g, b, self.eps, rm, rv, self.mean, self.istd, y)
        return y

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        e = self.e
        kern = gk.batchnorm_backward_train if train else gk.batchnorm_backward_eval
        kern(dy, x, ws.flat[e.weight_offset:e.bias_offset], self.mean, self.istd, dx,
             ws.grad[e.weight_offset:e.bias_offset], ws.grad[e.bias_offset:e.end])
        return dx


class _Pool:
    """Max, average (window ``lay.kernel``, ``lay.stride``) or global average pooling."""

    def __init__(self, lay, out_shape, A):
        self.kind = type(lay).__name__
        self.k, self.s = (tuple(lay.kernel), tuple(lay.stride)) if self.kind != "GlobalAvgPool" else (None, None)
        self.y = A(out_shape)
        self.arg = A(out_shape, np.int64) if self.kind == "MaxPool2d" else None

    def forward(self, x, ws, n, train):
        if self.kind == "MaxPool2d":
            gk.maxpool2d_forward(x, self.k, self.s, self.y(n), self.arg(n))
        elif self.kind == "AvgPool2d":
            gk.avgpool2d_forward(x, self.k, self.s, self.y(n))
        else:
            gk.global_avgpool_forward(x, self.y(n))
        return self.y(n)

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        if self.kind == "MaxPool2d":
            gk.maxpool2d_backward(dy, self.arg(n), self.k, self.s, dx)
        elif self.kind == "AvgPool2d":
            gk.avgpool2d_backward(dy, self.k, self.s, dx)
        else:
            gk.global_avgpool_backward(dy, dx)
        return dx


class _Flatten:
    def __init__(self, out_shape):
        self.d = out_shape[0]

    def forward(self, x, ws, n, train):
        return x.reshape((n, self.d))


class _Dense:
    def __init__(self, e, out_shape, A):
        self.e, self.y, self.has_b = e, A(out_shape), e.bias_shape is not None

    def forward(self, x, ws, n, train):
        e, y = self.e, self.y(n)
        b = ws.flat[e.bias_offset:e.end] if self.has_b else ws.dummy
        gk.dense_forward(x, _view(ws.flat, e.weight_offset, e.weight_shape), b, self.has_b, y)
        return y

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        e = self.e
        db = ws.grad[e.bias_offset:e.end] if self.has_b else ws.dummy
        gk.dense_backward(x, _view(ws.flat, e.weight_offset, e.weight_shape), dy, dx,
                          _view(ws.grad, e.weight_offset, e.weight_shape), db, self.has_b, need_dx)
        return dx


class _Activation:
    """ReLU (in place on its input when ``inplace``), tanh, softplus; the backward reads the output a."""

    def __init__(self, lay, out_shape, A, inplace: bool):
        self.act = _ACT[type(lay).__name__]
        self.y = None if inplace else A(out_shape)

    def forward(self, x, ws, n, train):
        y = x if self.y is None else self.y(n)
        gk.activation_forward(x, y, self.act)
        self.out = y
        return y

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        gk.activation_backward(dy, self.out, dx, self.act)
        return dx


class _Block:
    def __init__(self, lay, entries, buffers, in_shape, out_shape, A):
        C, O = in_shape[0], lay.out_channels
        self.kind = "I" if not lay.projects(C) else lay.shortcut
        self.s, self.p = lay.stride, (O - C) // 2
        bn, s = L.BatchNorm2d(), (lay.stride, lay.stride)
        self.mid_shape = mid_shape = (lay.width,) + tuple(out_shape[1:])
        self.conv1 = _Conv(entries[0], s, (1, 1), mid_shape, A)
        self.bn1 = _BatchNorm(entries[1], buffers[0], bn, mid_shape, A)
        self.conv2 = _Conv(entries[2], (1, 1), (1, 1), out_shape, A)
        self.bn2 = _BatchNorm(entries[3], buffers[1], bn, out_shape, A)
        if self.kind == "B":
            self.sconv = _Conv(entries[4], s, (0, 0), out_shape, A)
            self.sbn = _BatchNorm(entries[5], buffers[2], bn, out_shape, A)
        A.scratch = max(A.scratch, math.prod(in_shape), math.prod(out_shape), math.prod(mid_shape))

    def forward(self, x, ws, n, train):
        b1 = self.bn1.forward(self.conv1.forward(x, ws, n, train), ws, n, train)
        gk.relu_forward(b1, b1)
        out = self.bn2.forward(self.conv2.forward(b1, ws, n, train), ws, n, train)
        if self.kind == "I":
            gk.add_into(out, x)
        elif self.kind == "A":
            gk.shortcut_a_add(out, x, self.s, self.p)
        else:
            gk.add_into(out, self.sbn.forward(self.sconv.forward(x, ws, n, train), ws, n, train))
        gk.relu_forward(out, out)
        return out

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        dz, d2 = ws.scratch(0, dy.shape), ws.scratch(1, dy.shape)
        d1 = ws.scratch(2, (dy.shape[0],) + self.mid_shape)
        gk.relu_backward(dy, self.bn2.y(n), dz)
        self.bn2.backward(self.conv2.y(n), dz, d2, ws, n, train, True)
        b1 = self.bn1.y(n)
        self.conv2.backward(b1, d2, d1, ws, n, train, True)
        gk.relu_backward(d1, b1, d1)
        self.bn1.backward(self.conv1.y(n), d1, d1, ws, n, train, True)
        self.conv1.backward(x, d1, dx, ws, n, train, need_dx)
        if self.kind == "B":
            self.sbn.backward(self.sconv.y(n), dz, dz, ws, n, train, True)
            t = ws.scratch(3, x.shape)
            self.sconv.backward(x, dz, t, ws, n, train, need_dx)
            if need_dx:
                gk.add_into(dx, t)
        elif need_dx and self.kind == "I":
            gk.add_into(dx, dz)
        elif need_dx:
            gk.shortcut_a_add_adjoint(dx, dz, self.s, self.p)
        return dx


class CudaConvWorkspace:
    """Every device buffer of the forward (and, if ``backward``, the backward) pass of ``spec`` on ≤ ``batch_size`` rows.

    spec : ModelSpec (an MLPSpec is converted with :meth:`ModelSpec.from_mlp`)
    batch_size : int in [1, :data:`simulations.nn.conv_net.BATCH_MAX`], the largest ``n`` a call may pass
    backward : bool, whether to allocate the gradient buffers (False for :func:`forward`/:func:`evaluate` only)

    The buffers total at most :data:`simulations.nn.conv_net.WORKSPACE_BYTES_MAX` bytes (else a
    ValueError naming batch_size). ``ws.grad`` is the flat gradient (device, length ``spec.n_params``).
    """

    def __init__(self, spec: Any, batch_size: int, backward: bool = True):
        cuda = require_cuda()
        if isinstance(spec, MLPSpec):
            spec = ModelSpec.from_mlp(spec)
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"spec must be a ModelSpec (or an MLPSpec), got {type(spec).__name__}")
        N = check_int("batch_size", batch_size, 1, BATCH_MAX)
        self.spec, self.batch_size, self.backward = spec, N, check_bool("backward", backward)
        A = _Alloc(cuda, N, spec.np_dtype)
        shapes = (spec.input_shape,) + spec.shapes()
        self.ops, self.bn_plane = [], None
        for i, lay in enumerate(spec.layers):
            ents = [e for e in spec.param_layout() if e.layer == i]
            bufs = [b for b in spec.buffer_layout() if b.layer == i]
            si, so = shapes[i:i + 2]
            if isinstance(lay, L.Conv2d):
                op = _Conv(ents[0], lay.stride, lay.padding, so, A)
            elif isinstance(lay, L.BatchNorm2d):
                op = _BatchNorm(ents[0], bufs[0], lay, so, A)
            elif isinstance(lay, (L.MaxPool2d, L.AvgPool2d, L.GlobalAvgPool)):
                op = _Pool(lay, so, A)
            elif isinstance(lay, L.Flatten):
                op = _Flatten(so)
            elif isinstance(lay, L.Dense):
                op = _Dense(ents[0], so, A)
            elif isinstance(lay, L.BasicBlock):
                op = _Block(lay, ents, bufs, si, so, A)
            else:
                op = _Activation(lay, so, A, inplace=i > 0 and isinstance(lay, L.ReLU)
                                 and isinstance(spec.layers[i - 1], _INPLACE_AFTER))
            if isinstance(lay, (L.BatchNorm2d, L.BasicBlock)):
                plane = so[1] * so[2]
                self.bn_plane = plane if self.bn_plane is None else min(self.bn_plane, plane)
            self.ops.append(op)
        self.ins = [None] * len(self.ops)
        self.first = next((i for i, lay in enumerate(spec.layers) if lay.param_shapes(shapes[i], "") != []),
                          len(spec.layers))
        self.loss = LOSS_CODES[spec.loss]
        self.dummy = A((1,), batch=False)
        self.no_buffers = A((0,), batch=False)
        self.no_rows = A((0, spec.n_classes), batch=False)
        self.acc = A((4,), np.float64, batch=False)   # [Σ loss, Σ correct, non-finite flag, bad-label flag]
        self._zeros = np.zeros(4)
        self.last_acc = None  # the host copy of acc made by the last call (see _read)
        if self.backward:
            act = max(math.prod(s) for s in shapes)
            self._d = [A((act,)).flat for _ in range(2)]
            self._s = [A((A.scratch,)).flat for _ in range(4)] if A.scratch else []
            self.grad = A((spec.n_params,), batch=False)
        self.nbytes = A.bytes
        self.flat = self.buffers = None

    def d(self, i: int, shape):
        return self._d[i][:math.prod(shape)].reshape(tuple(shape))

    def scratch(self, i: int, shape):
        return self._s[i][:math.prod(shape)].reshape(tuple(shape))


def _prepare(ws, flat, buffers, X, n, train: bool, backward: bool):
    """Check the arguments, set ws.flat and ws.buffers, zero ws.acc; return (n, X as a numba device array)."""
    if not isinstance(ws, CudaConvWorkspace):
        raise TypeError(f"ws must be a CudaConvWorkspace, got {type(ws).__name__}")
    spec, dt = ws.spec, ws.spec.np_dtype
    if backward and not ws.backward:
        raise ValueError("ws was built with backward=False: build CudaConvWorkspace(spec, batch_size) for gradients")
    ws.flat = check_device_array("flat", flat, dt, shape=(spec.n_params,))
    if buffers is None and spec.n_buffers == 0:
        buffers = ws.no_buffers
    if buffers is None:
        raise TypeError(f"buffers must be a device array of {spec.n_buffers} entries (init_model_buffers(spec) "
                        "copied to the device), got None")
    ws.buffers = check_device_array("buffers", buffers, dt, shape=(spec.n_buffers,))
    X = check_device_array("X", X, dt, ndim=1 + len(spec.input_shape))
    if tuple(X.shape[1:]) != spec.input_shape or not X.is_c_contiguous():
        raise ValueError(f"X must be C-contiguous of shape (rows, {', '.join(map(str, spec.input_shape))}), "
                         f"got {tuple(X.shape)}")
    n = check_int("n", n, 1, min(ws.batch_size, max(1, X.shape[0])))
    if n > X.shape[0]:
        raise ValueError(f"n must be in [1, {X.shape[0]}] (the rows of X), got {n}")
    if train and ws.bn_plane is not None and n * ws.bn_plane < 2:
        raise ValueError(f"n = {n}: training-mode BatchNorm needs at least 2 values per channel "
                         f"(n × H × W ≥ 2; a layer here has a {ws.bn_plane}-entry map); pass train=False")
    ws.acc.copy_to_device(ws._zeros)
    return n, X


def _labels(y, n: int):
    if not is_device_array(y):
        raise TypeError(f"y must be a CUDA device array of int32/int64 labels, got host object {type(y).__name__}")
    dt = np.dtype(y.dtype)
    if dt not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise TypeError(f"y must be an int32 or int64 device array, got dtype {dt.name}")
    y = check_device_array("y", y, dt, ndim=1)
    if y.shape[0] < n:
        raise ValueError(f"y must have at least n = {n} entries, got {y.shape[0]}")
    return y


def _forward(ws, X, n, train):
    h = X[:n]
    for i, op in enumerate(ws.ops):
        ws.ins[i] = h
        h = op.forward(h, ws, n, train)
    return h


def _read(ws, what: str) -> np.ndarray:
    acc = ws.acc.copy_to_host()
    ws.last_acc = acc  # [Σ loss, Σ correct, flags] of the last call, kept for callers that need the counts
    if acc[3]:
        raise ValueError(f"y must hold class labels in [0, {ws.spec.n_classes - 1}]")
    if acc[2] or not math.isfinite(acc[0]):
        raise ValueError(f"{what} overflowed the dtype: flat or X too large in magnitude")
    return acc


def forward(ws: CudaConvWorkspace, flat: Any, buffers: Any, X: Any, n: int, train: bool = False):
    """Logits (n, K), a device view of ``ws``'s buffer (overwritten by the next call), of the first n rows of X.

    ws: a :class:`CudaConvWorkspace` with batch_size ≥ n; flat (spec.n_params,), buffers
    (spec.n_buffers,; None when the spec has no BatchNorm) and X (rows ≥ n, *spec.input_shape),
    C-contiguous, device arrays of the spec's dtype. ``train``: BatchNorm uses the batch statistics
    and updates ``buffers`` in place. Non-finite logits are a ValueError.
    """
    train = check_bool("train", train)
    n, X = _prepare(ws, flat, buffers, X, n, train, False)
    out = _forward(ws, X, n, train)
    gk.flag_nonfinite(out, ws.acc, 2)
    _read(ws, "the logits")
    return out


def loss_and_grad(ws: CudaConvWorkspace, flat: Any, buffers: Any, X: Any, y: Any, n: int,
                  train: bool = True) -> tuple[float, Any]:
    """(mean loss, ∂ mean loss/∂flat) on the first n rows of (X, y), as :func:`simulations.nn.conv_net.loss_and_grad`.

    Arguments as :func:`forward`; y an int32/int64 device array of labels in [0, n_classes) (checked
    on the device). The gradient is ``ws.grad`` (device, the layout of ``flat``), overwritten by the
    next call. ``train=True`` updates ``buffers`` in place. Non-finite results are a ValueError.
    """
    train = check_bool("train", train)
    n, X = _prepare(ws, flat, buffers, X, n, train, True)
    y = _labels(y, n)
    logits = _forward(ws, X, n, train)
    D = ws.d(0, logits.shape)
    gk.loss_grad(logits, y[:n], D, 1.0 / n, ws.loss, ws.acc)
    k = 0
    for i in range(len(ws.ops) - 1, ws.first - 1, -1):
        x, op = ws.ins[i], ws.ops[i]
        if isinstance(op, _Flatten):
            D = D.reshape(tuple(x.shape))
            continue
        D = op.backward(x, D, ws.d(1 - k, x.shape), ws, n, train, i > ws.first)
        k = 1 - k
    gk.flag_nonfinite(ws.grad, ws.acc, 2)
    acc = _read(ws, "the loss or its gradient")
    return float(acc[0] / n), ws.grad


def evaluate(ws: CudaConvWorkspace, flat: Any, buffers: Any, X: Any, y: Any, n: int | None = None) -> tuple[float, float]:
    """(mean loss, accuracy) of the evaluation-mode network on the first n rows (default: all) of (X, y).

    Runs in chunks of ``ws.batch_size`` rows; one synchronisation at the end. The accuracy counts
    the rows whose first maximal logit is the label.
    """
    if not isinstance(ws, CudaConvWorkspace):
        raise TypeError(f"ws must be a CudaConvWorkspace, got {type(ws).__name__}")
    rows = X.shape[0] if is_device_array(X) and len(X.shape) else 0
    n = rows if n is None else check_int("n", n, 1, max(1, rows))
    _, X = _prepare(ws, flat, buffers, X, min(n, ws.batch_size), False, False)
    y = _labels(y, n)
    for s in range(0, n, ws.batch_size):
        m = min(ws.batch_size, n - s)
        z = _forward(ws, X[s:s + m], m, False)
        gk.loss_grad(z, y[s:s + m], ws.no_rows, 1.0, ws.loss, ws.acc)
    acc = _read(ws, "the loss")
    return float(acc[0] / n), float(acc[1] / n)
