"""The results store: one SQLite file, one row per run, read as tidy rows.

Each row holds the run's configuration (JSON), seed, status (``pending``/``running``/
``done``/``diverged``/``failed`` + error text), metrics (JSON), history (JSON list of
per-evaluation records), timings, the worker that ran it, the package versions it ran
with, the sweep that created it and the git commit.  The database is in WAL mode; only
the submitting process writes, through :meth:`ResultsStore.writer`
(:mod:`simulations.sweep.writer`: one writer at a time, every finished run committed and
fsynced in its own transaction), so killing a sweep at any moment (SIGKILL included,
even a power loss) loses nothing that finished.  Readers never block the writer.

:data:`SCHEMA_VERSION` is the layout written here; a store with a larger version is
refused (:class:`SchemaError`), smaller versions are migrated when the schema changes.
"""
from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from simulations._core.validation import check_choice
from simulations.sweep.registry import STATUSES
from simulations.sweep.store_errors import StoreError, guarded, translate
from simulations.sweep.writer import StoreWriter

__all__ = ["SCHEMA_VERSION", "SchemaError", "StoreError", "ResultsStore"]

#: Version of the SQLite layout written by this module.  A store with a larger
#: version is refused (:class:`SchemaError`); smaller versions are migrated.
SCHEMA_VERSION = 1


class SchemaError(StoreError):
    """The results store was written by a newer tailcomp, or is not a tailcomp store."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    experiment_version INTEGER NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed')),
    error TEXT,
    metrics TEXT,
    history TEXT,
    created_at REAL NOT NULL,
    submitted_at REAL,
    started_at REAL,
    finished_at REAL,
    wall_time REAL,
    cpu_time REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    versions TEXT,
    sweep TEXT,
    git TEXT
);
CREATE INDEX IF NOT EXISTS runs_experiment_status ON runs (experiment, status);
"""

#: os.access can check the effective ids (what opening a file checks) on this platform.
_EFFECTIVE = os.access in os.supports_effective_ids

_STD_COLUMNS = ("run_id", "experiment", "seed", "status", "error", "wall_time")

#: longest component (file or folder name) of a store or sweep-file path, in bytes: the common file-system limit
NAME_MAX = 255


def _file_path(pname: str, value, what: str) -> Path:
    """``value`` as the Path of a file: a str or os.PathLike naming a file, no component above NAME_MAX bytes."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{pname} must be a path (str or os.PathLike) of {what}, got {type(value).__name__}")
    p = Path(value)
    if p.name in ("", ".", ".."):
        raise ValueError(f"{pname} must name {what} (a file), got {str(value)!r}")
    for part in p.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise ValueError(f"{pname} has a component of {len(os.fsencode(part))} bytes; at most NAME_MAX = "
                             f"{NAME_MAX} bytes are allowed by the file systems: {str(value)[:80]!r}...")
    return p


class ResultsStore:
    """The SQLite results store (one file; created on first use unless ``create=False``).

    Read API: :meth:`rows` (tidy dicts: ``run_id, experiment, seed, status, error,
    wall_time`` + one column per config key + one per metric; a config key that
    collides with a standard column is prefixed ``config.``, a metric that collides
    with either is prefixed ``metric.``), :meth:`to_pandas` (same as a DataFrame;
    pandas optional), :meth:`history_rows` (one row per history record), :meth:`get`
    (one run, all columns, JSON decoded), :meth:`counts` (runs per status).  Opening a
    store written by a newer schema version raises :class:`SchemaError`; a file that
    is not a tailcomp store also raises :class:`SchemaError` and is left untouched.
    ``readonly=True`` opens an existing store for reading only (SQLite ``mode=ro``; it
    works in a read-only directory too); every other failure to create, open, read or
    write the file (a read-only directory, corrupt pages, ...) raises :class:`StoreError`
    naming the store (:class:`SchemaError` is one).

    Write API: :meth:`writer` takes the store's writer lock and returns the
    :class:`~simulations.sweep.writer.StoreWriter` (``register``, ``mark_running``,
    ``record``) that :func:`simulations.sweep.run_sweep` writes through.
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True, readonly: bool = False):
        self.path = _file_path("path", path, "a results store")
        if not isinstance(create, bool):
            raise TypeError(f"create must be a bool, got {create!r}")
        if not isinstance(readonly, bool):
            raise TypeError(f"readonly must be a bool, got {readonly!r}")
        self.readonly = readonly
        self._writer: StoreWriter | None = None
        if not self.path.exists():
            if not create or readonly:
                raise FileNotFoundError(f"no results store at {str(self.path)!r}")
            with translate(self.path, "creating it"):
                self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_dir():
            raise StoreError(f"results store {self.path} is a directory, not a tailcomp results store")
        action = "opening it" if self.path.exists() else "creating it"
        if readonly:
            self.con = self._connect_readonly()
        else:
            with translate(self.path, action):
                self.con = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None, check_same_thread=False)
        try:
            with translate(self.path, action):
                self._open(create)
        except BaseException:
            self.con.close()
            raise

    def _connect_readonly(self) -> sqlite3.Connection:
        """A read-only connection (``mode=ro``); in a read-only directory, where SQLite cannot create the
        WAL index ``<store>-shm``, the file is read as immutable (no writer can be active there)."""
        uri = self.path.resolve().as_uri()
        kw = dict(uri=True, timeout=60.0, isolation_level=None, check_same_thread=False)
        with translate(self.path, "opening it read-only"):
            con = sqlite3.connect(uri + "?mode=ro", **kw)
            try:
                con.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
                return con
            except sqlite3.OperationalError as exc:
                con.close()
                cannot_index = "readonly" in str(exc) or "unable to open" in str(exc)
                if not cannot_index or os.access(self.path.parent, os.W_OK, effective_ids=_EFFECTIVE):
                    raise
            except sqlite3.DatabaseError:  # not an SQLite file, or corrupt: _open says which
                return con
            wal = Path(f"{self.path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreError(
                    f"results store {self.path} is in a read-only directory with an unfinished write-ahead log {wal}: "
                    "copy the store and its -wal file to a writable directory to read it"
                )
            return sqlite3.connect(uri + "?mode=ro&immutable=1", **kw)

    # ---- schema
    def _open(self, create: bool) -> None:
        con = self.con
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            if "not a database" not in str(exc):
                raise
            raise SchemaError(f"{self.path} is not a tailcomp results store (not an SQLite database: {exc})") from None
        if "schema_version" in tables:
            self._check_version()
        elif tables:
            raise SchemaError(
                f"{self.path} is an SQLite database but not a tailcomp results store (tables {sorted(tables)}); left untouched"
            )
        elif not create or self.readonly:
            raise SchemaError(f"{self.path} is empty: not a tailcomp results store")
        if self.readonly:
            return
        con.execute("PRAGMA journal_mode=WAL")
        # NORMAL: in WAL mode a commit survives the process being killed (SIGKILL) without an
        # fsync; StoreWriter.record switches to FULL so that a *finished* run also survives a power loss.
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA busy_timeout=60000")
        if "schema_version" not in tables:
            con.execute("BEGIN IMMEDIATE")
            try:
                if not con.execute("SELECT name FROM sqlite_master WHERE name='schema_version'").fetchall():
                    for stmt in filter(str.strip, _SCHEMA.split(";")):
                        con.execute(stmt)
                    con.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        self._check_version()

    def _check_version(self) -> None:
        row = self.con.execute("SELECT MAX(version) FROM schema_version").fetchone()
        v = row[0] if row else None
        if v is None:
            raise SchemaError(f"{self.path}: schema_version table is empty; not a valid tailcomp results store")
        if v > SCHEMA_VERSION:
            raise SchemaError(
                f"results store {self.path} was written by a newer tailcomp (schema version {v}); "
                f"this tailcomp reads schema versions up to {SCHEMA_VERSION}: upgrade tailcomp to read it. "
                "The store was not modified."
            )
        # v < SCHEMA_VERSION: migrations go here when the schema changes.

    # ---- writer side
    @guarded("taking its writer lock")
    def writer(self) -> StoreWriter:
        """Take the store's writer lock and return the :class:`StoreWriter` (one writer process at a time).

        Raises :class:`StoreLockedError` if another sweep holds the lock.  The lock is released
        by the writer's ``close()`` (or a ``with`` block), or when this store is closed.
        """
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened read-only (readonly=True): it cannot be written")
        if self._writer is None or self._writer.lock_file is None:
            self._writer = StoreWriter(self.con, self.path)
        return self._writer

    # ---- reader side
    @guarded("reading it")
    def _select(self, columns: str, experiment, status) -> list[sqlite3.Row]:
        where, args = [], []
        if experiment is not None:
            where.append("experiment = ?")
            args.append(experiment)
        if status is not None:
            sts = [status] if isinstance(status, str) else list(status)
            for s in sts:
                check_choice("status", s, STATUSES)
            where.append(f"status IN ({','.join('?' * len(sts))})")
            args += sts
        q = f"SELECT {columns} FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY rowid"
        cur = self.con.execute(q, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    @staticmethod
    def _flat(base: dict, config: dict, extra: dict, prefix: str) -> dict:
        row = dict(base)
        for k, v in config.items():
            row[f"config.{k}" if k in row else k] = v
        for k, v in extra.items():
            row[f"{prefix}.{k}" if k in row else k] = v
        return row

    def rows(self, experiment: str | None = None, status: str | Sequence[str] | None = None) -> list[dict]:
        """Tidy rows, one per run, in the order the runs were first registered."""
        out = []
        for r in self._select("run_id, experiment, seed, status, error, wall_time, config, metrics", experiment, status):
            base = {k: r[k] for k in _STD_COLUMNS}
            out.append(self._flat(base, json.loads(r["config"]), json.loads(r["metrics"] or "{}"), "metric"))
        return out

    def to_pandas(self, experiment: str | None = None, status: str | Sequence[str] | None = None):
        """:meth:`rows` as a ``pandas.DataFrame`` (ImportError with a hint if pandas is missing)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas needs pandas: pip install 'tailcomp[cluster]' (or pandas)") from exc
        return pd.DataFrame(self.rows(experiment, status))

    def history_rows(
        self, experiment: str | None = None, status: str | Sequence[str] | None = ("done", "diverged")
    ) -> list[dict]:
        """One row per history record: ``run_id, experiment, seed, status`` + config columns + the record's keys."""
        out = []
        for r in self._select("run_id, experiment, seed, status, config, history", experiment, status):
            base = {k: r[k] for k in ("run_id", "experiment", "seed", "status")}
            cfg = json.loads(r["config"])
            for rec in json.loads(r["history"] or "[]"):
                out.append(self._flat(base, cfg, rec if isinstance(rec, dict) else {"value": rec}, "history"))
        return out

    @guarded("reading it")
    def get(self, run_id: str) -> dict | None:
        """One run with every stored column (config/metrics/history/versions decoded), or None."""
        cur = self.con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        r = cur.fetchone()
        if r is None:
            return None
        d = dict(zip([c[0] for c in cur.description], r))
        for k in ("config", "metrics", "history", "versions"):
            if d.get(k) is not None:
                d[k] = json.loads(d[k])
        return d

    @guarded("reading it")
    def counts(self, experiment: str | None = None) -> dict[str, int]:
        """Number of runs per status (every status present as a key)."""
        q = "SELECT status, COUNT(*) FROM runs" + (" WHERE experiment = ?" if experiment else "") + " GROUP BY status"
        got = dict(self.con.execute(q, (experiment,) if experiment else ()).fetchall())
        return {s: int(got.get(s, 0)) for s in STATUSES}

    @guarded("reading it")
    def experiments(self) -> list[str]:
        """Names of the experiments present in the store."""
        return [r[0] for r in self.con.execute("SELECT DISTINCT experiment FROM runs ORDER BY experiment")]

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"
