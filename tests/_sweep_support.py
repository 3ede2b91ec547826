"""Shared fixtures and helpers of the sweep tests (tests/test_sweep_*.py).

The reference sweep: 6 step sizes x 4 seeds = 24 runs of the toy experiment, none of
which diverges (E log|1 - η z²| < 0 for η <= 2), run uninterrupted on the local process
pool; the interrupted, resumed and Dask-run sweeps are compared with it run by run.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from simulations import sweep as sw

REPO = Path(__file__).resolve().parents[1]

KILL_SWEEP = """\
experiment: toy
name: killtest
seeds: 4
base: {steps: 300, eval_every: 100, sleep: 0.1}
grid:
  lr: [0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
"""
N_RUNS = 24


def finished_ids(db: Path) -> dict[str, str]:
    """run_id -> status, read through a read-only connection (the writer may be running)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return dict(con.execute("SELECT run_id, status FROM runs"))
    except sqlite3.OperationalError:  # tables not created yet
        return {}
    finally:
        con.close()


def results(db: Path) -> dict[str, tuple]:
    """run_id -> (status, metrics, history, config, seed) of every run in the store."""
    with sw.ResultsStore(db, create=False) as store:
        out = {}
        for r in store.rows():
            full = store.get(r["run_id"])
            out[r["run_id"]] = (full["status"], full["metrics"], full["history"], full["config"], full["seed"])
        return out


def results_inline(configs, seeds, db: Path) -> dict[str, tuple]:
    sw.run_sweep("toy", configs, db, seeds=seeds, workers=0, progress=False)
    return results(db)


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("sweep") / "kill.yaml"
    p.write_text(KILL_SWEEP)
    return p


@pytest.fixture(scope="module")
def reference(sweep_file, tmp_path_factory) -> dict[str, tuple]:
    """The same sweep, uninterrupted, on the local process pool."""
    db = tmp_path_factory.mktemp("ref") / "ref.db"
    s = sw.load_sweep(sweep_file)
    summary = s.run(db, workers=2, progress=False)
    assert (summary.total, summary.done, summary.failed) == (N_RUNS, N_RUNS, 0)
    res = results(db)
    assert len(res) == N_RUNS and all(v[0] == "done" for v in res.values())
    return res
