"""Shared plumbing for the bench scripts: argument parsing, timing, the JSON/table output.

Every bench script takes ``--quick`` (small sizes, seconds) and ``--json PATH``
and writes ``{"bench": name, "rows": [{"case", "ours", "peer", "ratio", "unit"}]}``
where ``ratio = ours / peer`` and the unit is chosen so that higher is better
(throughputs: items/s, steps/s, ...). Timings are best-of-``repeat`` wall-clock
after one warm-up call, so numba's first-call compile never enters a timing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def parse_args(description: str, argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes (seconds), for smoke tests")
    p.add_argument("--json", type=Path, default=None, help="write the rows as JSON to this path")
    p.add_argument("--repeat", type=int, default=None, help="timed repetitions (best is kept)")
    return p.parse_args(argv)


def best_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Best wall-clock seconds of ``repeat`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def interleaved_times(fns, repeat: int, cooldown: float = 0.1) -> list[list[float]]:
    """Wall-clock seconds of ``repeat`` rounds of the calls ``fns`` (one list per callable), after one
    warm-up call each (numba compile, allocator). Within a round the order alternates (forward, then
    backward the next round), each call after ``cooldown`` seconds of idle, so that a slow spell of a
    shared machine hits every callable alike; ``[min(t) for t in ...]`` is the best-of timing."""
    for f in fns:
        f()
    times: list[list[float]] = [[] for _ in fns]
    for r in range(repeat):
        order = range(len(fns)) if r % 2 == 0 else range(len(fns) - 1, -1, -1)
        for i in order:
            time.sleep(cooldown)
            t0 = time.perf_counter()
            fns[i]()
            times[i].append(time.perf_counter() - t0)
    return times


def best_interleaved(fns, repeat: int, cooldown: float = 0.1) -> list[float]:
    """Best-of-``repeat`` wall-clock seconds of each callable, timed by :func:`interleaved_times`."""
    return [min(t) for t in interleaved_times(fns, repeat, cooldown)]


def row(case: str, ours: float, peer: float, unit: str) -> dict:
    """One result row; ``ours`` and ``peer`` in ``unit`` (higher is better)."""
    return {"case": case, "ours": float(ours), "peer": float(peer), "ratio": float(ours) / float(peer), "unit": unit}


def cpu_info() -> dict:
    """The CPU model, its SIMD flags (AVX2 / AVX-512 / FMA) and the target numba's LLVM compiles for.

    ``NUMBA_CPU_NAME`` (e.g. ``haswell``: AVX2 + FMA, no AVX-512) makes numba generate code for
    another CPU than the host's, which is how AVX2 numbers can be measured on an AVX-512 machine.
    """
    info: dict = {"model": platform.processor() or platform.machine()}
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and "model" in info:
                    info["model"] = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:  # not Linux
        pass
    info["vector"] = ("AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else
                      "AVX" if "avx" in flags else "SSE/other")
    info["flags"] = sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    try:
        import llvmlite.binding as llvm

        info["numba_target"] = os.environ.get("NUMBA_CPU_NAME") or llvm.get_host_cpu_name()
    except Exception:  # pragma: no cover
        pass
    return info


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "cpu": cpu_info()}
    try:
        import numba

        info["numba"] = numba.__version__
        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
        info["svml"] = bool(getattr(numba.config, "USING_SVML", False))
    except Exception:  # pragma: no cover - numba is a core dependency
        pass
    info["numpy"] = np.__version__
    try:
        from simulations._core.threads import openblas_kernels

        info["openblas_kernels"] = openblas_kernels()
    except Exception:  # pragma: no cover
        pass
    info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE")
    return info


def emit(bench: str, rows: list[dict], json_path: Path | None, notes: dict | None = None) -> dict:
    """Print the table and write the JSON document; return it."""
    doc = {"bench": bench, "rows": rows, "machine": machine()}
    if notes:
        doc["notes"] = notes
    w = max([len(r["case"]) for r in rows] + [4])
    print(f"{bench}")
    print(f"{'case':<{w}}  {'ours':>12}  {'peer':>12}  {'ratio':>8}  unit")
    for r in rows:
        print(f"{r['case']:<{w}}  {r['ours']:>12.4g}  {r['peer']:>12.4g}  {r['ratio']:>8.2f}  {r['unit']}")
    cpu = doc["machine"]["cpu"]
    print(f"# cpu: {cpu['model']} ({cpu['vector']}; numba target {cpu.get('numba_target', '?')})")
    print(f"# openblas kernels: {doc['machine'].get('openblas_kernels')} "
          f"(OPENBLAS_CORETYPE={doc['machine']['OPENBLAS_CORETYPE']})")
    if notes:
        for k, v in notes.items():
            print(f"# {k}: {v}")
    if json_path is not None:
        json_path = Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(doc, indent=2))
    return doc
