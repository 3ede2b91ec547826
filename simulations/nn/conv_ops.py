"""The layers of :mod:`simulations.nn.conv_net`: one object per layer with preallocated buffers.

Each object's ``forward(x, ws, n, train)`` returns its output (a view of its own buffer, the
first n rows) and ``backward(x, dy, dx, ws, n, train, need_dx)`` writes the gradient of its
parameters into ``ws.grad`` (at the offsets of its :class:`~simulations.nn.model_spec.ParamEntry`)
and, if ``need_dx``, ∂loss/∂x into ``dx``, returned. ``ws`` gives the flat parameters
(``ws.flat``), the BatchNorm buffers (``ws.buffers``) and the shared GEMM / block scratch.
The mathematics is in :mod:`simulations.nn.conv_net` and the kernel modules
(:mod:`~simulations.nn.backends.cpu_conv`, :mod:`~simulations.nn.backends.cpu_batchnorm`,
:func:`~simulations.nn.backends.cpu_dense.gemm`); the convolution is
:mod:`~simulations.nn.backends.cpu_conv_gemm`.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from simulations.nn import conv_parallel as cp
from simulations.nn import layers as L
from simulations.nn.backends import cpu_batchnorm as bnk
from simulations.nn.backends import cpu_conv as ck
from simulations.nn.backends import cpu_conv_gemm as gk
from simulations.nn.backends import cpu_winograd as wk
from simulations.nn.backends.cpu_dense import gemm

__all__: list[str] = []

#: largest total size of a workspace's buffers (16 GiB)
WORKSPACE_BYTES_MAX = 2**34


def _square(where: str, name: str, pair) -> int:
    if pair[0] != pair[1]:
        raise ValueError(f"{where}: {name} {tuple(pair)} has unequal entries; the CPU kernels need a square one")
    return int(pair[0])


class Allocator:
    """Buffers of one workspace, with the shared scratch sizes (im2col chunk, GEMM output, block scratch).

    ``cols`` (also the size of the ∂cols scratch), ``t`` and ``scratch`` are the largest shared
    sizes requested, in entries (``scratch`` per sample); ``dw``, ``db`` the largest convolution
    weight and bias (for the per-thread gradient sums of :mod:`~simulations.nn.conv_parallel`);
    ``wu``, ``wv``, ``wm`` the Winograd filter, input and product scratch
    (:mod:`~simulations.nn.backends.cpu_winograd`).
    """

    def __init__(self, N: int, dt: np.dtype):
        self.N, self.dt, self.bytes = N, dt, 0
        self.cols = self.t = self.scratch = self.dw = self.db = 0
        self.wu = self.wv = self.wm = 0

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = (self.N, *shape)
        dt = np.dtype(dtype or self.dt)
        self.bytes += math.prod(shape) * dt.itemsize
        if self.bytes > WORKSPACE_BYTES_MAX:
            raise ValueError(f"batch_size {self.N} needs more than WORKSPACE_BYTES_MAX = {WORKSPACE_BYTES_MAX} "
                             f"bytes of buffers for this spec; use a smaller batch_size")
        return np.zeros(shape, dt)     # zeros (calloc'd pages): no garbage in an unused buffer


def _v(flat: np.ndarray, off: int, shape) -> np.ndarray:
    return flat[off:off + math.prod(shape)].reshape(shape)


#: a 3×3 stride-1 "same" convolution runs by Winograd's F(2×2, 3×3) when it has at least this many input
#: and output channels and maps of at least WINOGRAD_MIN_SIDE on a side: with fewer channels the 16
#: GEMMs are too thin to beat one im2col GEMM (the K = 9 first layer of a 1-channel VGG-11), and on
#: smaller maps most of each 4×4 tile is padding (a 3×3 map ran as fast either way)
WINOGRAD_MIN_CHANNELS = 32
WINOGRAD_MIN_SIDE = 4
#: ... and its weight gradient too (F(3×3, 2×2)) from this many channels: its 16 GEMMs have (O, C) outputs,
#: which at 64 input channels ran 20 % slower than the im2col GEMM, at 128-512 channels 10-45 % faster
WINOGRAD_DW_MIN_CHANNELS = 128
#: the Winograd chunk holds enough samples for this many tiles (GEMM columns) at least: measured on
#: VGG-11's layers, 1024-1600 columns ran 5-15 % faster than the whole batch at 28×28 and 14×14
WINOGRAD_MIN_TILES = 1024


def uses_winograd(kernel: int, stride: int, pad: int, in_channels: int, out_channels: int, side: int) -> bool:
    """Whether :class:`ConvOp` runs this convolution by F(2×2, 3×3) (:mod:`~simulations.nn.backends.cpu_winograd`)."""
    return (wk.fits(kernel, stride, pad) and min(in_channels, out_channels) >= WINOGRAD_MIN_CHANNELS
            and side >= WINOGRAD_MIN_SIDE)


def _by_samples(ws, n: int, call) -> None:
    """call(n0, n1, scratch) on samples [0, n): at once, or on the sample ranges of a split pass, each with its
    range's :class:`~simulations.nn.conv_parallel.Scratch` (:mod:`~simulations.nn.conv_parallel`)."""
    ranges = cp.split(n, ws.threads) or [(0, n)]
    scs = ws.thread_scratch(len(ranges))
    if len(ranges) == 1:
        call(0, n, scs[0])
    else:
        cp.run([functools.partial(call, a, b, sc) for (a, b), sc in zip(ranges, scs)])


class ConvOp:
    """Convolution as one GEMM per cache-sized chunk of the batch (:mod:`~simulations.nn.backends.cpu_conv_gemm`),
    a following ReLU fused in when ``relu`` (its :class:`ActivationOp` is then built with ``fused=True``).
    The backward pass recomputes each chunk's im2col matrix from the layer's input (cheaper than
    reading a whole-batch matrix back from memory, and the workspace stays small).

    A 3×3 stride-1 padding-1 convolution with enough channels and a large enough map
    (:func:`uses_winograd`) computes its output and its input gradient by Winograd's F(2×2, 3×3)
    instead (2.25× fewer multiplications; :mod:`~simulations.nn.backends.cpu_winograd`), and with
    at least :data:`WINOGRAD_DW_MIN_CHANNELS` channels its weight gradient by F(3×3, 2×2) (else by
    the im2col GEMM); each sample range of a split pass (:mod:`~simulations.nn.conv_parallel`) alike."""

    def __init__(self, e, lay_stride, lay_pad, out_shape, A: Allocator, where: str, relu: bool = False):
        self.e, self.stride, self.pad = e, _square(where, "stride", lay_stride), _square(where, "padding", lay_pad)
        _square(where, "kernel", e.weight_shape[2:])
        self.y, self.relu = A(out_shape), relu
        self.O, self.L, self.K = out_shape[0], out_shape[1] * out_shape[2], math.prod(e.weight_shape[1:])
        self.chunk = gk.chunk_size(self.K, self.L, A.N)
        self.db = np.zeros(self.O)                     # the bias gradient, accumulated in float64
        A.cols = max(A.cols, self.chunk * self.L * self.K)
        A.t = max(A.t, self.chunk * self.L * self.O)
        A.dw, A.db = max(A.dw, self.O * self.K), max(A.db, self.O)
        C, k = e.weight_shape[1], e.weight_shape[2]
        self.wino = uses_winograd(k, self.stride, self.pad, C, self.O, min(out_shape[1:]))
        self.wino_dw = self.wino and min(C, self.O) >= WINOGRAD_DW_MIN_CHANNELS
        if self.wino:
            T = math.prod(wk.tiles(*out_shape[1:]))
            self.wchunk = max(1, min(A.N, -(-WINOGRAD_MIN_TILES // T)))
            sv, sm = wk.scratch_sizes(max(C, self.O), max(C, self.O), *out_shape[1:], self.wchunk)
            A.wu, A.wv, A.wm = max(A.wu, 16 * wk.stream_stride(C * self.O)), max(A.wv, sv), max(A.wm, sm)

    def forward(self, x, ws, n, train):
        e, y, has_bias = self.e, self.y, self.e.bias_shape is not None
        b = ws.empty if not has_bias else ws.flat[e.bias_offset:e.end]
        w = _v(ws.flat, e.weight_offset, e.weight_shape)
        args = (w, b, has_bias, self.relu, self.stride, self.pad, self.chunk)
        ranges = cp.split(n, ws.threads)
        if self.wino:
            wk.filter_transform(w, False, ws.wu, wk.stream_stride(w.shape[0] * w.shape[1]))
            self._winograd(x, x, False, n, ws, self.O, b, has_bias, self.relu, y)
        elif ranges is None:
            gk.conv2d_forward(x, 0, n, *args, ws.cols, ws.t, y)
        else:
            cp.run([functools.partial(gk.conv2d_forward, x, n0, n1, *args, sc.cols, sc.t, y)
                    for (n0, n1), sc in zip(ranges, ws.thread_scratch(len(ranges)))])
        return y[:n]

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        e, y, has_bias = self.e, self.y, self.e.bias_shape is not None
        w, dw = _v(ws.flat, e.weight_offset, e.weight_shape), _v(ws.grad, e.weight_offset, e.weight_shape)
        self.db[:] = 0.0
        ranges = cp.split(n, ws.threads)
        wino_dx = self.wino and need_dx            # dx by Winograd (dy masked by the fused ReLU)

        def dw_part(n0, n1, sc, dwk, dbk):         # dw (and db) of samples [n0, n1), and dx there unless wino_dx
            if self.wino_dw:
                wk.winograd_weight_grad(x, dy, y, self.relu, n0, n1, self.wchunk, sc.wv, sc.wm, sc.wu, dwk,
                                        has_bias, dbk)
            else:
                gk.conv2d_backward(x, n0, n1, w, dy, y, self.relu, self.stride, self.pad, self.chunk, sc.cols, sc.t,
                                   sc.dcols if need_dx else sc.cols, dx if need_dx else y, dwk, dbk, has_bias,
                                   need_dx and not wino_dx)

        if ranges is None:
            dw_part(0, n, ws.thread_scratch(1)[0], dw, self.db)
        else:                # each range sums its own dw, db; range 0 into the gradient itself
            scs = ws.thread_scratch(len(ranges))
            dws = [dw] + [sc.dw[:dw.size].reshape(dw.shape) for sc in scs[1:]]
            dbs = [self.db] + [sc.db[:self.O] for sc in scs[1:]]
            for d in dbs[1:]:
                d[:] = 0.0
            cp.run([functools.partial(dw_part, n0, n1, sc, dws[k], dbs[k])
                    for k, ((n0, n1), sc) in enumerate(zip(ranges, scs))])
            for k in range(1, len(ranges)):
                np.add(dw, dws[k], out=dw)
                np.add(self.db, dbs[k], out=self.db)
        if wino_dx:
            wk.filter_transform(w, True, ws.wu, wk.stream_stride(w.shape[0] * w.shape[1]))
            self._winograd(dy, y, self.relu, n, ws, w.shape[1], ws.empty, False, False, dx)
        if has_bias:
            ws.grad[e.bias_offset:e.end] = self.db
        return dx

    def _winograd(self, x, mask, relu_in, n, ws, O, b, has_bias, relu, out):
        """out[:n] ← Winograd correlation of x with the filters already in ws.wu, over the pass's sample ranges."""
        _by_samples(ws, n, lambda n0, n1, sc: wk.winograd_conv(x, mask, relu_in, n0, n1, ws.wu, O, b, has_bias, relu,
                                                               self.wchunk, sc.wv, sc.wm, out))


class BatchNormOp:
    def __init__(self, e, be, lay, out_shape, A: Allocator, where: str):
        self.e, self.be, self.eps, self.m = e, be, lay.eps, lay.momentum
        C = out_shape[0]
        self.y, self.mean, self.istd = A(out_shape), np.zeros(C, A.dt), np.ones(C, A.dt)
        self.where, self.per_sample = where, out_shape[1] * out_shape[2]

    def forward(self, x, ws, n, train):
        e, be, y = self.e, self.be, self.y[:n]
        g, b = ws.flat[e.weight_offset:e.bias_offset], ws.flat[e.bias_offset:e.end]
        rm, rv = ws.buffers[be.mean_offset:be.var_offset], ws.buffers[be.var_offset:be.var_offset + be.channels]
        if train:
            bnk.batchnorm_forward_train(x, g, b, self.eps, self.m, rm, rv, self.mean, self.istd, y)
        else:
            bnk.batchnorm_forward_eval(x, g, b, self.eps, rm, rv, self.mean, self.istd, y)
        return y

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        e = self.e
        kern = bnk.batchnorm_backward_train if train else bnk.batchnorm_backward_eval
        kern(dy, x, ws.flat[e.weight_offset:e.bias_offset], self.mean, self.istd, dx,
             ws.grad[e.weight_offset:e.bias_offset], ws.grad[e.bias_offset:e.end])
        return dx


class PoolOp:
    def __init__(self, lay, out_shape, A: Allocator, where: str):
        self.max = isinstance(lay, L.MaxPool2d)
        self.k, self.s = _square(where, "kernel", lay.kernel), _square(where, "stride", lay.stride)
        self.y = A(out_shape)
        self.arg = A(out_shape, np.int64) if self.max else None

    def forward(self, x, ws, n, train):
        k, s, y, arg = self.k, self.s, self.y, self.arg
        if self.max:
            _by_samples(ws, n, lambda a, b, _: ck.maxpool2d_forward(x[a:b], k, s, y[a:b], arg[a:b]))
        else:
            _by_samples(ws, n, lambda a, b, _: ck.avgpool2d_forward(x[a:b], k, s, y[a:b]))
        return self.y[:n]

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        k, s, arg = self.k, self.s, self.arg
        if self.max:
            _by_samples(ws, n, lambda a, b, _: ck.maxpool2d_backward(dy[a:b], arg[a:b], dx[a:b]))
        else:
            _by_samples(ws, n, lambda a, b, _: ck.avgpool2d_backward(dy[a:b], k, s, dx[a:b]))
        return dx


class GlobalAvgPoolOp:
    def __init__(self, out_shape, A: Allocator):
        self.y = A(out_shape)

    def forward(self, x, ws, n, train):
        ck.global_avgpool_forward(x, self.y[:n])
        return self.y[:n]

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        ck.global_avgpool_backward(dy, dx)
        return dx


class FlattenOp:
    def forward(self, x, ws, n, train):
        return x.reshape(n, -1)

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        return dy.reshape(x.shape)


class DenseOp:
    def __init__(self, e, out_shape, A: Allocator):
        self.e, self.y = e, A(out_shape)

    def forward(self, x, ws, n, train):
        e, y = self.e, self.y[:n]
        gemm(np.bool_(False), np.bool_(True), 1.0, x, _v(ws.flat, e.weight_offset, e.weight_shape), 0.0, y)
        if e.bias_shape is not None:
            np.add(y, ws.flat[e.bias_offset:e.end], out=y)
        return y

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        e = self.e
        W = _v(ws.flat, e.weight_offset, e.weight_shape)
        gemm(np.bool_(True), np.bool_(False), 1.0, dy, x, 0.0, _v(ws.grad, e.weight_offset, e.weight_shape))
        if e.bias_shape is not None:
            np.sum(dy, axis=0, out=ws.grad[e.bias_offset:e.end])
        if need_dx:
            gemm(np.bool_(False), np.bool_(False), 1.0, dy, W, 0.0, dx)
        return dx


class ActivationOp:
    """ReLU (in place on its input when ``inplace``), tanh, softplus; the backward reads the output a.

    ``fused``: a ReLU already applied by the preceding :class:`ConvOp` (forward and backward): the
    forward returns its input and the backward returns dy itself (``_backward`` then keeps its buffer).
    """

    def __init__(self, lay, out_shape, A: Allocator, inplace: bool, fused: bool = False):
        self.kind, self.fused = type(lay).__name__, fused
        self.y = None if inplace or fused else A(out_shape)

    def forward(self, x, ws, n, train):
        if self.fused:
            self.out = x
            return x
        y = x if self.y is None else self.y[:n]
        if self.kind == "ReLU":
            ck.relu_forward(x, y)
        elif self.kind == "Tanh":
            np.tanh(x, out=y)
        else:
            np.logaddexp(0.0, x, out=y)      # softplus log(1 + eˣ)
        self.out = y
        return y

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        if self.fused:
            return dy
        a = self.out
        if self.kind == "ReLU":
            ck.relu_backward(dy, a, dx)
        elif self.kind == "Tanh":            # φ' = 1 − a²
            np.multiply(a, a, out=dx)
            np.subtract(1.0, dx, out=dx)
            np.multiply(dx, dy, out=dx)
        else:                                # φ' = logistic(z) = 1 − e^{−a}
            np.negative(a, out=dx)
            np.expm1(dx, out=dx)
            np.multiply(dx, dy, out=dx)
            np.negative(dx, out=dx)
        return dx


class BasicBlockOp:
    def __init__(self, lay, entries, buffers, in_shape, out_shape, A: Allocator, where: str):
        C, O = in_shape[0], lay.out_channels
        self.kind = "I" if not lay.projects(C) else lay.shortcut
        self.s, self.p, self.C = lay.stride, (O - C) // 2, C
        bn = L.BatchNorm2d()
        self.mid_shape = mid_shape = (lay.width,) + tuple(out_shape[1:])
        self.conv1 = ConvOp(entries[0], (lay.stride,) * 2, (1, 1), mid_shape, A, where)
        self.bn1 = BatchNormOp(entries[1], buffers[0], bn, mid_shape, A, where)
        self.conv2 = ConvOp(entries[2], (1, 1), (1, 1), out_shape, A, where)
        self.bn2 = BatchNormOp(entries[3], buffers[1], bn, out_shape, A, where)
        if self.kind == "B":
            self.sconv = ConvOp(entries[4], (lay.stride,) * 2, (0, 0), out_shape, A, where)
            self.sbn = BatchNormOp(entries[5], buffers[2], bn, out_shape, A, where)
        A.scratch = max(A.scratch, math.prod(in_shape), math.prod(out_shape), math.prod(mid_shape))

    def forward(self, x, ws, n, train):
        c1 = self.conv1.forward(x, ws, n, train)
        b1 = self.bn1.forward(c1, ws, n, train)
        ck.relu_forward(b1, b1)
        c2 = self.conv2.forward(b1, ws, n, train)
        out = self.bn2.forward(c2, ws, n, train)
        if self.kind == "I":
            np.add(out, x, out=out)
        elif self.kind == "A":
            part = out[:, self.p:self.p + self.C]
            np.add(part, x[:, :, ::self.s, ::self.s], out=part)
        else:
            np.add(out, self.sbn.forward(self.sconv.forward(x, ws, n, train), ws, n, train), out=out)
        ck.relu_forward(out, out)
        return out

    def backward(self, x, dy, dx, ws, n, train, need_dx):
        shape = dy.shape
        dz, d2 = ws.scratch_view(0, shape), ws.scratch_view(1, shape)
        d1 = ws.scratch_view(2, (n,) + self.mid_shape)
        ck.relu_backward(dy, self.bn2.y[:n], dz)
        self.bn2.backward(self.conv2.y[:n], dz, d2, ws, n, train, True)
        b1 = self.bn1.y[:n]
        self.conv2.backward(b1, d2, d1, ws, n, train, True)
        ck.relu_backward(d1, b1, d1)
        self.bn1.backward(self.conv1.y[:n], d1, d1, ws, n, train, True)
        self.conv1.backward(x, d1, dx, ws, n, train, need_dx)
        if self.kind == "B":
            self.sbn.backward(self.sconv.y[:n], dz, dz, ws, n, train, True)
            t = ws.scratch_view(3, x.shape)
            self.sconv.backward(x, dz, t, ws, n, train, need_dx)
            if need_dx:
                np.add(dx, t, out=dx)
        elif need_dx and self.kind == "I":
            np.add(dx, dz, out=dx)
        elif need_dx:
            part = dx[:, :, ::self.s, ::self.s]
            np.add(part, dz[:, self.p:self.p + self.C], out=part)
        return dx
