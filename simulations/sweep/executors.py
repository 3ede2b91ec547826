"""Where runs execute: a local process pool, the calling process, or a Dask cluster.

Every executor has the same small interface (:class:`Executor`): ``submit(spec, module)``
returns a future of :func:`simulations.sweep.worker.execute`'s record, ``wait_any``
returns the futures that finished, ``broken(exc, future)`` says whether an exception
means the pool itself died (it is then replaced), ``max_inflight`` bounds the runs
submitted but not yet recorded, ``close()`` releases the workers.  Only the submitting
process writes to the results store, whatever the executor.

* :class:`LocalExecutor`: ``spawn``-started processes, one thread each
  (:data:`~simulations.sweep.worker.THREAD_ENV` set to 1 in the environment before the
  workers import anything, restored afterwards), which die with the sweep process even
  when it is SIGKILLed (:func:`~simulations.sweep.worker.die_with_parent`);
* :class:`InlineExecutor` (``workers=0``): runs in the calling process (debugging);
* :class:`DaskExecutor`: a ``dask.distributed`` scheduler address ``tcp://HOST:PORT``, a
  ``Client`` or a cluster object (``LocalCluster``); the workers must be able to import
  the module that defines the experiment (``pip install -e .`` on the nodes).

("Executor" here means where a run executes; "backend" is kept for the compute backends
cpu/cuda of the kernels.)
"""
from __future__ import annotations

import os
import re

from simulations._core.validation import check_int
from simulations.sweep.config import config_to_dict
from simulations.sweep.plan import RunSpec
from simulations.sweep.worker import THREAD_ENV, execute, worker_init

__all__ = ["Executor", "LocalExecutor", "InlineExecutor", "DaskExecutor", "make_executor", "available_cpus",
           "WORKERS_MAX"]

#: most local worker processes of one sweep
WORKERS_MAX = 4096


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class _ThreadEnv:
    """Set THREAD_ENV to 1 in os.environ while worker processes are spawned; restore after."""

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in THREAD_ENV}
        for k in THREAD_ENV:
            os.environ[k] = "1"
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _args(spec: RunSpec, module: str) -> tuple:
    """The arguments of :func:`execute` for ``spec`` (plain JSON values: picklable everywhere)."""
    return spec.experiment, module, config_to_dict(spec.config), spec.seed


class Executor:
    """The interface of every executor (see the module docstring); the defaults suit most."""

    max_inflight = 1

    def submit(self, spec: RunSpec, module: str):
        raise NotImplementedError

    def wait_any(self, futures):
        raise NotImplementedError

    def result(self, fut):
        return fut.result()

    def broken(self, exc: BaseException, fut) -> bool:
        return False

    def close(self) -> None:
        pass


class LocalExecutor(Executor):
    """A pool of ``workers`` spawned one-thread processes; at most ``2 * workers`` runs in flight."""

    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self._env = _ThreadEnv().__enter__()
        self._make = lambda: ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=worker_init,
            initargs=(os.getpid(),),
        )
        self.pool = self._make()
        self.max_inflight = 2 * workers

    def submit(self, spec, module):
        fut = self.pool.submit(execute, *_args(spec, module))
        fut.tailcomp_pool = self.pool
        return fut

    def wait_any(self, futures):
        from concurrent.futures import FIRST_COMPLETED, wait

        return wait(futures, return_when=FIRST_COMPLETED)[0]

    def broken(self, exc, fut):
        """True (once per dead pool, which is then replaced) if ``exc`` says the pool died."""
        from concurrent.futures.process import BrokenProcessPool

        if isinstance(exc, BrokenProcessPool) and getattr(fut, "tailcomp_pool", None) is self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._make()
            return True
        return False

    def close(self):
        try:
            self.pool.shutdown(wait=True, cancel_futures=True)
        finally:
            self._env.__exit__(None, None, None)


class InlineExecutor(Executor):
    """``workers=0``: run in the calling process (debugging, notebooks)."""

    def submit(self, spec, module):
        from concurrent.futures import Future

        f = Future()
        f.set_result(execute(*_args(spec, module)))
        return f

    def wait_any(self, futures):
        return set(futures)


class DaskExecutor(Executor):
    """Runs on a ``dask.distributed`` cluster; at most ``max(4, 2 * threads)`` runs in flight."""

    def __init__(self, scheduler):
        try:
            import distributed
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("scheduler= needs dask.distributed: pip install 'tailcomp[cluster]'") from exc
        self._own = False
        if isinstance(scheduler, distributed.Client):
            self.client = scheduler
        elif isinstance(scheduler, str):
            if not re.match(r"^(tcp|tls|inproc|ucx|ws|wss)://", scheduler):
                raise ValueError(f"scheduler must be an address like 'tcp://HOST:PORT', got {scheduler!r}")
            self.client = distributed.Client(scheduler)
            self._own = True
        elif hasattr(scheduler, "scheduler_address"):
            self.client = distributed.Client(scheduler)
            self._own = True
        else:
            raise TypeError(
                f"scheduler must be an address 'tcp://HOST:PORT', a dask.distributed.Client or a cluster, got {type(scheduler).__name__}"
            )
        self._wait = distributed.wait
        threads = sum(self.client.nthreads().values()) or 1
        self.max_inflight = max(4, 2 * threads)

    def submit(self, spec, module):
        return self.client.submit(execute, *_args(spec, module), pure=False)

    def wait_any(self, futures):
        return self._wait(list(futures), return_when="FIRST_COMPLETED").done

    def close(self):
        if self._own:
            self.client.close()


def make_executor(*, scheduler=None, workers: int | None = None, runs: int = 1) -> Executor:
    """The executor for a sweep of ``runs`` runs: Dask if ``scheduler``, else inline (``workers=0``) or local.

    ``workers=None`` means the available CPUs, else an int in [0, :data:`WORKERS_MAX`]; ``runs`` ≥ 1;
    a local pool never has more workers than runs.
    """
    if workers is not None:
        workers = check_int("workers", workers, 0, WORKERS_MAX)
    runs = check_int("runs", runs, 1)
    if scheduler is not None:
        return DaskExecutor(scheduler)
    n = available_cpus() if workers is None else workers
    return InlineExecutor() if n == 0 else LocalExecutor(min(n, runs))
