"""Checked numpy-level wrappers of the convolution, pooling and ReLU kernels.

Each function validates its arguments (shapes, dtypes, stride ≥ 1, pad ≥ 0, windows that fit)
with errors naming the parameter, allocates the outputs and workspaces, and calls the kernel of
:mod:`simulations.nn.backends.cpu_conv` (whose docstring states the mathematics: im2col;
max pooling with PyTorch's tie rule; average pooling without padding) or, for the convolution
(cross-correlation lowered to one GEMM over the batch, Chellapilla et al. 2006), of
:mod:`simulations.nn.backends.cpu_conv_gemm`. Layout NCHW, float32 or float64; every array of a
call has the dtype of ``x`` (or ``dy``). Output size (Dumoulin & Visin 2016, relationship 6):
OH = (H + 2·pad − kh)//stride + 1.
"""
from __future__ import annotations

import numpy as np

from simulations._core.validation import check_array, check_bool, check_int
from simulations.nn.backends import cpu_conv as _k
from simulations.nn.backends import cpu_conv_gemm as _g

__all__ = ["conv_output_size", "im2col", "col2im", "conv2d_forward", "conv2d_backward", "maxpool2d_forward",
           "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward", "global_avgpool_forward",
           "global_avgpool_backward", "relu_forward", "relu_backward"]

MAX_INT = 2**31 - 1           # bound on sizes, strides, paddings (the kernels index with int64)
MAX_ENTRIES = 2**28           # bound on the entries of any output or workspace array (2 GiB in float64)
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _float_array(name: str, a, ndim: int, dtype=None) -> np.ndarray:
    """A finite C-contiguous float32/float64 array of ``ndim`` dimensions, none of them empty."""
    arr = check_array(name, a, ndim=ndim)
    if arr.dtype not in _FLOATS:
        raise TypeError(f"{name} must have dtype float32 or float64, got {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{name} must have the dtype of the input ({np.dtype(dtype).name}), got {arr.dtype}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must have no empty dimension, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _shape4(name: str, shape) -> tuple[int, int, int, int]:
    """An input shape (N, C, H, W) of positive integers."""
    if isinstance(shape, (str, bytes, np.ndarray)) or not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name} must be a tuple (N, C, H, W) of positive integers, got {type(shape).__name__}")
    if len(shape) != 4:
        raise ValueError(f"{name} must have 4 entries (N, C, H, W), got {len(shape)}")
    return tuple(check_int(f"{name}[{i}]", v, 1, MAX_INT) for i, v in enumerate(shape))


def _size(name: str, value) -> int:
    return check_int(name, value, 1, MAX_INT)


def _out(H: int, k: int, stride: int, pad: int, side: str, kname: str) -> int:
    if k > H + 2 * pad:
        raise ValueError(f"{kname} must be at most the padded input {side} {H} + 2·pad = {H + 2 * pad}, got {k}")
    return (H + 2 * pad - k) // stride + 1


def _entries(what: str, shape, names: str) -> None:
    n = int(np.prod([int(s) for s in shape], dtype=object))
    if n > MAX_ENTRIES:
        raise ValueError(f"{names} give {what} of shape {tuple(shape)} ({n} entries), more than {MAX_ENTRIES}")


def _finite(what: str, names: str, *arrays) -> None:
    for a in arrays:
        if a is not None and not np.all(np.isfinite(a)):
            raise ValueError(f"{what} overflowed the dtype: {names} too large in magnitude")


def conv_output_size(size: int, k: int, stride: int = 1, pad: int = 0) -> int:
    """Output length (size + 2·pad − k)//stride + 1 of a window ``k`` sliding over ``size`` entries.

    size, k, stride ≥ 1 and pad ≥ 0 integers; the window must fit: k ≤ size + 2·pad.
    """
    size = _size("size", size)
    k = _size("k", k)
    stride = _size("stride", stride)
    pad = check_int("pad", pad, 0, MAX_INT)
    return _out(size, k, stride, pad, "size", "k")


def _conv_geometry(x_shape, kh: int, kw: int, stride, pad, kname: str = "w"):
    stride = _size("stride", stride)
    pad = check_int("pad", pad, 0, MAX_INT)
    N, C, H, W = x_shape
    OH = _out(H, kh, stride, pad, "height", f"the kernel height of {kname}")
    OW = _out(W, kw, stride, pad, "width", f"the kernel width of {kname}")
    _entries("an im2col workspace", (N * OH * OW, C * kh * kw), "x, stride and pad")
    return stride, pad, OH, OW


def im2col(x, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The im2col matrix (N·OH·OW, C·kh·kw) of x (N, C, H, W): row n·L + a·OW + c holds the window at (a, c)."""
    x = _float_array("x", x, 4)
    kh, kw = _size("kh", kh), _size("kw", kw)
    stride = _size("stride", stride)
    pad = check_int("pad", pad, 0, MAX_INT)
    N, C, H, W = x.shape
    OH = _out(H, kh, stride, pad, "height", "kh")
    OW = _out(W, kw, stride, pad, "width", "kw")
    _entries("an im2col matrix", (N * OH * OW, C * kh * kw), "x, kh, kw, stride and pad")
    cols = np.empty((N * OH * OW, C * kh * kw), x.dtype)
    _k.im2col(x, kh, kw, stride, pad, cols)
    return cols


def col2im(cols, x_shape: tuple[int, ...], kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The adjoint of :func:`im2col`: an (N, C, H, W) array, each cols entry added where it was read from."""
    cols = _float_array("cols", cols, 2)
    N, C, H, W = _shape4("x_shape", x_shape)
    kh, kw = _size("kh", kh), _size("kw", kw)
    stride = _size("stride", stride)
    pad = check_int("pad", pad, 0, MAX_INT)
    OH = _out(H, kh, stride, pad, "height", "kh")
    OW = _out(W, kw, stride, pad, "width", "kw")
    want = (N * OH * OW, C * kh * kw)
    if cols.shape != want:
        raise ValueError(f"cols must have shape (N·OH·OW, C·kh·kw) = {want} for x_shape, kh, kw, stride and pad, "
                         f"got {cols.shape}")
    _entries("an output", (N, C, H, W), "x_shape")
    dx = np.zeros((N, C, H, W), cols.dtype)
    _k.col2im_add(cols, N, C, H, W, kh, kw, stride, pad, dx)
    _finite("col2im", "cols", dx)
    return dx


def _conv_args(x, w, b):
    x = _float_array("x", x, 4)
    w = _float_array("w", w, 4, x.dtype)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w must have shape (O, C, kh, kw) with C = {x.shape[1]} channels of x, got {w.shape}")
    if b is not None:
        b = _float_array("b", b, 1, x.dtype)
        if b.shape != (w.shape[0],):
            raise ValueError(f"b must have shape (O,) = ({w.shape[0]},), got {b.shape}")
    return x, w, b


def conv2d_forward(x, w, b=None, stride: int = 1, pad: int = 0) -> np.ndarray:
    """y (N, O, OH, OW) = Σ_{c,i,j} w[o,c,i,j]·xp[n, c, a·stride+i, c'·stride+j] + b[o] (xp: x zero-padded by ``pad``).

    x (N, C, H, W); w (O, C, kh, kw); b (O,) or None; stride ≥ 1; pad ≥ 0; kh, kw ≤ H, W + 2·pad.
    """
    x, w, b = _conv_args(x, w, b)
    stride, pad, OH, OW = _conv_geometry(x.shape, w.shape[2], w.shape[3], stride, pad)
    N, O = x.shape[0], w.shape[0]
    _entries("an output", (N, O, OH, OW), "x, w, stride and pad")
    chunk = _g.chunk_size(w[0].size, OH * OW, N)
    y = np.empty((N, O, OH, OW), x.dtype)
    _k.conv2d_forward(x, 0, N, w, b if b is not None else np.zeros(0, x.dtype), b is not None, False, stride, pad,
                      chunk, np.empty(w[0].size * chunk * OH * OW, x.dtype), np.empty(O * chunk * OH * OW, x.dtype), y)
    _finite("the convolution", "x, w or b", y)
    return y


def conv2d_backward(x, w, dy, stride: int = 1, pad: int = 0, bias: bool = True, need_dx: bool = True):
    """Gradients ``(dx, dw, db)`` of a loss with ∂loss/∂y = dy through y = conv2d_forward(x, w, b, stride, pad).

    dw = Σ_n dy[n]·im2col(x)_n, db = Σ_{n,a,c} dy (None when ``bias`` is False), dx = col2im(dy[n]ᵀ·W)
    (None when ``need_dx`` is False). dy must have shape (N, O, OH, OW) and the dtype of x.
    """
    x, w, _ = _conv_args(x, w, None)
    bias = check_bool("bias", bias)
    need_dx = check_bool("need_dx", need_dx)
    stride, pad, OH, OW = _conv_geometry(x.shape, w.shape[2], w.shape[3], stride, pad)
    dy = _float_array("dy", dy, 4, x.dtype)
    want = (x.shape[0], w.shape[0], OH, OW)
    if dy.shape != want:
        raise ValueError(f"dy must have the output shape (N, O, OH, OW) = {want}, got {dy.shape}")
    chunk = _g.chunk_size(w[0].size, OH * OW, want[0])
    cols = np.empty(w[0].size * chunk * OH * OW, x.dtype)
    dcols = np.empty_like(cols) if need_dx else cols
    dx = np.empty_like(x) if need_dx else np.empty((0, 0, 0, 0), x.dtype)
    dw = np.empty_like(w)
    db = np.zeros(w.shape[0])
    _k.conv2d_backward(x, 0, want[0], w, dy, dy, False, stride, pad, chunk, cols,
                       np.empty(want[1] * chunk * OH * OW, x.dtype), dcols, dx, dw, db, bias, need_dx)
    out = (dx if need_dx else None, dw, db.astype(x.dtype) if bias else None)
    _finite("a convolution gradient", "x, w or dy", *out)
    return out


def _pool_geometry(x_shape, k, stride, name: str = "x"):
    k = _size("k", k)
    stride = k if stride is None else _size("stride", stride)
    N, C, H, W = x_shape
    if k > H or k > W:
        raise ValueError(f"k must be at most the spatial size (H, W) = {(H, W)} of {name}, got {k}")
    return k, stride, (H - k) // stride + 1, (W - k) // stride + 1


def maxpool2d_forward(x, k: int, stride: int | None = None):
    """Max pooling over k×k windows (no padding; stride defaults to k): ``(y, argmax)``.

    y (N, C, OH, OW), OH = (H − k)//stride + 1; argmax int64, the flat index in the H·W plane of
    each maximum (ties: the first in row-major window order, as PyTorch's ``return_indices``).
    """
    x = _float_array("x", x, 4)
    k, stride, OH, OW = _pool_geometry(x.shape, k, stride)
    y = np.empty((x.shape[0], x.shape[1], OH, OW), x.dtype)
    argmax = np.empty(y.shape, np.int64)
    _k.maxpool2d_forward(x, k, stride, y, argmax)
    return y, argmax


def _pool_dy(dy, x_shape, OH, OW):
    N, C = x_shape[0], x_shape[1]
    want = (N, C, OH, OW)
    if dy.shape != want:
        raise ValueError(f"dy must have the pooled shape (N, C, OH, OW) = {want} of x_shape, got {dy.shape}")


def maxpool2d_backward(dy, argmax, x_shape: tuple[int, ...]) -> np.ndarray:
    """dx (x_shape) of max pooling: dy routed to the argmax positions (overlapping windows add).

    dy (N, C, OH, OW); argmax an integer array of dy's shape with entries in [0, H·W).
    """
    dy = _float_array("dy", dy, 4)
    N, C, H, W = _shape4("x_shape", x_shape)
    if dy.shape[:2] != (N, C):
        raise ValueError(f"dy must have (N, C) = {(N, C)} of x_shape, got shape {dy.shape}")
    if isinstance(argmax, (str, bytes)) or not isinstance(argmax, np.ndarray) or argmax.dtype.kind not in "iu":
        raise TypeError(f"argmax must be an integer numpy array (from maxpool2d_forward), got {type(argmax).__name__}")
    if argmax.shape != dy.shape:
        raise ValueError(f"argmax must have the shape of dy {dy.shape}, got {argmax.shape}")
    if argmax.size and (argmax.min() < 0 or argmax.max() >= H * W):
        raise ValueError(f"argmax entries must be in [0, H·W) = [0, {H * W}) for x_shape, "
                         f"got [{argmax.min()}, {argmax.max()}]")
    _entries("an output", (N, C, H, W), "x_shape")
    dx = np.empty((N, C, H, W), dy.dtype)
    _k.maxpool2d_backward(dy, np.ascontiguousarray(argmax, dtype=np.int64), dx)
    _finite("the max-pooling gradient", "dy", dx)
    return dx


def avgpool2d_forward(x, k: int, stride: int | None = None) -> np.ndarray:
    """Average pooling over k×k windows (no padding, divisor k·k; stride defaults to k): y (N, C, OH, OW)."""
    x = _float_array("x", x, 4)
    k, stride, OH, OW = _pool_geometry(x.shape, k, stride)
    y = np.empty((x.shape[0], x.shape[1], OH, OW), x.dtype)
    _k.avgpool2d_forward(x, k, stride, y)
    _finite("the average pooling", "x", y)
    return y


def avgpool2d_backward(dy, x_shape: tuple[int, ...], k: int, stride: int | None = None) -> np.ndarray:
    """dx (x_shape) of average pooling: each window position receives dy/(k·k)."""
    dy = _float_array("dy", dy, 4)
    shape = _shape4("x_shape", x_shape)
    k, stride, OH, OW = _pool_geometry(shape, k, stride, "x_shape")
    _pool_dy(dy, shape, OH, OW)
    _entries("an output", shape, "x_shape")
    dx = np.empty(shape, dy.dtype)
    _k.avgpool2d_backward(dy, k, stride, dx)
    return dx


def global_avgpool_forward(x) -> np.ndarray:
    """y (N, C) = mean of x (N, C, H, W) over H·W."""
    x = _float_array("x", x, 4)
    y = np.empty(x.shape[:2], x.dtype)
    _k.global_avgpool_forward(x, y)
    _finite("the global average pooling", "x", y)
    return y


def global_avgpool_backward(dy, x_shape: tuple[int, ...]) -> np.ndarray:
    """dx (x_shape) = dy[n, c]/(H·W) at every position of the plane (n, c); dy (N, C)."""
    dy = _float_array("dy", dy, 2)
    N, C, H, W = _shape4("x_shape", x_shape)
    if dy.shape != (N, C):
        raise ValueError(f"dy must have shape (N, C) = {(N, C)} of x_shape, got {dy.shape}")
    _entries("an output", (N, C, H, W), "x_shape")
    dx = np.empty((N, C, H, W), dy.dtype)
    _k.global_avgpool_backward(dy, dx)
    return dx


def relu_forward(x) -> np.ndarray:
    """max(x, 0) element-wise, any shape (a new array; the kernel itself may work in place)."""
    x = check_array("x", x, min_size=1)
    if x.dtype not in _FLOATS:
        raise TypeError(f"x must have dtype float32 or float64, got {x.dtype}")
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    _k.relu_forward(x.reshape(-1), y.reshape(-1))
    return y


def relu_backward(dy, y) -> np.ndarray:
    """dy where y > 0, else 0 (y: the ReLU output or input); dy and y of one shape and dtype."""
    dy = check_array("dy", dy, min_size=1)
    if dy.dtype not in _FLOATS:
        raise TypeError(f"dy must have dtype float32 or float64, got {dy.dtype}")
    y = check_array("y", y, dtype=dy.dtype)
    if y.shape != dy.shape:
        raise ValueError(f"y must have the shape of dy {dy.shape}, got {y.shape}")
    dy, y = np.ascontiguousarray(dy), np.ascontiguousarray(y)
    dx = np.empty_like(dy)
    _k.relu_backward(dy.reshape(-1), y.reshape(-1), dx.reshape(-1))
    return dx
