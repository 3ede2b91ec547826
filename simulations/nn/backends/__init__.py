"""Backends of the neural core: where the SGD steps of :func:`simulations.nn.train.train` run.

A backend (contract :class:`~simulations.nn.backends.base.Backend`) owns the run's arrays on
its device and runs whole chunks of SGD steps with no Python per step:

* ``"cpu"`` — :class:`~simulations.nn.backends.cpu.CPUBackend`: numba kernels around BLAS
  (``cpu_dense`` forward/backward, ``cpu_noise`` noise and update passes, ``cpu_kernels`` the
  training chunk);
* ``"cuda"`` — :class:`~simulations.nn.backends.cuda.CUDABackend`: numba.cuda kernels
  (``cuda_dense`` tiled GEMM with fused epilogues, ``cuda_kernels`` loss / update / noise),
  imported only when asked for.

Both take their integer codes from :mod:`simulations._core.codes` and share the per-element
arithmetic of :mod:`simulations.nn.backends.pointwise`. This module is the registry:
:func:`get_backend` and :func:`available_backends`.
"""
from __future__ import annotations

from simulations._core.validation import check_choice
from simulations.nn.backends.base import Backend, KernelCodes, RunBuffers, StepConfig, StepsResult

__all__ = ["BACKENDS", "Backend", "KernelCodes", "RunBuffers", "StepConfig", "StepsResult", "get_backend",
           "available_backends"]

BACKENDS = ("cpu", "cuda")

_INSTANCES: dict[str, Backend] = {}


def _make(name: str) -> Backend:
    if name == "cpu":
        from simulations.nn.backends.cpu import CPUBackend

        return CPUBackend()
    try:
        from simulations.nn.backends.cuda import CUDABackend
    except ImportError as exc:
        raise RuntimeError(
            "backend 'cuda' is not available: simulations.nn.backends.cuda could not be imported "
            f"({exc}); use backend='cpu'"
        ) from exc
    return CUDABackend()


def get_backend(name: str | Backend = "cpu") -> Backend:
    """The backend called ``name`` ("cpu" or "cuda"), one instance per process; a :class:`Backend` is returned as is.

    "cuda" is imported lazily; a clear ``RuntimeError`` says why when it cannot be used
    (:class:`simulations._core.device.CudaUnavailableError` without a device or the simulator).
    """
    if isinstance(name, Backend):
        return name
    check_choice("backend", name, BACKENDS)
    if name not in _INSTANCES:
        _INSTANCES[name] = _make(name)
    return _INSTANCES[name]


def available_backends() -> list[str]:
    """Backends that can be constructed here."""
    out = ["cpu"]
    try:
        get_backend("cuda")
        out.append("cuda")
    except Exception:
        pass
    return out
