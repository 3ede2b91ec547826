"""The Dask executor (simulations.sweep.executors.DaskExecutor) against the local process pool.

Oracle: the same sweep on a Dask LocalCluster gives, run by run, the results of the
uninterrupted sweep on the local process pool (and, through a scheduler address, those of
the same runs in the calling process).
"""
from __future__ import annotations

import _sweep_support
import pytest
from _sweep_support import N_RUNS, results, results_inline

from simulations import sweep as sw

# the module-scoped fixtures shared with the other sweep tests
sweep_file = _sweep_support.sweep_file
reference = _sweep_support.reference


def test_local_cluster_matches_process_pool(sweep_file, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    s = sw.load_sweep(sweep_file)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        summary = s.run(tmp_path / "dask.db", scheduler=cluster, progress=False)
        # the same through a scheduler address, as `tailcomp sweep --scheduler tcp://...` does
        few = [{"lr": 0.5, "steps": 300, "eval_every": 100}]
        by_address = sw.run_sweep("toy", few, tmp_path / "addr.db", seeds=2, scheduler=cluster.scheduler_address,
                                  progress=False)
    assert (summary.done, summary.failed) == (N_RUNS, 0)
    assert results(tmp_path / "dask.db") == reference
    assert (by_address.done, by_address.failed) == (2, 0)
    assert results(tmp_path / "addr.db") == results_inline(few, 2, tmp_path / "inline.db")
