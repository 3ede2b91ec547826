"""Sweeps and the SQLite results store (simulations.sweep.core, simulations.sweep.cli).

Oracles: a sweep interrupted by SIGKILL and resumed is compared run by run with an
uninterrupted one (the experiment is deterministic given config and seed); the Dask
LocalCluster backend is compared with the local process pool; the run hash with a
SHA-256 of JSON built independently in the test; the toy experiment's Lyapunov
estimate with a quadrature of E log|1 - (η/b) χ²_b|.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.sweep import core as sw
from simulations.sweep.cli import report_main, sweep_main

REPO = Path(__file__).resolve().parents[1]

# 6 step sizes x 4 seeds = 24 runs; none diverges (E log|1 - η z²| < 0 for η <= 2).
KILL_SWEEP = """\
experiment: toy
name: killtest
seeds: 4
base: {steps: 300, eval_every: 100, sleep: 0.1}
grid:
  eta: [0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
"""
N_RUNS = 24


def _finished_ids(db: Path) -> dict[str, str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return dict(con.execute("SELECT run_id, status FROM runs"))
    except sqlite3.OperationalError:  # tables not created yet
        return {}
    finally:
        con.close()


def _results(db: Path) -> dict[str, tuple]:
    with sw.ResultsStore(db, create=False) as store:
        out = {}
        for r in store.rows():
            full = store.get(r["run_id"])
            out[r["run_id"]] = (full["status"], full["metrics"], full["history"], full["config"], full["seed"])
        return out


def _results_inline(configs, seeds, db: Path) -> dict[str, tuple]:
    sw.run_sweep("toy", configs, db, seeds=seeds, workers=0, progress=False)
    return _results(db)


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
    res = _results(db)
    assert len(res) == N_RUNS and all(v[0] == "done" for v in res.values())
    return res


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
            statuses = _finished_ids(db) if db.exists() else {}
            if sum(s == "done" for s in statuses.values()) >= 6:
                break
            assert proc.poll() is None, f"sweep exited early: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "sweep did not finish 6 runs within 60 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-run
        proc.wait()
        proc.stderr.close()
    at_kill = _finished_ids(db)
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

    resumed = _results(db)
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


def test_local_cluster_matches_process_pool(sweep_file, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    s = sw.load_sweep(sweep_file)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        summary = s.run(tmp_path / "dask.db", scheduler=cluster, progress=False)
        # the same through a scheduler address, as `tailcomp sweep --scheduler tcp://...` does
        few = [{"eta": 0.5, "steps": 300, "eval_every": 100}]
        by_address = sw.run_sweep("toy", few, tmp_path / "addr.db", seeds=2, scheduler=cluster.scheduler_address,
                                  progress=False)
    assert (summary.done, summary.failed) == (N_RUNS, 0)
    assert _results(tmp_path / "dask.db") == reference
    assert (by_address.done, by_address.failed) == (2, 0)
    assert _results(tmp_path / "addr.db") == _results_inline(few, 2, tmp_path / "inline.db")


def test_diverged_and_failed_runs_are_stored_and_sweep_goes_on(tmp_path):
    db = tmp_path / "mixed.db"
    configs = [
        {"eta": 0.5, "steps": 200},
        {"eta": 8.0, "steps": 2000},  # E log|1 - 8 z²| ≈ 0.93 > 0: |x| passes 1e100 within ~300 steps
        {"eta": 0.5, "steps": 200, "fail": True},
        {"eta": 1.0, "steps": 200},
    ]
    summary = sw.run_sweep("toy", configs, db, seeds=[3], workers=0, progress=False)
    assert (summary.done, summary.diverged, summary.failed) == (2, 1, 1)
    with sw.ResultsStore(db) as store:
        rows = {(r["eta"], r["fail"]): r for r in store.rows()}
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
    return {"metrics": {v: os.environ.get(v, "") for v in sw.THREAD_ENV}, "history": []}


def test_workers_are_single_threaded(tmp_path):
    before = {v: os.environ.get(v) for v in sw.THREAD_ENV}
    sw.run_sweep("testing_env", [{"tag": 0}], tmp_path / "env.db", workers=1, progress=False)
    with sw.ResultsStore(tmp_path / "env.db") as store:
        (row,) = store.rows()
    assert row["status"] == "done", row["error"]
    assert all(row[v] == "1" for v in sw.THREAD_ENV)
    assert {v: os.environ.get(v) for v in sw.THREAD_ENV} == before  # the parent's environment is restored


def test_toy_lyapunov_matches_quadrature(tmp_path):
    """Oracle: λ = E log|1 - (η/b) χ²_b| by quadrature against the chi-square density."""
    from scipy import integrate, stats

    eta, b, steps, seeds = 1.0, 2, 2000, 4
    sw.run_sweep("toy", [{"eta": eta, "batch": b, "steps": steps}], tmp_path / "l.db", seeds=seeds, workers=0,
                 progress=False)
    with sw.ResultsStore(tmp_path / "l.db") as store:
        lam_hat = np.array([r["lyapunov_hat"] for r in store.rows()])
    f = lambda u: math.log(abs(1.0 - eta / b * u)) * stats.chi2.pdf(u, b)  # noqa: E731
    sing = b / eta  # log singularity (integrable) at u = b/η
    lam = integrate.quad(f, 0, sing, limit=200)[0] + integrate.quad(f, sing, np.inf, limit=200)[0]
    # sd of log|M| estimated from a large independent sample; the mean of seeds*steps iid terms
    # has s.e. sd/sqrt(seeds*steps). 5 s.e.: false-alarm rate < 1e-6 (normal approximation).
    u = np.random.default_rng(12345).chisquare(b, 200_000)
    se = np.log(np.abs(1 - eta / b * u)).std() / math.sqrt(seeds * steps)
    assert abs(lam_hat.mean() - lam) < 5 * se


# --------------------------------------------------------------------------- configs and hashes


def test_run_hash_is_sha256_of_canonical_json():
    cfg = sw.make_config("toy", eta=1, batch=4)
    doc = {"experiment": "toy", "version": 1, "seed": 7,
           "config": {"batch": 4, "eta": 1.0, "eval_every": 100, "fail": False, "sleep": 0.0, "steps": 1000, "x0": 0.0}}
    expected = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert sw.run_hash("toy", cfg, 7) == expected
    assert sw.run_hash("toy", {"batch": 4, "eta": 1.0}, 7) == expected  # int/float and key order do not matter
    assert sw.run_hash("toy", cfg, 8) != expected
    assert sw.run_hash("toy", sw.make_config("toy", eta=1.0000001, batch=4), 7) != expected


def test_expand_grid_product_union_and_dedup():
    cfgs = sw.expand_grid("toy", [{"eta": [0.1, 0.2], "batch": [1, 2, 3]}, {"eta": [0.1], "batch": [1]}],
                          base={"steps": 50, "eval_every": 10})
    assert len(cfgs) == 6  # the second grid repeats a point of the first
    assert {(c.eta, c.batch) for c in cfgs} == {(e, b) for e in (0.1, 0.2) for b in (1, 2, 3)}
    assert all(c.steps == 50 for c in cfgs)


def test_yaml_and_toml_give_the_same_runs(tmp_path):
    (tmp_path / "a.yaml").write_text("experiment: toy\nseeds: [1, 2]\nbase: {steps: 50, eval_every: 10}\ngrid: {eta: [0.1, 0.3]}\n")
    (tmp_path / "a.toml").write_text('experiment = "toy"\nseeds = [1, 2]\n[base]\nsteps = 50\neval_every = 10\n[grid]\neta = [0.1, 0.3]\n')
    ids = [[r.run_id for r in sw.load_sweep(tmp_path / f).runs()] for f in ("a.yaml", "a.toml")]
    assert ids[0] == ids[1] and len(set(ids[0])) == 4


@pytest.mark.parametrize(
    "values, exc, words",
    [
        ({"etaa": 0.1}, ValueError, ["etaa", "did you mean 'eta'"]),
        ({"eta": "big"}, TypeError, ["eta"]),
        ({"batch": 1.5}, TypeError, ["batch"]),
        ({"fail": "yes"}, TypeError, ["fail"]),
        ({"eta": -1.0}, ValueError, ["eta", "(0, 10]"]),
        ({"eta": float("nan")}, ValueError, ["eta"]),
        ({"batch": 0}, ValueError, ["batch", "[1, 10000]"]),
        ({"steps": 10, "eval_every": 20}, ValueError, ["eval_every"]),  # cross-field check
    ],
)
def test_bad_config_names_the_key(values, exc, words):
    with pytest.raises(exc) as info:
        sw.make_config("toy", values)
    for w in words:
        assert w in str(info.value)


@given(eta=st.floats(allow_nan=True, allow_infinity=True), batch=st.integers(-5, 20_000))
def test_config_validation_property(eta, batch):
    ok = math.isfinite(eta) and 0 < eta <= 10 and 1 <= batch <= 10_000
    if ok:
        cfg = sw.make_config("toy", eta=eta, batch=batch)
        assert (cfg.eta, cfg.batch) == (eta, batch)
    else:
        with pytest.raises(ValueError, match="eta|batch"):
            sw.make_config("toy", eta=eta, batch=batch)


@settings(max_examples=25)
@given(value=st.one_of(st.text(max_size=3), st.lists(st.integers(), max_size=2), st.none(), st.booleans()))
def test_config_wrong_types_property(value):
    with pytest.raises(TypeError, match="'eta'"):
        sw.make_config("toy", eta=value)


def test_bad_sweep_file_runs_nothing(tmp_path, capsys):
    db = tmp_path / "never.db"
    cases = {
        "unknown_key.yaml": "experiment: toy\ngrid: {eta: [0.1, 0.2], batchsize: [1]}\n",
        "range.yaml": "experiment: toy\ngrid: {eta: [0.1, 20.0]}\n",  # the second point is bad
        "type.yaml": "experiment: toy\nbase: {steps: many}\n",
        "toplevel.yaml": "experiment: toy\ngrids: {eta: [0.1]}\n",
        "experiment.yaml": "experiment: no_such_experiment\n",
        "scalar_grid.yaml": "experiment: toy\ngrid: {eta: 0.1}\n",
    }
    expect = {"unknown_key.yaml": "batchsize", "range.yaml": "eta", "type.yaml": "steps", "toplevel.yaml": "grids",
              "experiment.yaml": "no_such_experiment", "scalar_grid.yaml": "eta"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert sweep_main([str(tmp_path / name), "--store", str(db), "--no-progress"]) == 2
        assert expect[name] in capsys.readouterr().err
        assert not db.exists()
    with pytest.raises(ValueError, match="seeds"):
        sw.run_sweep("toy", [{}], db, seeds=[1, 1], progress=False)
    with pytest.raises(ValueError, match="eta"):
        sw.run_sweep("toy", [{"eta": 0.1}, {"eta": 0.0}], db, progress=False)
    assert not db.exists()


# --------------------------------------------------------------------------- the store


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    db = tmp_path / "s.db"
    sw.run_sweep("toy", [{"steps": 20, "eval_every": 10}], db, workers=0, progress=False)
    con = sqlite3.connect(db)
    con.execute("UPDATE schema_version SET version = ?", (sw.SCHEMA_VERSION + 1,))
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = db.read_bytes()
    with pytest.raises(sw.SchemaError, match="newer tailcomp"):
        sw.ResultsStore(db)
    with pytest.raises(sw.SchemaError, match="newer"):
        sw.run_sweep("toy", [{"steps": 20, "eval_every": 10}], db, workers=0, progress=False)
    assert db.read_bytes() == before
    assert report_main(["--store", str(db)]) == 2


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("not a database " * 100)
    with pytest.raises(sw.SchemaError, match="not a tailcomp results store"):
        sw.ResultsStore(text)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(sw.SchemaError, match="not a tailcomp results store"):
        sw.ResultsStore(other)
    with pytest.raises(FileNotFoundError):
        sw.ResultsStore(tmp_path / "missing.db", create=False)


def test_one_writer_at_a_time(tmp_path):
    db = tmp_path / "lock.db"
    holder = sw.ResultsStore(db)
    holder._lock()
    try:
        with pytest.raises(sw.StoreLockedError, match="another sweep"):
            sw.run_sweep("toy", [{"steps": 20, "eval_every": 10}], db, workers=0, progress=False)
    finally:
        holder.close()
    assert sw.run_sweep("toy", [{"steps": 20, "eval_every": 10}], db, workers=0, progress=False).done == 1


def test_writer_lock_file_is_removed_on_release(tmp_path):
    fcntl = pytest.importorskip("fcntl", reason="advisory file locks are POSIX-only")
    db = tmp_path / "l.db"
    lock = tmp_path / "l.db.lock"
    sw.run_sweep("toy", [{"steps": 20, "eval_every": 10}], db, workers=0, progress=False)
    assert not lock.exists()  # nothing left beside the store after a finished sweep
    a = sw.ResultsStore(db)
    a._lock()
    assert lock.exists() and str(os.getpid()) in lock.read_text()
    stale = open(lock)  # a process that opened the lock file just before it was released
    a._unlock()
    a.close()
    assert not lock.exists()
    b = sw.ResultsStore(db)
    b._lock()  # a fresh lock file, not the removed one
    try:
        # the stale handle can flock the removed file, but that file no longer guards the store:
        fcntl.flock(stale.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(sw.StoreLockedError, match="another sweep"):
            sw.run_sweep("toy", [{"steps": 20, "eval_every": 10}], db, workers=0, progress=False)
    finally:
        stale.close()
        b.close()
    assert not lock.exists()


def test_writer_lock_retries_when_the_file_is_removed_under_it(tmp_path, monkeypatch):
    pytest.importorskip("fcntl", reason="advisory file locks are POSIX-only")
    db = tmp_path / "r.db"
    lock = tmp_path / "r.db.lock"
    holder = sw.ResultsStore(db)
    holder._lock()
    real_open = open
    calls = []

    def racing_open(path, *args, **kwargs):
        f = real_open(path, *args, **kwargs)
        calls.append(path)
        if len(calls) == 1:  # the holder releases (removes the file) between our open and our flock
            holder._unlock()
        return f

    monkeypatch.setattr(sw, "open", racing_open, raising=False)
    taker = sw.ResultsStore(db)
    taker._lock()
    try:
        assert len(calls) == 2  # the first handle named a removed file, so _lock retried
        assert os.fstat(taker._lockf.fileno()).st_ino == os.stat(lock).st_ino
    finally:
        taker.close()
        holder.close()


def test_rows_pandas_history_and_report(tmp_path, capsys):
    db = tmp_path / "r.db"
    cfgs = sw.expand_grid("toy", {"eta": [0.5, 1.0], "batch": [1, 2]}, base={"steps": 100, "eval_every": 25})
    sw.run_sweep("toy", cfgs, db, seeds=2, workers=0, progress=False)
    with sw.ResultsStore(db) as store:
        rows = store.rows()
        assert len(rows) == 8 and {r["status"] for r in rows} == {"done"}
        hist = store.history_rows()
        assert len(hist) == 8 * 4 and {h["step"] for h in hist} == {25, 50, 75, 100}
        r0 = store.get(rows[0]["run_id"])
        assert [h["x"] for h in r0["history"]] == [h["x"] for h in hist[:4]]
        assert r0["versions"]["numpy"] == np.__version__ and r0["wall_time"] >= 0
        pd = pytest.importorskip("pandas")
        df = store.to_pandas()
        assert isinstance(df, pd.DataFrame) and len(df) == 8
        assert np.allclose(df["lyapunov_hat"], [r["lyapunov_hat"] for r in rows])
    assert report_main(["--store", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == rows
    assert report_main(["--store", str(db), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 9 and "lyapunov_hat" in lines[0]
    assert report_main(["--store", str(db)]) == 0
    assert "done 8" in capsys.readouterr().out
    out = tmp_path / "fig.png"
    assert report_main(["--store", str(db), "--plot", "lyapunov_hat", "--x", "eta", "--hue", "batch",
                        "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert report_main(["--store", str(db), "--plot", "nope", "--x", "eta", "--out", str(out)]) == 2


def test_experiment_registry():
    assert "toy" in sw.list_experiments()
    assert sw.get_experiment("toy").config.__name__ == "ToyConfig"
    with pytest.raises(ValueError, match="unknown experiment"):
        sw.get_experiment("nonexistent_experiment")
    with pytest.raises(ValueError, match="already registered"):
        sw.experiment("toy", config=sw.get_experiment("toy").config)(lambda c, s: {})
    with pytest.raises(TypeError, match="dataclass"):
        sw.experiment("x_bad", config=dict)
    assert dataclasses.is_dataclass(sw.make_config("toy"))
