"""Errors of the results store: every SQLite or file-system failure becomes one :class:`StoreError` naming the store.

A store that cannot be created (its directory is read-only), opened, read or written
(corrupt pages, a full disk) raises :class:`StoreError` with one line saying which store,
what was being done and what to do about it; the CLI prints that line and exits 2.
:class:`~simulations.sweep.store.SchemaError` and
:class:`~simulations.sweep.writer.StoreLockedError` are subclasses.
"""
from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from pathlib import Path

__all__ = ["StoreError", "store_error", "translate", "guarded"]


class StoreError(RuntimeError):
    """The results store cannot be created, opened, read or written; the message names the store."""


_CORRUPT = ("malformed", "not a database", "corrupt", "encrypted")
_ACCESS = ("readonly", "read-only", "unable to open", "permission", "access")


def store_error(path: str | os.PathLike, exc: BaseException, action: str) -> StoreError:
    """The :class:`StoreError` for ``exc`` (an ``sqlite3.Error`` or ``OSError``) raised while ``action``."""
    path = Path(path)
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if isinstance(exc, sqlite3.DatabaseError) and any(w in low for w in _CORRUPT):
        return StoreError(
            f"results store {path} is corrupt ({text}) while {action}: restore it from a backup, or salvage what "
            f"is readable with `sqlite3 {path} .recover`"
        )
    if isinstance(exc, PermissionError) or any(w in low for w in _ACCESS):
        return StoreError(
            f"results store {path} cannot be used while {action} ({text}): the file and its directory "
            f"{path.parent} must be readable, and writable for a sweep (`tailcomp report` only reads)"
        )
    return StoreError(f"results store {path}: {text} while {action}")


@contextlib.contextmanager
def translate(path: str | os.PathLike, action: str):
    """Turn ``sqlite3.Error``/``OSError`` raised inside the block into :class:`StoreError` naming ``path``."""
    try:
        yield
    except StoreError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise store_error(path, exc, action) from exc


def guarded(action: str):
    """Method decorator: :func:`translate` errors of the method, naming ``self.path``."""

    def deco(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            with translate(self.path, action):
                return method(self, *args, **kwargs)

        return wrapper

    return deco
