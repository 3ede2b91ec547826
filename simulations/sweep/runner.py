"""Running a sweep: :func:`run_sweep` registers the runs, executes what is not finished, records each result.

Every (config, seed) pair is validated and hashed first (nothing touches the store if
one is bad); the runs are registered as ``pending`` in one transaction; those already
``done`` or ``diverged`` are skipped, those left ``pending``/``running`` by a killed
sweep are rerun, and so are ``failed`` ones unless ``retry_failed=False``.  A bounded
number of runs is in flight on the executor (:mod:`simulations.sweep.executors`); each
result is committed by the submitting process as soon as it arrives
(:class:`simulations.sweep.writer.StoreWriter`), so a sweep killed at any moment resumes
where it stopped.
"""
from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulations._core.validation import check_bool, check_int
from simulations.sweep.executors import WORKERS_MAX, make_executor
from simulations.sweep.plan import run_specs
from simulations.sweep.registry import Experiment
from simulations.sweep.store import ResultsStore

__all__ = ["SweepSummary", "run_sweep"]


@dataclass
class SweepSummary:
    """What :func:`run_sweep` did: counts per outcome and the run ids of the sweep."""

    total: int = 0
    skipped: int = 0
    done: int = 0
    diverged: int = 0
    failed: int = 0
    run_ids: list[str] = field(default_factory=list)
    wall_time: float = 0.0


def _git_commit() -> str | None:
    import subprocess

    try:
        r = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5,
        )
        return r.stdout.strip() or None if r.returncode == 0 else None
    except Exception:
        return None


def _failure(exc: BaseException) -> dict:
    """The record of a run whose result never arrived (the worker died, the transfer failed, ...)."""
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "metrics": "{}", "history": "[]",
            "finished_at": time.time()}


def run_sweep(
    experiment: str | Experiment,
    configs: Iterable,
    store: str | os.PathLike | ResultsStore,
    *,
    seeds: int | Sequence[int] = (0,),
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
    retry_failed: bool = True,
    name: str = "",
) -> SweepSummary:
    """Run every (config, seed) pair not already finished in ``store``.

    ``configs``: config instances or mappings (validated, all of them, before the store
    is touched).  ``seeds``: an int n (seeds 0..n-1) or a list.  ``workers``: number of
    local processes (default: the CPUs available; ``0`` runs in this process).
    ``scheduler``: a Dask scheduler address ``"tcp://HOST:PORT"``, a
    ``dask.distributed.Client`` or a cluster object (``LocalCluster``); ``workers`` is
    then ignored.  ``progress``: a tqdm bar over the whole sweep.  Runs already
    ``done``/``diverged`` are skipped; ``failed`` ones rerun when ``retry_failed``.
    ``name``: a label stored with the runs this sweep creates.
    Only this process writes to the store; one sweep at a time may write to a store
    (:class:`~simulations.sweep.writer.StoreLockedError` otherwise).  Local workers are
    started with ``spawn``: a script calling ``run_sweep`` must do so under
    ``if __name__ == "__main__":``.
    """
    t0 = time.perf_counter()
    exp, specs = run_specs(experiment, configs, seeds)
    if workers is not None:
        workers = check_int("workers", workers, 0, WORKERS_MAX)
    progress = check_bool("progress", progress)
    retry_failed = check_bool("retry_failed", retry_failed)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    own_store = not isinstance(store, ResultsStore)
    st = ResultsStore(store) if own_store else store
    summary = SweepSummary(total=len(specs), run_ids=[s.run_id for s in specs])
    executor = None
    try:
        with st.writer() as writer:
            status = writer.register(specs, name=name, git=_git_commit())
            rerun = ("pending", "running") + (("failed",) if retry_failed else ())
            todo = deque(s for s in specs if status[s.run_id] in rerun)
            summary.skipped = len(specs) - len(todo)
            from tqdm.auto import tqdm

            bar = tqdm(total=len(specs), initial=summary.skipped, desc=f"sweep {exp.name}", unit="run",
                       disable=not progress, dynamic_ncols=True)
            try:
                if todo:
                    executor = make_executor(scheduler=scheduler, workers=workers, runs=len(todo))
                inflight: dict = {}
                breaks = 0  # consecutive worker-pool failures without a single result
                while todo or inflight:
                    while todo and len(inflight) < executor.max_inflight:
                        spec = todo.popleft()
                        writer.mark_running(spec.run_id)
                        inflight[executor.submit(spec, exp.module)] = spec
                    for fut in executor.wait_any(list(inflight)):
                        spec = inflight.pop(fut)
                        try:
                            out = executor.result(fut)
                            breaks = 0
                        except Exception as exc:  # the worker died, the result could not be transferred, ...
                            out = _failure(exc)
                            err = out["error"]
                            if executor.broken(exc, fut):
                                out["error"] = "the worker process died while running this or a concurrent run: " + err
                                breaks += 1
                                if breaks > 3:
                                    writer.record(spec.run_id, out)
                                    raise RuntimeError(
                                        "the local worker pool keeps dying; if you call run_sweep from a script, put the "
                                        "call under `if __name__ == '__main__':` (workers are started with 'spawn'). "
                                        f"Last error: {err}"
                                    ) from exc
                        writer.record(spec.run_id, out)
                        setattr(summary, out["status"], getattr(summary, out["status"]) + 1)
                        bar.update(1)
                        bar.set_postfix(done=summary.done, diverged=summary.diverged, failed=summary.failed,
                                        refresh=False)
            finally:
                bar.close()
                if executor is not None:
                    executor.close()
    finally:
        if own_store:
            st.close()
    summary.wall_time = time.perf_counter() - t0
    return summary
