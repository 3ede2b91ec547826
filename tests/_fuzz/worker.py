"""The worker process: evaluates a call's argument expressions, runs it, classifies the outcome.

Each worker caps its address space (``RLIMIT_AS``, 4 GiB by default), runs numba and BLAS on
one thread, works in its own scratch directory (so callables that write files write there) and
sends back only the outcome record, never the result itself.
"""
from __future__ import annotations

import os
import resource
import time
import warnings

MEMORY_LIMIT = 4 * 2**30
THREAD_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def namespace() -> dict:
    from tests._fuzz import values
    return {k: getattr(values, k) for k in values.__all__}


def execute(call: dict, ns: dict) -> dict:
    from tests._fuzz.discover import resolve
    from tests._fuzz.oracle import classify
    t0 = time.perf_counter()
    try:
        fn = resolve(call["target"])
        kwargs = {k: eval(v, dict(ns)) for k, v in call["args"]}  # noqa: S307  (the harness' own expressions)
    except Exception as exc:  # noqa: BLE001
        return {"outcome": "harness_error", "message": f"{type(exc).__name__}: {exc}"[:400], "elapsed": 0.0}
    exc, result = None, None
    try:
        result = fn(*kwargs.values()) if call.get("positional") else fn(**kwargs)
    except MemoryError as e:
        exc = e
    except (Exception, SystemExit) as e:  # noqa: BLE001  (classifying every exception is the point)
        exc = e
    elapsed = time.perf_counter() - t0
    try:
        out = classify(call["cls"], call["param"], call["params"], exc, result, finite=call.get("finite", True))
    except Exception as e:  # noqa: BLE001
        out = {"outcome": "crash", "message": f"while checking the result: {type(e).__name__}: {e}"[:400]}
    del result
    out["elapsed"] = round(elapsed, 4)
    return out


def main(conn, scratch: str, memory_limit: int = MEMORY_LIMIT) -> None:
    """Serve calls from ``conn`` until it sends None."""
    os.environ.update(THREAD_ENV)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    except (ValueError, OSError):
        pass
    os.makedirs(scratch, exist_ok=True)
    os.chdir(scratch)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    warnings.simplefilter("ignore")
    try:
        import numba
        numba.set_num_threads(1)
    except Exception:  # noqa: BLE001
        pass
    ns = namespace()
    while True:
        try:
            call = conn.recv()
        except EOFError:
            return
        if call is None:
            return
        conn.send(execute(call, ns))
