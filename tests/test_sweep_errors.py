"""Sweeps fail clearly: every broken store, sweep file or grid is one line naming the file, exit status 2.

Oracles: the file system (a read-only directory, pages of the store overwritten with
random bytes, bytes that are not UTF-8) and the sweep file's own text (the line of a
syntax error is where the test put it); the CLI's stderr must be one ``error:`` line
naming the file, with no traceback.
"""
from __future__ import annotations

import contextlib
import os
import random
import shutil
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest

from simulations import sweep as sw
from simulations.sweep.cli import report_main, sweep_main
from simulations.sweep.plan import run_specs

SWEEP = "experiment: toy\nseeds: 3\nbase: {steps: 100, eval_every: 50}\n"
PAGE = 4096  # SQLite's default page size, the size of the stores written here


def _one_error_line(err: str, *names) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got:\n{err}"
    assert "error: " in lines[0] and "Traceback" not in err
    for name in names:
        assert str(name) in lines[0], f"{name} not named in {lines[0]!r}"
    return lines[0]


@pytest.fixture
def open_dir():
    """A directory every user may enter (pytest's tmp_path is private to its owner)."""
    d = Path(tempfile.mkdtemp(prefix="tailcomp_ro_"))
    d.chmod(0o755)
    yield d
    for p in (d, *d.rglob("*")):
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(d)


@contextlib.contextmanager
def read_only(directory: Path):
    """``directory`` made read-only; as root (which ignores permissions) the block runs as user nobody."""
    directory.chmod(0o555)
    try:
        if os.geteuid() == 0:
            os.setegid(65534)
            os.seteuid(65534)
            try:
                yield
            finally:
                os.seteuid(0)
                os.setegid(0)
        else:
            yield
    finally:
        directory.chmod(0o755)


def _assert_read_only(directory: Path) -> None:
    with pytest.raises(PermissionError):
        (directory / "probe").touch()


def _store_with_runs(db: Path, n_seeds: int = 3) -> None:
    sw.run_sweep("toy", [{"steps": 100, "eval_every": 50}], db, seeds=n_seeds, workers=0, progress=False)


# ---- stores in read-only directories
def test_new_store_in_read_only_directory_is_one_clear_error(open_dir, capsys):
    ro = open_dir / "ro"
    ro.mkdir()
    sweep_file = open_dir / "s.yaml"
    sweep_file.write_text(SWEEP)
    sweep_file.chmod(0o644)
    for db in (ro / "new.db", ro / "sub" / "new.db"):
        with read_only(ro):
            _assert_read_only(ro)
            with pytest.raises(sw.StoreError, match=str(db)):
                sw.ResultsStore(db)
            assert sweep_main([str(sweep_file), "--store", str(db), "--no-progress", "--workers", "0"]) == 2
        _one_error_line(capsys.readouterr().err, db)
        assert not db.exists()


def test_existing_store_in_read_only_directory_is_readable(open_dir, capsys):
    ro = open_dir / "ro"
    ro.mkdir()
    db = ro / "s.db"
    _store_with_runs(db, n_seeds=3)
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()  # closed cleanly
    db.chmod(0o644)
    sweep_file = open_dir / "s.yaml"
    sweep_file.write_text(SWEEP)
    sweep_file.chmod(0o644)
    with read_only(ro):
        _assert_read_only(ro)
        with sw.ResultsStore(db, readonly=True) as st:
            assert [r["seed"] for r in st.rows()] == [0, 1, 2]
            assert st.counts()["done"] == 3
            with pytest.raises(sw.StoreError, match="read-only"):
                st.writer()
        assert report_main(["--store", str(db), "--format", "csv"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 1 + 3 and all(",done," in line for line in out[1:])
        # a sweep must write: one line naming the store, not "not a tailcomp results store"
        assert sweep_main([str(sweep_file), "--store", str(db), "--no-progress", "--workers", "0"]) == 2
        line = _one_error_line(capsys.readouterr().err, db)
        assert "not a tailcomp results store" not in line
        assert sweep_main([str(sweep_file), "--store", str(db), "--dry-run"]) == 0
        assert "0 to run" in capsys.readouterr().out
    assert not any(p.name.endswith(("-wal", "-shm")) for p in ro.iterdir())


def test_unfinished_wal_in_read_only_directory_is_refused_clearly(open_dir, capsys):
    src = open_dir / "live.db"
    _store_with_runs(src, n_seeds=1)
    ro = open_dir / "ro"
    ro.mkdir()
    con = sqlite3.connect(src)  # a writer that has not checkpointed: its runs live in live.db-wal
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("UPDATE runs SET error='x'")
    con.commit()
    shutil.copy(src, ro / "s.db")
    shutil.copy(f"{src}-wal", ro / "s.db-wal")
    con.close()
    assert (ro / "s.db-wal").stat().st_size > 0
    with read_only(ro):
        with pytest.raises(sw.StoreError, match="write-ahead log"):
            sw.ResultsStore(ro / "s.db", readonly=True)
        assert report_main(["--store", str(ro / "s.db")]) == 2
    _one_error_line(capsys.readouterr().err, ro / "s.db")


# ---- corrupt stores
def _corrupt_copy(src: Path, dst: Path, first_page: int) -> None:
    """``src`` copied to ``dst`` with every page from ``first_page`` (1-based) on overwritten by random bytes."""
    shutil.copy(src, dst)
    n_pages = src.stat().st_size // PAGE
    rng = random.Random(first_page)
    with open(dst, "r+b") as f:
        for page in range(first_page, n_pages + 1):
            f.seek((page - 1) * PAGE)
            f.write(rng.randbytes(PAGE))


@pytest.fixture(scope="module")
def big_store(tmp_path_factory) -> Path:
    """A store of 300 pending runs (30 pages): registered only, nothing run."""
    db = tmp_path_factory.mktemp("big") / "big.db"
    _, specs = run_specs("toy", [{"steps": 100, "lr": 0.05 + 0.1 * i} for i in range(10)], 30)
    with sw.ResultsStore(db) as st, st.writer() as w:
        w.register(specs)
    assert db.stat().st_size // PAGE >= 20
    return db


@pytest.mark.parametrize("where", ["schema", "data"])
def test_corrupt_store_is_one_clear_error(big_store, where, tmp_path, capsys):
    # "schema": every page but the header (the open fails); "data": the second half (the open works, reads fail)
    db = tmp_path / f"corrupt_{where}.db"
    _corrupt_copy(big_store, db, 2 if where == "schema" else big_store.stat().st_size // PAGE // 2)
    with pytest.raises(sw.StoreError, match="corrupt"):
        with sw.ResultsStore(db, readonly=True) as st:
            st.rows()
    assert report_main(["--store", str(db)]) == 2
    assert "corrupt" in _one_error_line(capsys.readouterr().err, db)
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text("experiment: toy\nseeds: 30\ngrid: {lr: [0.05, 0.15], steps: [100]}\n")
    assert sweep_main([str(sweep_file), "--store", str(db), "--no-progress", "--workers", "0"]) == 2
    assert "corrupt" in _one_error_line(capsys.readouterr().err, db)
    assert sweep_main([str(sweep_file), "--store", str(db), "--dry-run"]) == 2
    _one_error_line(capsys.readouterr().err, db)
    assert not Path(f"{db}.lock").exists()  # the writer lock was released


# ---- sweep files
@pytest.mark.parametrize(
    "name, data, line",
    [
        ("flow.yaml", b"experiment: toy\nseeds: 2\ngrid: {lr: [0.1, 0.2}\n", 3),
        ("indent.yaml", b"experiment: toy\nbase:\n  steps: 100\n   lr: 0.1\n", 4),
        ("utf8.yaml", b"experiment: toy\nseeds: 2\nname: caf\xe9\n", 3),
        ("utf8.toml", b'experiment = "toy"\nname = "caf\xe9"\n', 2),
        ("broken.toml", b'experiment = "toy"\nseeds = [1, \n', None),
    ],
)
def test_bad_sweep_file_names_the_file_and_line(tmp_path, capsys, name, data, line):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=str(path)):
        sw.load_sweep(path)
    db = tmp_path / "never.db"
    assert sweep_main([str(path), "--store", str(db), "--no-progress"]) == 2
    msg = _one_error_line(capsys.readouterr().err, path)
    if line is not None:
        assert f"line {line}" in msg
    assert not db.exists()


@pytest.mark.parametrize("grid", ["grid: {}", "grid: []", "grid: [{}]", "grid: [{lr: [0.1]}, {}]", "runs: []"])
def test_empty_grid_is_an_error_naming_the_file(tmp_path, capsys, grid):
    path = tmp_path / "empty.yaml"
    path.write_text(f"experiment: toy\nbase: {{steps: 100}}\n{grid}\n")
    key = grid.split(":")[0]
    with pytest.raises(ValueError, match=key):
        sw.load_sweep(path)
    db = tmp_path / "never.db"
    assert sweep_main([str(path), "--store", str(db), "--no-progress"]) == 2
    assert key in _one_error_line(capsys.readouterr().err, path)
    assert not db.exists()


def test_without_grid_the_sweep_is_base_alone(tmp_path):
    path = tmp_path / "base.yaml"
    path.write_text("experiment: toy\nseeds: 2\nbase: {steps: 100, lr: 0.25}\n")
    s = sw.load_sweep(path)
    assert [(c.lr, c.steps) for c in s.configs] == [(0.25, 100)] and s.seeds == [0, 1]


def test_expand_grid_refuses_empty_grids():
    for grid in ({}, [], [{"lr": [0.1]}, {}]):
        with pytest.raises(ValueError, match="grid"):
            sw.expand_grid("toy", grid)


def test_report_on_a_foreign_file_says_it_is_not_a_store(tmp_path, capsys):
    text = tmp_path / "notes.db"
    text.write_text("not a database " * 100)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x INTEGER)")
    con.commit()
    con.close()
    for path in (text, other):
        with pytest.raises(sw.SchemaError, match="not a tailcomp results store"):
            sw.ResultsStore(path, readonly=True)
        assert report_main(["--store", str(path)]) == 2
        assert "not a tailcomp results store" in _one_error_line(capsys.readouterr().err, path)
    assert report_main(["--store", str(tmp_path)]) == 2  # a directory
    _one_error_line(capsys.readouterr().err, tmp_path)
    assert report_main(["--store", str(tmp_path / "missing.db")]) == 2
    _one_error_line(capsys.readouterr().err, tmp_path / "missing.db")


@pytest.mark.parametrize("call, err, match", [
    (lambda p: sw.run_sweep("toy", [{}], p, workers=0, progress=False, retry_failed="no"), TypeError, "retry_failed"),
    (lambda p: sw.run_sweep("toy", [{}], p, workers=0, progress=1), TypeError, "progress"),
    (lambda p: sw.run_sweep("toy", [{}], p, workers=0, progress=False, name=3), TypeError, "name"),
    (lambda p: sw.param(1.0, low_open="x"), TypeError, "low_open"),
    (lambda p: sw.param(1.0, high_open=1), TypeError, "high_open"),
    (lambda p: sw.plot_metric([{"lr": 1.0, "m": 1.0, "status": "done"}], "m", "lr", logx="yes"), TypeError, "logx"),
    (lambda p: sw.plot_metric([{"lr": 1.0, "m": 1.0, "status": "done"}], "m", np.array(["lr"])), TypeError, "x"),
    (lambda p: __import__("simulations.sweep.study", fromlist=["toy_sweep"]).toy_sweep(p, quick="yes"), TypeError,
     "quick"),
    (lambda p: sw.make_config("toy", fail="yes"), TypeError, "fail"),
])
def test_flags_and_options_are_checked(tmp_path, call, err, match):
    with pytest.raises(err, match=match):
        call(tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()  # refused before the store is created


@pytest.mark.parametrize("call, err, match", [
    (lambda p: sw.ResultsStore(3), TypeError, "path"),
    (lambda p: sw.ResultsStore(None), TypeError, "path"),
    (lambda p: sw.ResultsStore(""), ValueError, "path"),
    (lambda p: sw.ResultsStore("."), ValueError, "path"),
    (lambda p: sw.ResultsStore(p.parent / ("a" * 300)), ValueError, "path"),
    (lambda p: sw.load_sweep(3), TypeError, "path"),
    (lambda p: sw.load_sweep(None), TypeError, "path"),
    (lambda p: sw.load_sweep(""), ValueError, "path"),
    (lambda p: sw.load_sweep(p.parent / ("a" * 300)), ValueError, "path"),
    (lambda p: sw.load_sweep(__file__), ValueError, "path"),  # an existing file that is no sweep file
])
def test_store_and_sweep_file_paths_are_checked(tmp_path, call, err, match):
    with pytest.raises(err, match=match):
        call(tmp_path / "s.db")
    assert not list(tmp_path.iterdir())


def test_report_of_an_unknown_experiment_or_a_bad_store_path_is_one_error_line(tmp_path, capsys):
    db = tmp_path / "s.db"
    sw.run_sweep("toy", [{"steps": 20, "eval_every": 10}], db, workers=0, progress=False)
    assert report_main(["--store", str(db), "--experiment", "bogus"]) == 2
    assert "bogus" in _one_error_line(capsys.readouterr().err)
    assert report_main(["--store", "."]) == 2
    assert "path" in _one_error_line(capsys.readouterr().err)
