"""Committed results of the figure simulations too long for ``make figures``: JSON files in ``paper/data/``.

A figure whose full-size simulation takes more than about a minute on 2 cores draws, by
default, from a JSON file written by its own module (``python -m paper.<module> --write-data``,
which runs the full-size computation). :func:`save` turns numpy arrays, dataclasses and
tuples into JSON (``{"__ndarray__": [...], "dtype": ...}``, ``{"__object__": {...}}``) and
:func:`load` turns them back (arrays as arrays, dataclasses as attribute namespaces), so
that the drawing code sees what the computation returned.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np

DATA = Path(__file__).resolve().parent / "data"


def read_store(store: Path, table, *, experiment: str, command: str, datasets=None) -> list[dict]:
    """``table(store)``: the rows a figure draws from a results store.

    FileNotFoundError when the store is absent (it is committed; ``command`` rebuilds it); ValueError
    when ``table`` gives no row, or no row of some data set of ``datasets``, for ``experiment``.
    """
    store = Path(store)
    if not store.is_file():
        raise FileNotFoundError(f"results store {store} not found: it is committed in the repository (or run "
                                f"{command})")
    rows = table(store)
    missing = [d for d in datasets if not any(r["dataset"] == d for r in rows)] if datasets else []
    if not rows or missing:
        raise ValueError(f"results store {store} has no finished {experiment} runs"
                         + (f" for {missing}" if missing else ""))
    return rows


def store_path(committed: Path, env: str, outdir: Path, reduced: bool) -> Path:
    """The results store a figure reads: ``outdir/<stem>_reduced.sqlite`` for a reduced run (made fresh
    by the figure), else ``$env`` when set, else the ``committed`` store of ``paper/data/``."""
    import os

    if reduced:
        return Path(outdir) / f"{Path(committed).stem}_reduced.sqlite"
    value = os.environ.get(env)
    return Path(value) if value else Path(committed)


def _encode(obj):
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": _encode(obj.tolist()), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return _encode(obj.item())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__object__": {f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, SimpleNamespace):
        return {"__object__": {k: _encode(v) for k, v in vars(obj).items()}}
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store an object of type {type(obj).__name__} in a figure data file")


def _decode(obj):
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return np.array(_decode(obj["__ndarray__"]), dtype=obj["dtype"])
        if "__object__" in obj:
            return SimpleNamespace(**{k: _decode(v) for k, v in obj["__object__"].items()})
        if "__float__" in obj:
            return float(obj["__float__"])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def save(path: Path, data, *, about: str) -> Path:
    """Write ``data`` to ``path`` with a description ``about`` (what was computed, at which size)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"about": about, "data": _encode(data)}, separators=(",", ":")) + "\n")
    return path


def load(path: Path):
    """The data :func:`save` wrote to ``path``; a missing file is an error naming the command that writes it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"figure data file {path} not found: it is committed in the repository, "
                                f"and python -m paper.{path.stem.split('.')[0]} --write-data recomputes it")
    return _decode(json.loads(path.read_text())["data"])


def write_data_main(argv, figure: str, data_file: Path, compute, full_size) -> int:
    """``python -m paper.<figure> --write-data``: recompute the full-size data and save it to ``data_file``."""
    import argparse

    p = argparse.ArgumentParser(description=f"Recompute the full-size data of {figure}.", allow_abbrev=False)
    p.add_argument("--write-data", action="store_true", help=f"write {data_file.name} in paper/data/")
    args = p.parse_args(argv)
    if not args.write_data:
        p.error("nothing to do: pass --write-data")
    save(data_file, compute("full"), about=f"{figure} full size: {full_size!r}")
    return 0


def make_from_data(outdir, reduced: bool, figure: str, data_file: Path, compute, draw, tables,
                   datasets=(), dpi: int = 130) -> list[Path]:
    """``make`` of a figure drawn from committed data: the committed ``data_file`` by default, or
    ``compute("reduced")`` for a reduced run (which needs ``datasets``); then the figure and its tables."""
    import matplotlib

    matplotlib.use("Agg")
    from paper.figstyle import finish, require_datasets

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if reduced:
        require_datasets(datasets, figure)
        data = compute("reduced")
    else:
        data = load(data_file)
    return finish(draw(data), outdir, figure, reduced, dpi=dpi) + tables(data, outdir, reduced)
