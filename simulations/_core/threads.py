"""CPU thread control: the bundled OpenBLAS libraries (numpy's, scipy's) and numba's parallel kernels.

The CPU kernels run BLAS and numba single-threaded by default — one run per core,
parallelism across runs — because spinning BLAS/OpenMP threads on a shared machine
collapse throughput when another process holds a core. :func:`blas_threads` changes the
count for the body of a ``with`` block (``train(..., threads=n)``, ``tailcomp train
--threads n``, env ``TAILCOMP_THREADS``: :func:`default_threads`).

OpenBLAS is found by name (``numpy.libs``/``scipy.libs`` and the libraries already mapped
into the process) and driven through ``openblas_set_num_threads`` /
``openblas_get_num_threads`` (with or without the ``scipy_`` prefix and ``64_`` suffix).
With env ``TAILCOMP_QUIET_BLAS=1``, the first time n > 1 is asked for, OpenBLAS's worker
threads are told to sleep rather than spin between calls (``OPENBLAS_THREAD_TIMEOUT``, see
:func:`_quiet_openblas_threads`): kinder to other processes, at the cost of a wake-up per
BLAS call.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import importlib
import os
import sys
from typing import Any

from simulations._core.validation import check_int

__all__ = ["blas_threads", "set_blas_threads", "get_blas_threads", "default_threads", "THREAD_TIMEOUT_EXP",
           "THREAD_ENV", "one_thread", "openblas_threads"]

#: OpenBLAS worker threads spin this long (2^k cycles) waiting for work before they sleep.
#: OpenBLAS's default (k = 28, ~0.1 s) keeps them spinning through a whole training run, and
#: spinning threads collapse throughput on a shared machine; k = 4 makes them sleep at once.
THREAD_TIMEOUT_EXP = 4

#: Environment variables that fix a *process's* thread pools at start-up; a sweep sets each to "1"
#: in its worker processes (one thread per worker, parallelism across runs).
THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_thread() -> None:
    """Set numba's thread count to 1 if numba is loaded (the BLAS pools follow :data:`THREAD_ENV`)."""
    if "numba" in sys.modules:
        try:
            sys.modules["numba"].set_num_threads(1)
        except Exception:
            pass


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


@contextlib.contextmanager
def openblas_threads(n: int):
    """Run the body with the OpenBLAS libraries at ``n`` ≥ 1 threads (numba's count untouched), restoring them after.

    For code that runs several single-threaded BLAS calls at once on its own threads.
    """
    hs = _blas()
    old = [g() for _, _, g in hs]
    for _, s, _ in hs:
        s(n)
    try:
        yield
    finally:
        for (_, s, _), o in zip(hs, old):
            s(max(int(o), 1))


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
    try:
        import numba

        old_nb = numba.get_num_threads()
    except Exception:  # pragma: no cover
        old_nb = None
    with openblas_threads(n):          # restores the OpenBLAS counts on the way out
        set_blas_threads(n)            # (and sets numba's count, and OpenBLAS's quiet mode if asked)
        try:
            yield
        finally:
            if old_nb is not None:
                import numba

                numba.set_num_threads(old_nb)
