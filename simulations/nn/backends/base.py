"""The backend seam: one interface, a ``cpu`` implementation (numba + BLAS) and a lazily imported ``cuda`` one.

:func:`simulations.nn.train.train` talks to a backend only through
:class:`Backend`. A backend owns *device arrays* (numpy arrays on the CPU,
``numba.cuda`` device arrays on the GPU) and runs whole chunks of SGD steps
(:meth:`Backend.run_steps`) so that no Python runs per step.

Data held by a run on the device (:class:`RunBuffers`), all in the flat
parameter layout of :class:`simulations.nn.model.Params`:

* ``params``   (P,)  float32/float64 — θ
* ``velocity`` (P,)  same dtype — momentum buffer v (size 0 when momentum = 0)
* ``mask``     (P,)  uint8 — 1 kept / 0 pruned (size 0 when there is no mask)
* ``noise_states`` (S, 2) uint64 — xoroshiro128+ streams, one per noised neuron
  (rows of the noised layers, in layer order; S = 0 without noise)
* ``avg_sum``  (P,)  float64 — running sum of iterates for iterate averaging (size 0 if unused)

Semantics of one step (identical on every backend; see :mod:`simulations.nn.optim`):
gather the batch ``X[idx[s*B:(s+1)*B]]``; forward; loss and gradient (mean over
the batch); v ← μv + g + λθ; θ ← θ − η_s v (plain SGD when μ = 0: θ ← θ − η_s(g + λθ));
noise σ η_s^{1/α} ξ on the noised layers' weights; θ ← m⊙θ, v ← m⊙v;
if ``avg_flags[s]``: avg_sum += θ. A step whose loss or any parameter is not
finite stops the chunk (``diverged=True``).

Threading (issue item 6): the CPU backend runs BLAS and numba single-threaded
by default — one run per core, parallelism across runs — because spinning
BLAS/OpenMP threads on a shared 2-core machine collapse throughput when another
process holds a core. ``threads=n`` (``train(..., threads=n)``, ``tailcomp train
--threads n``, or env ``TAILCOMP_THREADS``) changes it for the duration of a run.
With env ``TAILCOMP_QUIET_BLAS=1``, the first time n > 1 is asked for, OpenBLAS's
worker threads are told to sleep rather than spin between calls
(``OPENBLAS_THREAD_TIMEOUT``, see :func:`_quiet_openblas_threads`): kinder to other
processes on a shared machine, at the cost of a wake-up per BLAS call.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import importlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations._core.validation import check_choice, check_int
from simulations.nn.model import MLPSpec
from simulations.nn.optim import NoiseConfig

__all__ = [
    "Backend",
    "CPUBackend",
    "RunBuffers",
    "StepConfig",
    "StepsResult",
    "get_backend",
    "available_backends",
    "blas_threads",
    "set_blas_threads",
    "get_blas_threads",
    "default_threads",
]

BACKENDS = ("cpu", "cuda")


@dataclass(frozen=True)
class StepConfig:
    """What stays fixed during a run (compiled into the workspace).

    spec, batch_size B ≥ 1, momentum μ, weight_decay λ, noise (None = off),
    has_mask, averaging (True when avg_sum is kept), max_loss.
    """

    spec: MLPSpec
    batch_size: int
    momentum: float = 0.0
    weight_decay: float = 0.0
    noise: NoiseConfig | None = None
    has_mask: bool = False
    averaging: bool = False
    max_loss: float | None = None  # a mean batch loss above it counts as divergence (None: off)

    @property
    def noise_layers(self) -> list[int]:
        if self.noise is None or not self.noise.active:
            return []
        return self.noise.layer_list(self.spec.n_layers)

    @property
    def n_noise_streams(self) -> int:
        """One stream per noised neuron (row)."""
        return sum(self.spec.sizes[l + 1] for l in self.noise_layers)


@dataclass
class RunBuffers:
    """Device arrays of a run (see the module docstring)."""

    params: Any
    velocity: Any
    mask: Any
    noise_states: Any
    avg_sum: Any


@dataclass
class StepsResult:
    """Outcome of :meth:`Backend.run_steps`.

    n_done: steps completed (a diverging step counts as done); loss_sum and
    correct: sums over the samples of the completed steps' batches (loss before
    the update, as PyTorch reports it); diverged: a non-finite loss or parameter was met.
    """

    n_done: int
    loss_sum: float
    correct: int
    diverged: bool


class Backend(ABC):
    """Interface every backend implements (``cpu`` here, ``cuda`` in ``cuda_backend.py``)."""

    name: str = "abstract"

    # --- memory ------------------------------------------------------------------------
    @abstractmethod
    def to_device(self, arr: np.ndarray) -> Any:
        """Copy a host array to the device (CPU: a C-contiguous array, no copy if already one)."""

    @abstractmethod
    def to_host(self, arr: Any) -> np.ndarray:
        """Copy a device array to a new host numpy array."""

    def host_view(self, arr: Any) -> np.ndarray:
        """A host array with the contents of ``arr``; may share memory with it (CPU) — read, don't keep."""
        return self.to_host(arr)

    def empty(self, shape, dtype) -> Any:
        """Uninitialised device array."""
        return self.to_device(np.empty(shape, dtype=dtype))

    # --- threads -----------------------------------------------------------------------
    def threads(self, n: int):
        """Context manager: run with ``n`` CPU threads (no-op where it does not apply)."""
        return contextlib.nullcontext()

    # --- compute -----------------------------------------------------------------------
    @abstractmethod
    def workspace(self, config: StepConfig, eval_batch_size: int = 1024) -> Any:
        """Allocate every per-run buffer once (activations, deltas, gradients, batch)."""

    @abstractmethod
    def run_steps(self, ws: Any, config: StepConfig, bufs: RunBuffers, X: Any, y: Any, idx: Any,
                  lrs: np.ndarray, avg_flags: np.ndarray) -> StepsResult:
        """Run ``len(lrs)`` SGD steps; step s uses samples ``idx[s*B:(s+1)*B]`` and rate ``lrs[s]``.

        B = len(idx) // len(lrs) ≤ config.batch_size (a smaller B serves a last partial batch).

        X: (n, d_0) device array of the spec's dtype; y: (n,) int32 labels in [0, K);
        idx: int64 (len(lrs)*B,) indices into X (host or device); lrs: float64 (n_steps,);
        avg_flags: uint8 (n_steps,) — add θ to ``bufs.avg_sum`` after step s when 1.
        Updates ``bufs`` in place. Never raises on divergence (see :class:`StepsResult`).
        """

    @abstractmethod
    def evaluate(self, ws: Any, spec: MLPSpec, params: Any, X: Any, y: Any) -> tuple[float, int]:
        """(sum of per-sample losses, number correct) of ``params`` on (X, y), in chunks."""

    @abstractmethod
    def forward(self, ws: Any, spec: MLPSpec, params: Any, X: Any) -> np.ndarray:
        """Logits (n, K) as a host array."""

    def gradient(self, spec: MLPSpec, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss, flat gradient) on one batch, host arrays in and out (for checks)."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------
# BLAS threads (numpy's and scipy's bundled OpenBLAS; numba's np.dot goes through scipy's)
# ---------------------------------------------------------------------------------------
#: OpenBLAS worker threads spin this long (2^k cycles) waiting for work before they sleep.
#: OpenBLAS's default (k = 28, ~0.1 s) keeps them spinning through a whole training run, and
#: spinning threads collapse throughput on a shared machine; k = 4 makes them sleep at once.
THREAD_TIMEOUT_EXP = 4


def _openblas_handles() -> list[tuple[Any, Any, Any]]:
    """(set, get) function pairs of every OpenBLAS library numpy/scipy bundle (found by name)."""
    out = []
    cands = []
    for mod in ("numpy", "scipy"):
        try:
            m = importlib.import_module(mod)
        except ImportError:  # pragma: no cover
            continue
        base = os.path.dirname(os.path.dirname(m.__file__))
        cands += glob.glob(os.path.join(base, f"{mod}.libs", "*openblas*.so*"))
    try:  # BLAS libraries already loaded by other builds (conda's libopenblas, ...), Linux only
        with open("/proc/self/maps") as f:
            cands += sorted({ln.split()[-1] for ln in f if "openblas" in ln.lower() and ".so" in ln})
    except OSError:  # pragma: no cover
        pass
    seen = set()
    for path in cands:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        try:
            lib = ctypes.CDLL(path)
        except OSError:  # pragma: no cover
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "64_"), ("openblas", "")):
            try:
                s = getattr(lib, f"{prefix}_set_num_threads{suffix}")
                g = getattr(lib, f"{prefix}_get_num_threads{suffix}")
            except AttributeError:
                continue
            s.argtypes = [ctypes.c_int]
            s.restype = None
            g.restype = ctypes.c_int
            out.append((path, s, g))
            _LIBS.append(lib)
            break
    return out


_LIBS: list = []
_QUIET_DONE = False


def _quiet_openblas_threads() -> None:
    """Make OpenBLAS worker threads sleep instead of spin between calls (once per process).

    Sets ``OPENBLAS_THREAD_TIMEOUT`` (unless the user set it), makes each bundled OpenBLAS
    re-read its environment (``openblas_read_env``) and shuts its thread pool down
    (``blas_thread_shutdown_``); the pool is recreated with the new timeout at the next
    multi-threaded call. Libraries without these symbols are left alone.
    """
    global _QUIET_DONE
    if _QUIET_DONE:
        return
    _QUIET_DONE = True
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(THREAD_TIMEOUT_EXP))
    for lib in _LIBS:
        try:
            read_env = lib.openblas_read_env
            shutdown = lib.blas_thread_shutdown_
        except AttributeError:  # pragma: no cover
            continue
        read_env.restype = None
        shutdown.restype = ctypes.c_int
        read_env()
        shutdown()


_BLAS = None


def _blas():
    global _BLAS
    if _BLAS is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads scipy's OpenBLAS, used by numba's BLAS calls)

        _BLAS = _openblas_handles()
    return _BLAS


def set_blas_threads(n: int) -> None:
    """Set the thread count of the bundled OpenBLAS libraries and of numba's parallel kernels."""
    n = check_int("threads", n, 1)
    hs = _blas()
    if n > 1 and os.environ.get("TAILCOMP_QUIET_BLAS") == "1":
        _quiet_openblas_threads()
    for _, s, _ in hs:
        s(n)
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except Exception:  # pragma: no cover
        pass


def get_blas_threads() -> int:
    """Thread count of scipy's OpenBLAS (the one numba's BLAS calls use); 0 if unknown."""
    hs = _blas()
    return int(hs[-1][2]()) if hs else 0


def default_threads() -> int:
    """Threads per run: env ``TAILCOMP_THREADS`` if set, else 1 (parallelism across runs)."""
    env = os.environ.get("TAILCOMP_THREADS")
    if env:
        return check_int("TAILCOMP_THREADS", int(env), 1)
    return 1


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Run the body with ``n`` BLAS/numba threads, restoring the previous counts after."""
    if n is None:
        yield
        return
    n = check_int("threads", n, 1)
    hs = _blas()
    old = [g() for _, _, g in hs]
    try:
        import numba

        old_nb = numba.get_num_threads()
    except Exception:  # pragma: no cover
        old_nb = None
    set_blas_threads(n)
    try:
        yield
    finally:
        for (_, s, _), o in zip(hs, old):
            s(max(int(o), 1))
        if old_nb is not None:
            import numba

            numba.set_num_threads(old_nb)


# ---------------------------------------------------------------------------------------
# CPU backend
# ---------------------------------------------------------------------------------------
class CPUBackend(Backend):
    """numba kernels around BLAS sgemm/dgemm (scipy's OpenBLAS), all buffers preallocated."""

    name = "cpu"

    def to_device(self, arr: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(arr)

    def to_host(self, arr: Any) -> np.ndarray:
        return np.array(arr, copy=True)

    def host_view(self, arr: Any) -> np.ndarray:
        return arr

    def threads(self, n: int):
        return blas_threads(n)

    def workspace(self, config: StepConfig, eval_batch_size: int = 1024):
        from simulations.nn.backends import cpu as _cpu

        return _cpu.Workspace(config, eval_batch_size)

    def run_steps(self, ws, config, bufs, X, y, idx, lrs, avg_flags) -> StepsResult:
        from simulations.nn.backends import cpu as _cpu

        return _cpu.run_steps(ws, config, bufs, X, y, idx, lrs, avg_flags)

    def evaluate(self, ws, spec, params, X, y):
        from simulations.nn.backends import cpu as _cpu

        return _cpu.evaluate(ws, spec, params, X, y)

    def forward(self, ws, spec, params, X):
        from simulations.nn.backends import cpu as _cpu

        return _cpu.forward(ws, spec, params, X)

    def gradient(self, spec, params, X, y):
        from simulations.nn.backends import cpu as _cpu

        return _cpu.gradient(spec, params, X, y)


_INSTANCES: dict[str, Backend] = {}


def get_backend(name: str | Backend = "cpu") -> Backend:
    """The backend called ``name`` ("cpu" or "cuda"); a :class:`Backend` instance is returned as is.

    "cuda" is imported lazily from :mod:`simulations.nn.backends.cuda` (class
    ``CUDABackend``); a clear ``RuntimeError`` says why when it cannot be used.
    """
    if isinstance(name, Backend):
        return name
    check_choice("backend", name, BACKENDS)
    if name in _INSTANCES:
        return _INSTANCES[name]
    if name == "cpu":
        be: Backend = CPUBackend()
    else:
        try:
            mod = importlib.import_module("simulations.nn.backends.cuda")
        except ImportError as exc:
            raise RuntimeError(
                "backend 'cuda' is not available: simulations.nn.backends.cuda could not be imported "
                f"({exc}); use backend='cpu'"
            ) from exc
        be = mod.CUDABackend()
    _INSTANCES[name] = be
    return be


def available_backends() -> list[str]:
    """Backends that can be constructed here."""
    out = ["cpu"]
    try:
        get_backend("cuda")
        out.append("cuda")
    except Exception:
        pass
    return out
