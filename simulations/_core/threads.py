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
BLAS call. :func:`quiet_openblas` does the same for the body of a ``with`` block only (the CPU
backends use it for training with per-entry noise on more than one thread, whose numba-parallel
draws follow each GEMM and need the core an idle OpenBLAS worker would spin on).

numba's own OpenMP workers spin after each parallel region as well (libgomp's default
``GOMP_SPINCOUNT``, 300,000 iterations, milliseconds), long enough to hold a core through the
next GEMM. When tailcomp starts numba's thread pool (:func:`set_blas_threads`, before numba's
first parallel launch) and the user has set neither ``GOMP_SPINCOUNT`` nor
``OMP_WAIT_POLICY``, the pool starts with :data:`OMP_SPIN_COUNT`; the variable is set only
while libgomp loads, so other OpenMP runtimes loaded later (PyTorch's) keep their defaults.
PyTorch bundles a ``libgomp.so.1`` of its own: imported *before* numba's pool starts, it is the
libgomp numba binds to, with the default spin; start the pool first (any ``blas_threads`` /
``set_blas_threads`` call) or set ``GOMP_SPINCOUNT`` yourself.
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
           "THREAD_ENV", "one_thread", "openblas_threads", "quiet_openblas", "OMP_SPIN_COUNT", "openblas_kernels"]

#: OpenBLAS worker threads spin this long (2^k cycles) waiting for work before they sleep.
#: OpenBLAS's default (k = 28, ~0.1 s) keeps them spinning through a whole training run, and
#: spinning threads collapse throughput on a shared machine; k = 4 makes them sleep at once.
THREAD_TIMEOUT_EXP = 4

#: OpenBLAS's compiled-in spin (2^k cycles), restored when a :func:`quiet_openblas` block ends.
DEFAULT_TIMEOUT_EXP = 28

#: libgomp spin iterations of numba's OpenMP workers after a parallel region (≈ 0.5–1.5 ms: enough
#: for back-to-back regions, short enough to free the core before the next GEMM). With libgomp's
#: default (300,000) a 784-2048-10 b100 step with per-entry noise at 2 threads took 133 % longer
#: than without noise; with this count and :func:`quiet_openblas`, 55 %.
OMP_SPIN_COUNT = 30000

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
            _SYMBOLS.append((prefix, suffix))
            break
    return out


_LIBS: list = []
_SYMBOLS: list = []      # (prefix, suffix) of each library's exported names, aligned with _LIBS
_QUIET_DONE = False


def _quiet_openblas_threads() -> None:
    """Make OpenBLAS worker threads sleep instead of spin between calls, for the rest of the process
    (once; ``TAILCOMP_QUIET_BLAS=1``): ``OPENBLAS_THREAD_TIMEOUT`` is set unless the user set it, and
    every bundled OpenBLAS re-reads it (:func:`_set_openblas_timeout`)."""
    global _QUIET_DONE
    if _QUIET_DONE:
        return
    _QUIET_DONE = True
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(THREAD_TIMEOUT_EXP))
    _set_openblas_timeout(int(os.environ["OPENBLAS_THREAD_TIMEOUT"]))


_BLAS = None


def _blas():
    global _BLAS
    if _BLAS is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads scipy's OpenBLAS, used by numba's BLAS calls)

        _BLAS = _openblas_handles()
    return _BLAS


_POOL_STARTED = False


def _start_numba_pool() -> None:
    """Start numba's thread pool (once per process) with libgomp's spin count at :data:`OMP_SPIN_COUNT`.

    libgomp reads ``GOMP_SPINCOUNT`` when it is loaded, which numba's OpenMP layer does at its first
    parallel launch; the variable is set for that moment only, and not at all if the user set it or
    ``OMP_WAIT_POLICY``, or if numba's pool already runs (then nothing changes)."""
    global _POOL_STARTED
    if _POOL_STARTED:
        return
    _POOL_STARTED = True
    try:
        import numba
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover
        return
    if getattr(parallel, "_is_initialized", True) or "GOMP_SPINCOUNT" in os.environ or "OMP_WAIT_POLICY" in os.environ:
        return
    os.environ["GOMP_SPINCOUNT"] = str(OMP_SPIN_COUNT)
    try:
        numba.get_num_threads()           # launches the pool (loads the threading layer and its libgomp)
    except Exception:  # pragma: no cover
        pass
    finally:
        os.environ.pop("GOMP_SPINCOUNT", None)


def openblas_kernels() -> dict[str, str]:
    """The kernel family each bundled OpenBLAS dispatched to (``"Haswell"``: AVX2, ``"SkylakeX"``: AVX-512, …),
    by library file name. ``OPENBLAS_CORETYPE`` in the environment forces it at load time; the
    GEMMs of the CPU backends run scipy's library's kernels."""
    _blas()
    out = {}
    for lib, (prefix, suffix), (path, _, _) in zip(_LIBS, _SYMBOLS, _BLAS):
        f = getattr(lib, f"{prefix}_get_corename{suffix}", None)
        if f is not None:
            f.restype = ctypes.c_char_p
            out[os.path.basename(path)] = f().decode()
    return out


def _set_openblas_timeout(exp: int) -> None:
    """Set every bundled OpenBLAS's worker spin to 2^exp cycles: the environment variable is read
    (``openblas_read_env``) and the pool shut down (``blas_thread_shutdown_``), to be recreated with the
    new timeout at the next multi-threaded call. The variable is restored afterwards."""
    old = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(exp)
    try:
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
    finally:
        if old is None:
            os.environ.pop("OPENBLAS_THREAD_TIMEOUT", None)
        else:
            os.environ["OPENBLAS_THREAD_TIMEOUT"] = old


@contextlib.contextmanager
def quiet_openblas(enabled: bool = True):
    """Run the body with OpenBLAS's idle workers sleeping at once (2^:data:`THREAD_TIMEOUT_EXP` cycles)
    instead of spinning (~0.1 s), restoring the spin after. A no-op when ``enabled`` is false, when
    the process-wide quiet mode (``TAILCOMP_QUIET_BLAS=1``) or a user's ``OPENBLAS_THREAD_TIMEOUT``
    is in force, or for a library without the needed symbols."""
    if not enabled or _QUIET_DONE or "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        yield
        return
    _blas()
    _set_openblas_timeout(THREAD_TIMEOUT_EXP)
    try:
        yield
    finally:
        _set_openblas_timeout(DEFAULT_TIMEOUT_EXP)


def set_blas_threads(n: int) -> None:
    """Set the thread count of the bundled OpenBLAS libraries and of numba's parallel kernels."""
    n = check_int("threads", n, 1)
    _start_numba_pool()
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
def blas_threads(n: int | None, quiet: bool = False):
    """Run the body with ``n`` BLAS/numba threads, restoring the previous counts after; with ``quiet``
    and n > 1 also with OpenBLAS's idle workers sleeping (:func:`quiet_openblas`)."""
    if n is None:
        yield
        return
    n = check_int("threads", n, 1)
    _start_numba_pool()
    try:
        import numba

        old_nb = numba.get_num_threads()
    except Exception:  # pragma: no cover
        old_nb = None
    with openblas_threads(n), quiet_openblas(quiet and n > 1):  # restore the OpenBLAS counts and spin on the way out
        set_blas_threads(n)            # (and sets numba's count, and OpenBLAS's quiet mode if asked)
        try:
            yield
        finally:
            if old_nb is not None:
                import numba

                numba.set_num_threads(old_nb)
