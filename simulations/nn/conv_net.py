"""Forward and backward pass of a whole :class:`~simulations.nn.model_spec.ModelSpec` network on the CPU.

A :class:`Workspace` is built once per (spec, batch size): every activation, max-pool argmax,
BatchNorm statistic, im2col matrix (one per convolution when the workspace has gradients: the
backward pass reuses the forward's) and gradient buffer is allocated there, so :func:`forward`
and :func:`loss_and_grad` allocate nothing beyond numpy views. Each layer calls the numba kernels
of :mod:`simulations.nn.backends.cpu_conv_gemm` (convolution as im2col + ONE GEMM over the batch,
Chellapilla, Puri & Simard 2006) or, for 3×3 "same" layers with enough channels
(:func:`~simulations.nn.conv_ops.uses_winograd`), of :mod:`simulations.nn.backends.cpu_winograd`
(Winograd's minimal filtering F(2×2, 3×3), Lavin & Gray 2016: 2.25× fewer multiplications),
:mod:`simulations.nn.backends.cpu_conv` (pooling; ReLU),
:mod:`simulations.nn.backends.cpu_batchnorm` (Ioffe & Szegedy 2015)
and the BLAS GEMM of :mod:`simulations.nn.backends.cpu_dense` (dense layers z = a Wᵀ + b);
tanh and softplus use numpy ufuncs written into the preallocated buffers.

Backpropagation (Rumelhart, Hinton & Williams 1986) runs the layers in reverse, each mapping
∂loss/∂(its output) to ∂loss/∂(its input) and writing its parameter gradient into the flat
gradient at the offsets of ``spec.param_layout()`` (the layout of the parameters, so masks and
noise act on it unchanged). The loss is the MLP's (:mod:`simulations.nn.backends.pointwise`):
mean cross-entropy or mean ½‖z − e_y‖². A :class:`~simulations.nn.layers.BasicBlock` is
y = ReLU(BN₂(conv₂(ReLU(BN₁(conv₁(x))))) + s(x)) (He et al. 2016), s the identity, option A
(x[:, :, ::stride, ::stride] in channels (O − C)//2 ... of zeros) or option B (BN(conv1×1(x))).

A Conv2d directly followed by a ReLU runs as one fused layer (max(·, 0) applied while the
convolution writes its output, the mask [y > 0] while its backward reads dy): the same numbers
as the two layers apart.

``train=True`` uses the batch statistics in every BatchNorm and updates the running statistics
in ``buffers`` IN PLACE (as a PyTorch module in training mode); ``train=False`` uses them.
Strides, paddings and kernels must be square (the kernels take one size per window).
"""
from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from simulations._core.codes import LOSS_CODES
from simulations._core.threads import get_blas_threads, openblas_threads
from simulations._core.validation import check_array, check_bool, check_int
from simulations.nn import layers as L
from simulations.nn.backends.cpu_dense import loss_delta
from simulations.nn.conv_ops import (
    WORKSPACE_BYTES_MAX,
    ActivationOp,
    Allocator,
    BasicBlockOp,
    BatchNormOp,
    ConvOp,
    DenseOp,
    FlattenOp,
    GlobalAvgPoolOp,
    PoolOp,
)
from simulations.nn.conv_parallel import Scratch, split_fits
from simulations.nn.data import check_labels
from simulations.nn.model import MLPSpec
from simulations.nn.model_spec import ModelSpec

__all__ = ["Workspace", "forward", "loss_and_grad", "predict", "evaluate", "BATCH_MAX", "WORKSPACE_BYTES_MAX"]

#: largest batch of a workspace
BATCH_MAX = 2**20


_INPLACE_AFTER = (L.Conv2d, L.BatchNorm2d, L.Dense, L.MaxPool2d, L.AvgPool2d, L.GlobalAvgPool, L.BasicBlock, L.ReLU)


def _fuses(layers, i: int) -> bool:
    """Whether layer i is a Conv2d directly followed by a ReLU (fused into the convolution's kernels)."""
    return 0 <= i < len(layers) - 1 and isinstance(layers[i], L.Conv2d) and isinstance(layers[i + 1], L.ReLU)


def _as_spec(spec: Any) -> ModelSpec:
    if isinstance(spec, MLPSpec):
        return ModelSpec.from_mlp(spec)
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec must be a ModelSpec (or an MLPSpec), got {type(spec).__name__}")
    return spec


class Workspace:
    """Every buffer of the forward (and, if ``backward``, the backward) pass of ``spec`` on ≤ ``batch_size`` rows.

    spec : ModelSpec (an MLPSpec is converted with :meth:`ModelSpec.from_mlp`)
    batch_size : int in [1, :data:`BATCH_MAX`], the largest batch a call may pass
    backward : bool, whether to allocate the gradient buffers (False for :func:`predict`/:func:`evaluate`)

    The buffers total at most :data:`WORKSPACE_BYTES_MAX` bytes (else a ValueError naming
    batch_size). Layers with unequal (height, width) strides, paddings or kernels are a ValueError.
    """

    def __init__(self, spec: Any, batch_size: int, backward: bool = True):
        spec = _as_spec(spec)
        N = check_int("batch_size", batch_size, 1, BATCH_MAX)
        self.spec, self.batch_size, self.backward = spec, N, check_bool("backward", backward)
        A = Allocator(N, spec.np_dtype)
        ents = [[e for e in spec.param_layout() if e.layer == i] for i in range(len(spec.layers))]
        bufs = [[b for b in spec.buffer_layout() if b.layer == i] for i in range(len(spec.layers))]
        shapes = (spec.input_shape,) + spec.shapes()
        self.ops, self.bn_plane = [], None
        for i, lay in enumerate(spec.layers):
            where, (si, so) = f"spec.layers[{i}] ({type(lay).__name__})", shapes[i:i + 2]
            if isinstance(lay, L.Conv2d):
                op = ConvOp(ents[i][0], lay.stride, lay.padding, so, A, where, relu=_fuses(spec.layers, i))
            elif isinstance(lay, L.BatchNorm2d):
                op = BatchNormOp(ents[i][0], bufs[i][0], lay, so, A, where)
            elif isinstance(lay, (L.MaxPool2d, L.AvgPool2d)):
                op = PoolOp(lay, so, A, where)
            elif isinstance(lay, L.GlobalAvgPool):
                op = GlobalAvgPoolOp(so, A)
            elif isinstance(lay, L.Flatten):
                op = FlattenOp()
            elif isinstance(lay, L.Dense):
                op = DenseOp(ents[i][0], so, A)
            elif isinstance(lay, L.BasicBlock):
                op = BasicBlockOp(lay, ents[i], bufs[i], si, so, A, where)
            else:
                op = ActivationOp(lay, so, A, inplace=i > 0 and isinstance(lay, L.ReLU)
                                  and isinstance(spec.layers[i - 1], _INPLACE_AFTER), fused=_fuses(spec.layers, i - 1))
            if isinstance(lay, (L.BatchNorm2d, L.BasicBlock)):
                plane = so[1] * so[2]
                self.bn_plane = plane if self.bn_plane is None else min(self.bn_plane, plane)
            self.ops.append(op)
        self.ins = [None] * len(self.ops)
        self.first = next((i for i, lay in enumerate(spec.layers) if lay.param_shapes(shapes[i], "") != []),
                          len(spec.layers))
        self.X = A(spec.input_shape)
        self.cols, self.t = self._flat(A, A.cols), self._flat(A, A.t)
        self.wu, self.wv, self.wm = self._flat(A, A.wu), self._flat(A, A.wv), self._flat(A, A.wm)
        self.empty = np.empty(0, A.dt)
        self.loss = LOSS_CODES[spec.loss]
        self.var_index = np.concatenate([np.arange(b.var_offset, b.var_offset + b.channels)
                                         for b in spec.buffer_layout()] or [np.zeros(0, np.int64)])
        if self.backward:
            act = max(math.prod(s) for s in shapes)
            self._d = [A((act,)).reshape(-1) for _ in range(2)]
            self._s = [A((A.scratch,)).reshape(-1) for _ in range(4)] if A.scratch else []
            self.dcols = self._flat(A, A.cols)
            self.grad = np.zeros(spec.n_params, A.dt)
        self.nbytes = A.bytes
        self.flat = self.buffers = None
        self._sizes, self._threads, self.threads = (A.cols, A.t, A.dw, A.db, A.wv, A.wm, A.wu, A.dt), [], 1
        convs = [op for op in self.ops if isinstance(op, ConvOp)]
        convs += [c for op in self.ops if isinstance(op, BasicBlockOp) for c in vars(op).values() if isinstance(c, ConvOp)]
        #: whether multi-threaded passes split the samples: every convolution narrow (conv_parallel.split_fits),
        #: or one runs by Winograd (its 16 GEMMs per chunk are too small for OpenBLAS's threads)
        self.split = bool(convs) and (all(split_fits(c.O) for c in convs) or any(c.wino for c in convs))

    def thread_scratch(self, k: int) -> list:
        """Buffers of k sample ranges run at once (:mod:`~simulations.nn.conv_parallel`): this workspace's own
        for the first, then k − 1 :class:`~simulations.nn.conv_parallel.Scratch` made on first use and kept."""
        if not self._threads:                  # the first range: a view of this workspace's own buffers
            own = Scratch(0, 0, 0, 0, 0, 0, 0, self._sizes[-1])
            own.cols, own.t, own.dcols = self.cols, self.t, getattr(self, "dcols", self.cols)
            own.wv, own.wm, own.wu = self.wv, self.wm, self.wu
            self._threads.append(own)
        while len(self._threads) < k:
            self._threads.append(Scratch(*self._sizes))
        return self._threads[:k]

    @staticmethod
    def _flat(A, entries: int) -> np.ndarray:
        """A 1-D scratch buffer of ``entries`` entries, counted against the workspace's size."""
        return A((-(-entries // A.N),)).reshape(-1)[:entries] if entries else np.zeros(0, A.dt)

    def scratch_view(self, i: int, shape) -> np.ndarray:
        return self._s[i][:math.prod(shape)].reshape(shape)

    def d_view(self, i: int, shape) -> np.ndarray:
        return self._d[i][:math.prod(shape)].reshape(shape)


def _threads(ws: Workspace):
    """Context of one pass with t BLAS threads: on a network of narrow convolutions (``ws.split``) and t > 1,
    the convolutions split their samples over t threads (``ws.threads`` = t) and the whole pass runs
    on a single-threaded OpenBLAS, so that no idle OpenBLAS worker spins on a core the ranges need
    (:mod:`~simulations.nn.conv_parallel`); otherwise ``ws.threads`` = 1 and the GEMMs use the t threads."""
    t = get_blas_threads()
    ws.threads = t if ws.split else 1
    return openblas_threads(1) if ws.threads > 1 else contextlib.nullcontext()


def _forward(ws: Workspace, n: int, train: bool) -> np.ndarray:
    h = ws.X[:n]
    with _threads(ws):
        for i, op in enumerate(ws.ops):
            ws.ins[i] = h
            h = op.forward(h, ws, n, train)
    return h


def _backward(ws: Workspace, n: int, train: bool, logits: np.ndarray, y: np.ndarray) -> float:
    """Mean loss; ws.grad ← its gradient (every entry is written by exactly one layer)."""
    D = ws.d_view(0, logits.shape)
    total, _ = loss_delta(logits, y, ws.loss, D, 1.0 / n)
    k = 0
    with _threads(ws):
        for i in range(len(ws.ops) - 1, ws.first - 1, -1):
            x, op = ws.ins[i], ws.ops[i]
            if isinstance(op, FlattenOp):
                D = D.reshape(x.shape)
                continue
            out = op.backward(x, D, ws.d_view(1 - k, x.shape), ws, n, train, i > ws.first)
            if out is not D:           # a fused ReLU hands dy through: D stays in buffer k
                D, k = out, 1 - k
    return total / n


def _prepare(spec, flat, buffers, X, ws, train: bool, backward: bool):
    """Validated (spec, ws, n) with ws.flat, ws.buffers set and X copied into ws.X."""
    spec = _as_spec(spec)
    flat = check_array("flat", flat, ndim=1)
    if flat.shape[0] != spec.n_params:
        raise ValueError(f"flat must have spec.n_params = {spec.n_params} entries, got {flat.shape[0]}")
    flat = np.ascontiguousarray(flat, dtype=spec.np_dtype)
    if buffers is None and spec.n_buffers == 0:
        buffers = np.empty(0, spec.np_dtype)
    if not isinstance(buffers, np.ndarray) or buffers.dtype != spec.np_dtype or buffers.ndim != 1:
        raise TypeError(f"buffers must be a 1-D numpy array of dtype {spec.dtype} (init_model_buffers(spec); "
                        f"None when the spec has no BatchNorm), got {getattr(buffers, 'dtype', type(buffers).__name__)}")
    if buffers.shape[0] != spec.n_buffers or not buffers.flags.c_contiguous or not buffers.flags.writeable:
        raise ValueError(f"buffers must be a writeable C-contiguous array of spec.n_buffers = {spec.n_buffers} "
                         f"entries, got {buffers.shape[0]}")
    X = check_array("X", X)
    if X.ndim < 2 or X.shape[1:] != spec.input_shape or X.shape[0] < 1:
        raise ValueError(f"X must have shape (n, *spec.input_shape) = (n, {', '.join(map(str, spec.input_shape))}) "
                         f"with n ≥ 1, got {X.shape}")
    n = X.shape[0]
    if ws is None:
        ws = Workspace(spec, n, backward)
    elif not isinstance(ws, Workspace):
        raise TypeError(f"ws must be a Workspace (or None), got {type(ws).__name__}")
    elif ws.spec != spec:
        raise ValueError("ws was built for another spec: build Workspace(spec, batch_size) for this one")
    elif n > ws.batch_size or (backward and not ws.backward):
        raise ValueError(f"X has {n} rows; ws takes at most batch_size = {ws.batch_size}"
                         + ("" if ws.backward or not backward else " and was built with backward=False"))
    if not np.all(np.isfinite(buffers)) or (buffers.size and buffers[ws.var_index].min() < 0):
        raise ValueError("buffers must be finite with running variances ≥ 0")
    if train and ws.bn_plane is not None and n * ws.bn_plane < 2:
        raise ValueError(f"X has n = {n} rows: training-mode BatchNorm needs at least 2 values per channel "
                         f"(n × H × W ≥ 2; a layer here has a {ws.bn_plane}-entry map); pass train=False")
    np.copyto(ws.X[:n], X, casting="unsafe")
    ws.flat, ws.buffers = flat, buffers
    return spec, ws, n


def _finite(what: str, *arrays) -> None:
    for a in arrays:
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{what} overflowed the dtype: flat or X too large in magnitude")


def forward(spec: Any, flat: Any, buffers: np.ndarray | None, X: Any, train: bool = False, ws: Workspace | None = None) -> np.ndarray:
    """Logits (n, K) of the network ``spec`` with flat parameters ``flat`` on X (n, *spec.input_shape).

    buffers: the BatchNorm running statistics (:func:`~simulations.nn.model_spec.init_model_buffers`;
    None when there is no BatchNorm), updated in place when ``train``. ws: a :class:`Workspace` of
    this spec with batch_size ≥ n (None: one is built). The result is a view of ``ws``'s buffer,
    overwritten by its next call. Non-finite logits are a ValueError.
    """
    train = check_bool("train", train)
    spec, ws, n = _prepare(spec, flat, buffers, X, ws, train, False)
    out = _forward(ws, n, train)
    _finite("the logits", out)
    return out


def loss_and_grad(spec: Any, flat: Any, buffers: np.ndarray | None, X: Any, y: Any, ws: Workspace | None = None,
                  train: bool = True) -> tuple[float, np.ndarray]:
    """(mean loss, ∂ mean loss/∂flat) on (X, y); the gradient has the layout of ``flat`` (``spec.param_layout()``).

    Arguments as :func:`forward`; y (n,) integer labels in [0, n_classes). ``train=True`` (a training
    step) uses the batch statistics of every BatchNorm and updates ``buffers`` in place; ``False``
    differentiates the evaluation-mode network. The gradient is ``ws.grad``, overwritten by the
    next call (copy it to keep it). Non-finite results are a ValueError.
    """
    train = check_bool("train", train)
    spec, ws, n = _prepare(spec, flat, buffers, X, ws, train, True)
    y = check_labels("y", y, n, spec.n_classes)
    logits = _forward(ws, n, train)
    loss = _backward(ws, n, train, logits, y)
    _finite("the loss or its gradient", np.array(loss), ws.grad)
    return float(loss), ws.grad


def _chunks(spec, flat, buffers, X, batch_size):
    batch_size = check_int("batch_size", batch_size, 1, BATCH_MAX)
    spec = _as_spec(spec)
    X = check_array("X", X)
    n = X.shape[0] if X.ndim >= 1 else 0
    ws = Workspace(spec, max(1, min(batch_size, n)), backward=False)
    for s in range(0, n, ws.batch_size):
        _, ws, m = _prepare(spec, flat, buffers, X[s:s + ws.batch_size], ws, False, False)
        yield s, m, _forward(ws, m, False)


def predict(spec: Any, flat: Any, buffers: np.ndarray | None, X: Any, batch_size: int = 256) -> np.ndarray:
    """Evaluation-mode logits (n, K) on X (n ≥ 1 rows), in chunks of min(batch_size, n) rows (a new array)."""
    spec = _as_spec(spec)
    out = None
    for s, m, z in _chunks(spec, flat, buffers, X, batch_size):
        out = np.empty((check_array("X", X).shape[0], spec.n_classes), spec.np_dtype) if out is None else out
        _finite("the logits", z)
        out[s:s + m] = z
    if out is None:
        raise ValueError("X must have shape (n, *spec.input_shape) with n ≥ 1, got no rows")
    return out


def evaluate(spec: Any, flat: Any, buffers: np.ndarray | None, X: Any, y: Any, batch_size: int = 256) -> tuple[float, float]:
    """(mean loss, accuracy) of the evaluation-mode network on (X, y), in chunks of min(batch_size, n) rows.

    The accuracy counts the rows whose first maximal logit is the label (ties: the lowest class).
    """
    spec = _as_spec(spec)
    X = check_array("X", X)
    n = X.shape[0] if X.ndim >= 1 else 0
    y = check_labels("y", y, n, spec.n_classes)
    total, correct = 0.0, 0
    for s, m, z in _chunks(spec, flat, buffers, X, batch_size):
        t, c = loss_delta(z, y[s:s + m], LOSS_CODES[spec.loss], z[:0], 1.0)
        total, correct = total + t, correct + c
    if n == 0:
        raise ValueError("X must have shape (n, *spec.input_shape) with n ≥ 1, got no rows")
    if not math.isfinite(total):
        raise ValueError("the loss overflowed the dtype: flat or X too large in magnitude")
    return total / n, correct / n
