"""CUDA availability and host/device array checks for the GPU code paths.

``require_cuda()`` is the single place that decides whether a CUDA device (or the
numba CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``) can run our kernels; every public
``backend="cuda"`` entry point calls it first so that a machine without a GPU gets one
clear ``RuntimeError`` instead of a driver traceback.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "CudaUnavailableError",
    "require_cuda",
    "cuda_available",
    "simulator_enabled",
    "is_device_array",
    "to_device",
    "check_device_array",
    "device_name",
]


class CudaUnavailableError(RuntimeError):
    """No CUDA device (and the numba CUDA simulator is not enabled)."""


_HINT = (
    "backend='cuda' needs an NVIDIA GPU with a working driver and the numba-cuda package "
    "(pip install 'numba-cuda[cu12]' or 'numba-cuda[cu13]'), or the CPU simulator "
    "(set NUMBA_ENABLE_CUDASIM=1 before importing numba.cuda; tiny sizes only). "
    "Use backend='cpu' otherwise."
)


def _import_cuda():
    try:
        from numba import cuda  # noqa: PLC0415
    except ImportError as exc:  # numba-cuda (or cuda-bindings) missing
        raise CudaUnavailableError(f"numba.cuda cannot be imported ({exc}). {_HINT}") from exc
    return cuda


def simulator_enabled() -> bool:
    """True when numba.cuda runs on the CPU simulator (NUMBA_ENABLE_CUDASIM=1)."""
    try:
        _import_cuda()
    except CudaUnavailableError:
        return False
    return _is_sim()


def _is_sim(cuda=None) -> bool:
    try:
        from numba.cuda.core import config  # noqa: PLC0415

        return bool(config.ENABLE_CUDASIM)
    except Exception:  # pragma: no cover - older numba
        import numba  # noqa: PLC0415

        return bool(numba.config.ENABLE_CUDASIM)


def cuda_available() -> bool:
    """True when kernels can run: a CUDA device is present or the simulator is enabled."""
    try:
        cuda = _import_cuda()
    except CudaUnavailableError:
        return False
    try:
        return bool(cuda.is_available())
    except Exception:
        return False


def require_cuda():
    """Return the ``numba.cuda`` module, or raise :class:`CudaUnavailableError` with a hint."""
    cuda = _import_cuda()
    try:
        ok = bool(cuda.is_available())
    except Exception as exc:  # pragma: no cover - driver errors
        raise CudaUnavailableError(f"no usable CUDA device ({exc}). {_HINT}") from exc
    if not ok:
        raise CudaUnavailableError(f"no CUDA device found. {_HINT}")
    return cuda


def device_name() -> str:
    """Human-readable name of the current device ('CUDA simulator' under NUMBA_ENABLE_CUDASIM)."""
    cuda = require_cuda()
    if _is_sim(cuda):
        return "CUDA simulator"
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    return f"{name} (cc {dev.compute_capability[0]}.{dev.compute_capability[1]})"


def is_device_array(x: Any) -> bool:
    """True for numba device arrays (the simulator's fake ones included) and any object exposing
    ``__cuda_array_interface__`` (torch, cupy)."""
    if isinstance(x, np.ndarray):
        return False
    return hasattr(x, "__cuda_array_interface__") or hasattr(x, "copy_to_host")


def to_device(name: str, x: Any, dtype, *, ndim: int | tuple[int, ...] | None = None, finite: bool = True):
    """Copy a host array to the device as ``dtype`` after validating it; pass device arrays through.

    Host arrays go through :func:`simulations._core.validation.check_array`. A device array must
    already have ``dtype`` (``TypeError`` otherwise: no silent device-side casts) and
    ``ndim``.
    """
    from simulations._core.validation import check_array  # noqa: PLC0415

    cuda = require_cuda()
    if is_device_array(x):
        return check_device_array(name, x, dtype, ndim=ndim)
    arr = check_array(name, x, ndim=ndim, finite=finite)
    return cuda.to_device(np.ascontiguousarray(arr, dtype=dtype))


def check_device_array(name: str, x: Any, dtype, *, ndim=None, shape=None):
    """Check that ``x`` is a device array of ``dtype`` (and ``ndim``/``shape``); return it as a numba array."""
    cuda = require_cuda()
    if not is_device_array(x):
        raise TypeError(
            f"{name} must be a CUDA device array (numba DeviceNDArray or __cuda_array_interface__), "
            f"got host object {type(x).__name__}; copy it with numba.cuda.to_device first"
        )
    arr = x if hasattr(x, "copy_to_host") else cuda.as_cuda_array(x)
    dt = np.dtype(dtype)
    if np.dtype(arr.dtype) != dt:
        raise TypeError(f"{name} must have dtype {dt.name} on the device, got {np.dtype(arr.dtype).name}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(f"{name} must have ndim in {allowed}, got shape {tuple(arr.shape)}")
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(arr.shape)}")
    return arr


def check_host_array(name: str, x: Any):
    """Reject device arrays where a host (numpy) array is required (e.g. the CPU backend)."""
    if is_device_array(x):
        raise TypeError(
            f"{name} is a CUDA device array but a host numpy array is needed here; "
            "call .copy_to_host() or use backend='cuda'"
        )
    return x
