"""The SQLite results store and its writer (simulations.sweep.store, .writer) and ``tailcomp report``.

Oracles: a newer schema or a foreign file is refused and left byte-for-byte untouched;
one writer at a time (an advisory lock whose file is removed on release); the rows read
back agree with the store's own records, as JSON, CSV, a table and a plot.
"""
from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pytest

from simulations import sweep as sw
from simulations.sweep import writer as writer_module
from simulations.sweep.cli import report_main


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
    holder.writer()
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
    writer_a = a.writer()
    assert lock.exists() and str(os.getpid()) in lock.read_text()
    stale = open(lock)  # a process that opened the lock file just before it was released
    writer_a.close()
    a.close()
    assert not lock.exists()
    b = sw.ResultsStore(db)
    b.writer()  # a fresh lock file, not the removed one
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
    holder_writer = holder.writer()
    real_open = open
    calls = []

    def racing_open(path, *args, **kwargs):
        f = real_open(path, *args, **kwargs)
        calls.append(path)
        if len(calls) == 1:  # the holder releases (removes the file) between our open and our flock
            holder_writer.close()
        return f

    monkeypatch.setattr(writer_module, "open", racing_open, raising=False)
    taker = sw.ResultsStore(db)
    taker_writer = taker.writer()
    try:
        assert len(calls) == 2  # the first handle named a removed file, so the writer retried
        assert os.fstat(taker_writer.lock_file.fileno()).st_ino == os.stat(lock).st_ino
    finally:
        taker.close()
        holder.close()


def test_rows_pandas_history_and_report(tmp_path, capsys):
    db = tmp_path / "r.db"
    cfgs = sw.expand_grid("toy", {"lr": [0.5, 1.0], "batch_size": [1, 2]}, base={"steps": 100, "eval_every": 25})
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
    assert report_main(["--store", str(db), "--plot", "lyapunov_hat", "--x", "lr", "--hue", "batch_size",
                        "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert report_main(["--store", str(db), "--plot", "nope", "--x", "lr", "--out", str(out)]) == 2


def test_experiment_rows_from_a_store_or_from_row_dicts(tmp_path):
    from simulations.sweep.report import experiment_rows

    db = tmp_path / "r.db"
    sw.run_sweep("toy", [{"steps": 20, "eval_every": 10}], db, seeds=3, workers=0, progress=False)
    with sw.ResultsStore(db) as store:
        want = store.rows("toy")
        assert experiment_rows(store, "toy") == want
    assert experiment_rows(db, "toy") == want and experiment_rows(str(db), "nothing") == []
    listed = [{"experiment": "toy", "status": "done", "a": 1}, {"experiment": "toy", "status": "failed", "a": 2},
              {"experiment": "other", "a": 3}, {"a": 4}]
    assert [r["a"] for r in experiment_rows(listed, "toy")] == [1, 4]
    assert [r["a"] for r in experiment_rows(listed, "toy", status=("done", "failed"))] == [1, 2, 4]
    with pytest.raises(ValueError, match=r"store_or_rows\[1\].*lacks \['b'\]"):
        experiment_rows([{"b": 1}, {"a": 1}], "toy", required=("b",))
    with pytest.raises(TypeError, match="store_or_rows"):
        experiment_rows(3, "toy")
    with pytest.raises(ValueError, match="status"):
        experiment_rows(listed, "toy", status=("finished",))
