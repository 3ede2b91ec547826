"""Running sweeps (simulations.sweep.runner, .executors, .worker) on the toy experiment.

Oracles: a sweep interrupted by SIGKILL and resumed is compared run by run with an
uninterrupted one (the experiment is deterministic given config and seed); the toy
experiment's Lyapunov estimate with a quadrature of E log|1 - (η/b) χ²_b|.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass

import _sweep_support
import numpy as np
from _sweep_support import N_RUNS, REPO, finished_ids, results

from simulations import sweep as sw

# the module-scoped fixtures shared with the other sweep tests
sweep_file = _sweep_support.sweep_file
reference = _sweep_support.reference


def test_sigkill_mid_sweep_then_resume(sweep_file, reference, tmp_path, monkeypatch):
    db = tmp_path / "kill.db"
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "TAILCOMP_TOY_TRACE": str(trace), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "simulations.cli", "sweep", str(sweep_file), "--store", str(db), "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            statuses = finished_ids(db) if db.exists() else {}
            if sum(s == "done" for s in statuses.values()) >= 6:
                break
            assert proc.poll() is None, f"sweep exited early: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "sweep did not finish 6 runs within 60 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-run
        proc.wait()
        proc.stderr.close()
    at_kill = finished_ids(db)
    done_before = {k for k, s in at_kill.items() if s == "done"}
    assert len(at_kill) == N_RUNS  # all runs were registered as pending before any ran
    assert 6 <= len(done_before) < N_RUNS, "the kill must land mid-sweep"
    assert set(at_kill.values()) <= {"pending", "running", "done"}

    # Resume in this process (workers inherit the trace variable).
    monkeypatch.setenv("TAILCOMP_TOY_TRACE", str(trace))
    s = sw.load_sweep(sweep_file)
    summary = s.run(db, workers=2, progress=False)
    assert summary.skipped == len(done_before)
    assert summary.done == N_RUNS - len(done_before) and summary.failed == 0

    resumed = results(db)
    assert resumed == reference  # same run ids, statuses, metrics and histories, bit for bit

    # Executions, from the side channel: one line per completed execution.
    counts = Counter()
    for line in trace.read_text().splitlines():
        seed, cfg = line.split(" ", 1)
        counts[sw.run_hash("toy", json.loads(cfg), int(seed))] += 1
    assert set(counts) == set(reference)
    for rid in done_before:  # finished before the kill: never recomputed
        assert counts[rid] == 1
    # A run can complete twice only if it finished in a worker but the kill came before
    # the parent committed it: at most the runs in flight (2 workers x 2 queued).
    assert sum(counts.values()) - N_RUNS <= 4
    with sw.ResultsStore(db) as store:
        assert store.counts() == {"pending": 0, "running": 0, "done": N_RUNS, "diverged": 0, "failed": 0}

    # Running it again does nothing.
    again = s.run(db, workers=2, progress=False)
    assert (again.skipped, again.done) == (N_RUNS, 0)


def test_diverged_and_failed_runs_are_stored_and_sweep_goes_on(tmp_path):
    db = tmp_path / "mixed.db"
    configs = [
        {"lr": 0.5, "steps": 200},
        {"lr": 8.0, "steps": 2000},  # E log|1 - 8 z²| ≈ 0.93 > 0: |x| passes 1e100 within ~300 steps
        {"lr": 0.5, "steps": 200, "fail": True},
        {"lr": 1.0, "steps": 200},
    ]
    summary = sw.run_sweep("toy", configs, db, seeds=[3], workers=0, progress=False)
    assert (summary.done, summary.diverged, summary.failed) == (2, 1, 1)
    with sw.ResultsStore(db) as store:
        rows = {(r["lr"], r["fail"]): r for r in store.rows()}
        div = rows[(8.0, False)]
        assert div["status"] == "diverged" and "exceeded" in div["error"]
        assert 1 <= div["diverged_at"] < 2000
        bad = rows[(0.5, True)]
        assert bad["status"] == "failed" and "RuntimeError: toy experiment asked to fail" in bad["error"]
        assert rows[(1.0, False)]["status"] == "done" and rows[(1.0, False)]["error"] is None
        # failed runs are retried only when asked
        again = sw.run_sweep("toy", configs, db, seeds=[3], workers=0, progress=False, retry_failed=False)
        assert (again.skipped, again.failed) == (4, 0)
        assert store.get(bad["run_id"])["attempts"] == 1
        again = sw.run_sweep("toy", configs, db, seeds=[3], workers=0, progress=False)
        assert (again.skipped, again.failed) == (3, 1)
        assert store.get(bad["run_id"])["attempts"] == 2


# A second experiment, defined here, to check what workers see. The local pool's
# spawned workers import this module by name to find it.
@dataclass(frozen=True)
class _EnvConfig:
    tag: int = sw.param(0, low=0)


@sw.experiment("testing_env", config=_EnvConfig)
def _env_experiment(config, seed):
    return {"metrics": {v: os.environ.get(v, "") for v in sw.THREAD_ENV + ("TAILCOMP_THREADS",)}, "history": []}


def test_workers_are_single_threaded(tmp_path):
    before = {v: os.environ.get(v) for v in sw.THREAD_ENV}
    sw.run_sweep("testing_env", [{"tag": 0}], tmp_path / "env.db", workers=1, progress=False)
    with sw.ResultsStore(tmp_path / "env.db") as store:
        (row,) = store.rows()
    assert row["status"] == "done", row["error"]
    assert all(row[v] == "1" for v in sw.THREAD_ENV + ("TAILCOMP_THREADS",))
    assert {v: os.environ.get(v) for v in sw.THREAD_ENV} == before  # the parent's environment is restored


def test_inline_runs_use_one_thread_and_record_it(tmp_path, monkeypatch):
    # workers=0 runs in this process: a TAILCOMP_THREADS of the caller must not reach the run
    monkeypatch.setenv("TAILCOMP_THREADS", "3")
    sw.run_sweep("testing_env", [{"tag": 1}], tmp_path / "inline.db", workers=0, progress=False)
    assert os.environ["TAILCOMP_THREADS"] == "3"  # restored after the run
    with sw.ResultsStore(tmp_path / "inline.db") as store:
        (row,) = store.rows()
        assert row["status"] == "done", row["error"]
        assert row["TAILCOMP_THREADS"] == "1"
        assert store.get(row["run_id"])["versions"]["threads"] == 1 == sw.worker.RUN_THREADS
        # the run's id is the hash of a one-thread run, the same with or without threads=1
        assert row["run_id"] == sw.run_hash("testing_env", {"tag": 1}, 0) == \
            sw.run_hash("testing_env", {"tag": 1}, 0, threads=1)


def test_toy_lyapunov_matches_quadrature(tmp_path):
    """Oracle: λ = E log|1 - (η/b) χ²_b| by quadrature against the chi-square density."""
    from scipy import integrate, stats

    lr, b, steps, seeds = 1.0, 2, 2000, 4
    sw.run_sweep("toy", [{"lr": lr, "batch_size": b, "steps": steps}], tmp_path / "l.db", seeds=seeds, workers=0,
                 progress=False)
    with sw.ResultsStore(tmp_path / "l.db") as store:
        lam_hat = np.array([r["lyapunov_hat"] for r in store.rows()])
    f = lambda u: math.log(abs(1.0 - lr / b * u)) * stats.chi2.pdf(u, b)  # noqa: E731
    sing = b / lr  # log singularity (integrable) at u = b/η
    lam = integrate.quad(f, 0, sing, limit=200)[0] + integrate.quad(f, sing, np.inf, limit=200)[0]
    # sd of log|M| estimated from a large independent sample; the mean of seeds*steps iid terms
    # has s.e. sd/sqrt(seeds*steps). 5 s.e.: false-alarm rate < 1e-6 (normal approximation).
    u = np.random.default_rng(12345).chisquare(b, 200_000)
    se = np.log(np.abs(1 - lr / b * u)).std() / math.sqrt(seeds * steps)
    assert abs(lam_hat.mean() - lam) < 5 * se
