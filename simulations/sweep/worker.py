"""Executing one run in a worker process: :func:`execute` never raises for errors of the run.

The worker imports the module that defines the experiment (by name), validates the
configuration, calls the experiment and turns its outcome into a record for the store:
``done``/``diverged`` (returned, or :class:`~simulations.sweep.registry.Diverged`
raised; a non-finite metric turns ``done`` into ``diverged``) or ``failed`` (any other
exception, with the traceback), plus timings, the worker's name and the package versions.
Each worker runs one thread (:data:`THREAD_ENV` set to 1, numba's thread count set to 1, and
``TAILCOMP_THREADS`` set to 1 while the run executes, so that :func:`simulations.nn.train`
runs one thread too), records it as ``"threads": 1`` in the run's ``versions`` (the run hash
of :func:`simulations.sweep.plan.run_hash` is the one of ``threads=1``) and dies with the
sweep that started it (:func:`die_with_parent`).
"""
from __future__ import annotations

import importlib
import json
import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Mapping

from simulations._core.threads import THREAD_ENV, one_thread
from simulations.sweep.config import jsonable
from simulations.sweep.registry import FINISHED, Diverged, get_experiment, make_config

__all__ = ["THREAD_ENV", "RUN_THREADS", "execute", "worker_init", "die_with_parent", "one_thread", "package_versions"]

#: CPU threads of every run a worker executes (recorded in the run's ``versions``)
RUN_THREADS = 1

_MAX_ERROR_CHARS = 20_000
_VERSIONS: dict | None = None


def package_versions() -> dict:
    """Versions of Python and of the packages a run depends on (read once per process)."""
    global _VERSIONS
    if _VERSIONS is None:
        import platform
        from importlib import metadata

        v = {"python": platform.python_version(), "platform": platform.platform()}
        for pkg in ("tailcomp", "numpy", "scipy", "numba", "sympy"):
            try:
                v[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                pass
        _VERSIONS = v
    return dict(_VERSIONS)


def worker_init(parent_pid: int | None = None) -> None:
    """Pool initializer: one thread per worker (the env vars were already set at spawn).

    With ``parent_pid`` (the pid of the sweep that started the pool) the worker also dies
    with its parent: :func:`die_with_parent`.
    """
    for var in THREAD_ENV:
        os.environ[var] = "1"
    one_thread()
    if parent_pid is not None:
        die_with_parent(parent_pid)


#: Seconds between two checks of the worker-side watchdog (:func:`die_with_parent`).
WATCHDOG_PERIOD = 0.5


def _parent_death_signal() -> bool:
    """Linux: ask the kernel to SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return False


def die_with_parent(parent_pid: int) -> None:
    """Make this worker exit as soon as the process ``parent_pid`` that started it dies.

    A sweep killed by SIGKILL cannot shut its pool down; without this its workers (and
    the multiprocessing resource tracker, which exits once no worker holds its pipe)
    would live on.  On Linux the kernel kills the worker (parent-death signal); on every
    platform a daemon thread also checks every :data:`WATCHDOG_PERIOD` seconds that the
    parent is still ``os.getppid()`` and ends the process otherwise (it also covers a
    parent that died before the signal was set up).
    """
    parent_pid = int(parent_pid)
    _parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    import threading

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_PERIOD)
        os._exit(1)

    threading.Thread(target=watch, name="tailcomp-parent-watchdog", daemon=True).start()


def _first_non_finite(metrics: Mapping) -> str | None:
    for k, v in metrics.items():
        if isinstance(v, float) and not math.isfinite(v):
            return k
    return None


def _outcome(name: str, res) -> dict:
    """Check what the experiment returned; the status, error and JSON text of metrics and history."""
    if not isinstance(res, Mapping):
        raise TypeError(f"experiment {name!r} returned {type(res).__name__}, expected a mapping with 'metrics'")
    extra = [k for k in res if k not in ("status", "metrics", "history", "error")]
    if extra:
        raise ValueError(f"experiment {name!r} returned unknown key(s) {extra}; allowed: status, metrics, history, error")
    status = res.get("status", "done")
    if status not in FINISHED:
        raise ValueError(f"experiment {name!r} returned status {status!r}; allowed: 'done', 'diverged'")
    metrics = jsonable(res.get("metrics", {}))
    if not isinstance(metrics, dict):
        raise TypeError(f"experiment {name!r}: metrics must be a mapping, got {type(metrics).__name__}")
    history = jsonable(res.get("history", []))
    if not isinstance(history, list):
        raise TypeError(f"experiment {name!r}: history must be a list, got {type(history).__name__}")
    error = res.get("error")
    bad = _first_non_finite(metrics)
    if status == "done" and bad is not None:
        status, error = "diverged", f"metric {bad!r} is not finite ({metrics[bad]}); stored as diverged"
    return {
        "status": status,
        "error": None if error is None else str(error),
        "metrics": json.dumps(metrics, sort_keys=True),
        "history": json.dumps(history, sort_keys=True),
    }


def execute(name: str, module: str, config: dict, seed: int) -> dict:
    """Run one experiment in a worker; never raises for errors of the run itself.

    Returns ``{"status", "error", "metrics", "history", "started_at", "finished_at",
    "wall_time", "cpu_time", "worker", "versions"}`` with metrics/history as JSON text;
    ``versions`` holds the package versions and ``"threads"`` (:data:`RUN_THREADS`).
    """
    one_thread()
    t_start, c_start = time.time(), time.process_time()
    p_start = time.perf_counter()
    out = {"error": None, "metrics": "{}", "history": "[]"}
    saved = os.environ.get("TAILCOMP_THREADS")
    os.environ["TAILCOMP_THREADS"] = str(RUN_THREADS)  # train(threads=None) reads it (inline runs too)
    try:
        if module and module not in sys.modules and module not in ("__main__", "__mp_main__"):
            importlib.import_module(module)
        exp = get_experiment(name)
        cfg = make_config(exp, config)
        try:
            res = exp.func(cfg, seed)
        except Diverged as d:
            res = {"status": "diverged", "error": str(d), "metrics": d.metrics, "history": d.history}
        out.update(_outcome(name, res))
    except Exception:
        out.update(status="failed", error=traceback.format_exc()[-_MAX_ERROR_CHARS:])
    finally:
        if saved is None:
            os.environ.pop("TAILCOMP_THREADS", None)
        else:
            os.environ["TAILCOMP_THREADS"] = saved
    out.update(
        started_at=t_start,
        finished_at=time.time(),
        wall_time=time.perf_counter() - p_start,
        cpu_time=time.process_time() - c_start,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        versions=json.dumps({**package_versions(), "threads": RUN_THREADS}, sort_keys=True),
    )
    return out
