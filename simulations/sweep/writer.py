"""The writer side of the results store: one writer at a time, each finished run durable.

:meth:`simulations.sweep.store.ResultsStore.writer` returns a :class:`StoreWriter`, which
holds the store's writer lock (an advisory ``flock`` on ``<store>.lock``) from its
creation until :meth:`StoreWriter.close`; a second writer gets
:class:`StoreLockedError`.  :meth:`~StoreWriter.register` inserts the runs of a sweep as
``pending`` (one transaction), :meth:`~StoreWriter.mark_running` commits the change to
``running`` without fsync (``synchronous=NORMAL``: in WAL mode it survives the process
being killed; after a power loss such a run is simply rerun), and
:meth:`~StoreWriter.record` commits a finished run with ``synchronous=FULL`` so that it
also survives a power loss (SQLite, "Write-Ahead Logging", https://www.sqlite.org/wal.html).
"""
from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from simulations.sweep.config import canonical_json
from simulations.sweep.plan import RunSpec
from simulations.sweep.registry import get_experiment
from simulations.sweep.store_errors import StoreError, guarded

__all__ = ["StoreLockedError", "StoreWriter"]


class StoreLockedError(StoreError):
    """Another sweep is currently writing to the same results store."""


class StoreWriter:
    """Writes runs into an open store connection; holds the writer lock until :meth:`close`."""

    def __init__(self, con, path: str | os.PathLike):
        self.con = con
        self.path = Path(path)
        #: The open lock file while the lock is held (None after :meth:`close`).
        self.lock_file = None
        self._acquire()

    # ---- the lock
    def _acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            return
        lock_path = f"{self.path}.lock"
        # The lock file is removed on release (close). Another process may still hold
        # the removed file open, so after taking the flock we check that the path still
        # names the file we locked; if not, we retry on the new file.
        for _ in range(100):
            f = open(lock_path, "a+")
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.seek(0)
                holder = f.read().strip()
                f.close()
                raise StoreLockedError(
                    f"results store {self.path} is being written by another sweep ({holder or 'unknown process'}); "
                    "wait for it to finish or use another --store"
                ) from None
            try:
                same = os.stat(lock_path).st_ino == os.fstat(f.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            f.close()
        else:  # pragma: no cover - would need 100 lost races in a row
            raise StoreLockedError(f"results store {self.path}: could not take the writer lock {lock_path}")
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        self.lock_file = f

    def close(self) -> None:
        """Release the writer lock (idempotent); the store stays open for reading."""
        if self.lock_file is not None:
            # remove the file while still holding the flock (see _acquire), then release it by closing
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}.lock")
            self.lock_file.close()  # closing releases the flock (so does the process dying)
            self.lock_file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- writing
    @guarded("registering the runs of a sweep")
    def register(self, specs: Sequence[RunSpec], *, name: str = "", git: str | None = None) -> dict[str, str]:
        """Insert the runs not yet in the store as ``pending`` (one transaction); return run_id -> status."""
        now = time.time()
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany(
                "INSERT OR IGNORE INTO runs (run_id, experiment, experiment_version, config, seed, status, created_at, sweep, git)"
                " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                [
                    (s.run_id, s.experiment, get_experiment(s.experiment).version, canonical_json(s.config), s.seed, now, name, git)
                    for s in specs
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        status = {}
        ids = [s.run_id for s in specs]
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT run_id, status FROM runs WHERE run_id IN ({','.join('?' * len(chunk))})"
            status.update(dict(con.execute(q, chunk).fetchall()))
        return status

    @guarded("marking a run as running")
    def mark_running(self, run_id: str) -> None:
        """The run was submitted: status ``running``, one more attempt, error cleared."""
        self.con.execute(
            "UPDATE runs SET status='running', submitted_at=?, attempts=attempts+1, error=NULL WHERE run_id=?",
            (time.time(), run_id),
        )

    @guarded("recording a finished run")
    def record(self, run_id: str, out: Mapping) -> None:
        """Store a finished run (one transaction, committed and fsynced before returning)."""
        self.con.execute("PRAGMA synchronous=FULL")
        try:
            self.con.execute(
                "UPDATE runs SET status=?, error=?, metrics=?, history=?, started_at=?, finished_at=?, wall_time=?,"
                " cpu_time=?, worker=?, versions=? WHERE run_id=?",
                (
                    out["status"], out.get("error"), out.get("metrics"), out.get("history"), out.get("started_at"),
                    out.get("finished_at"), out.get("wall_time"), out.get("cpu_time"), out.get("worker"),
                    out.get("versions"), run_id,
                ),
            )
        finally:
            self.con.execute("PRAGMA synchronous=NORMAL")
