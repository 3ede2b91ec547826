"""Reading a results store for people: plain-text tables, CSV/JSON text, and :func:`plot_metric`.

:func:`plot_metric` draws the mean over seeds of a metric against a configuration key,
with the standard error of the mean s/√n (s the sample standard deviation of the n
seeds) as error bars, one line per value of a second key; diverged runs are marked × at
the top of the axes (never silently dropped). Tables show every run with its status and
summarise list-valued metrics (``[n values] last=v``) unless asked to expand them.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence

from simulations._core.validation import check_bool, check_choice
from simulations.sweep.registry import STATUSES
from simulations.sweep.store import ResultsStore

__all__ = ["format_table", "rows_to_csv", "rows_to_json", "store_report", "plot_metric", "experiment_rows"]


def _fmt(v, expand: bool = True) -> str:
    """A table cell: numbers to 6 significant digits, strings cut to their last line (60 characters),
    lists and dicts as JSON (``expand``) or as a summary: ``[n values] last=v`` / ``{n keys}``."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        if expand:
            return json.dumps(v)
        if isinstance(v, dict):
            return f"{{{len(v)} keys}}"
        if not v:
            return "[]"
        last = v[-1]
        last = _fmt(last, False) if isinstance(last, (float, list, dict)) else json.dumps(last)[:20]
        return f"[{len(v)} values] last={last}"
    s = str(v)
    return s.splitlines()[-1][:60] if "\n" in s else s[:60]


def _rows(rows) -> list:
    """``rows``: a list or tuple of dicts (result rows)."""
    if not isinstance(rows, (list, tuple)):
        raise TypeError(f"rows must be a list of dicts (result rows), got {type(rows).__name__}")
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise TypeError(f"rows[{i}] must be a dict (a result row), got {type(r).__name__}")
    return list(rows)


def _dumps(rows, **kw) -> str:
    try:
        return json.dumps(rows, **kw)
    except (TypeError, ValueError) as exc:  # json's own message names no argument
        raise TypeError(f"rows must hold JSON values only: {exc}") from None


def format_table(rows: list[dict], expand: bool = False) -> str:
    """Plain-text table of ``rows`` (a list of dicts); columns constant over all rows are printed once above it.

    Every run is a row, whatever its status (the ``status`` column is always shown, so
    ``diverged`` and ``failed`` runs read as such). List and dict values (per-epoch
    curves, ...) are summarised as ``[n values] last=v`` / ``{n keys}`` unless ``expand``
    (then printed as JSON).
    """
    rows = _rows(rows)
    expand = check_bool("expand", expand)
    if not rows:
        return "(no runs)"
    cols = _columns(rows)
    const = {k: rows[0].get(k) for k in cols
             if k not in ("run_id", "status", "seed") and all(_fmt(r.get(k)) == _fmt(rows[0].get(k)) for r in rows)}
    shown = [k for k in cols if k not in const]
    header = [k if k != "run_id" else "run" for k in shown]
    body = [[(_fmt(r.get(k))[:10] if k == "run_id" else _fmt(r.get(k), expand)) for k in shown] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    out = io.StringIO()
    if const:
        out.write("fixed: " + ", ".join(f"{k}={_fmt(v, expand)}" for k, v in const.items() if v is not None and v != "")
                  + "\n")
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for b in body:
        out.write("  ".join(c.ljust(w) for c, w in zip(b, widths)).rstrip() + "\n")
    return out.getvalue()


def _columns(rows: list[dict]) -> list[str]:
    """Every key of ``rows``, in order of first appearance."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


def rows_to_csv(rows: list[dict]) -> str:
    """CSV text of ``rows`` (a list of dicts) with a header of every column (lists and dicts as JSON)."""
    rows = _rows(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=_columns(rows))
    w.writeheader()
    for r in rows:
        w.writerow({k: (_dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
    return buf.getvalue()


def rows_to_json(rows: list[dict]) -> str:
    """The rows (a list of dicts of JSON values) as an indented JSON list."""
    return _dumps(_rows(rows), indent=1)


def store_report(store: ResultsStore, rows: list[dict], experiment: str | None = None, expand: bool = False) -> str:
    """One section per experiment (or only ``experiment``): its run counts and :func:`format_table` of its rows.

    ``store``: a :class:`ResultsStore`; ``rows``: a list of dicts (rows of another experiment, or without
    an ``"experiment"`` key, are left out); ``experiment``: None or the name of an experiment of the store;
    ``expand``: list and dict values in full (see :func:`format_table`).
    """
    if not isinstance(store, ResultsStore):
        raise TypeError(f"store must be a ResultsStore, got {type(store).__name__}")
    rows = _rows(rows)
    expand = check_bool("expand", expand)
    known = store.experiments()
    if experiment is not None:
        if not isinstance(experiment, str):
            raise TypeError(f"experiment must be an experiment name (str) or None, got {type(experiment).__name__}")
        if experiment not in known:
            raise ValueError(f"experiment {experiment!r} has no runs in the store; its experiments: {known}")
    parts = []
    for exp in ([experiment] if experiment else known):
        counts = store.counts(exp)
        parts.append(f"== {exp}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
        sub = [r for r in rows if r.get("experiment") == exp]
        parts.append(format_table([{k: v for k, v in r.items() if k != "experiment"} for r in sub], expand))
    return "\n".join(parts) if parts else "(empty store)"


def plot_metric(
    rows,
    metric: str,
    x: str,
    hue: str | None = None,
    *,
    ax=None,
    logx: bool = False,
    logy: bool = False,
    status: str | Sequence[str] = ("done",),
    diverged: bool = True,
):
    """Mean ± standard error over seeds of ``metric`` against config key ``x``, one line per ``hue`` value.

    ``rows``: a :class:`ResultsStore`, a list of :meth:`ResultsStore.rows` dicts or a
    DataFrame.  Only runs whose status is in ``status`` (default: ``done``) enter the means;
    runs lacking the metric are skipped.  Points with a single seed have no error bar.
    With ``diverged`` (default), runs of status ``diverged`` not in ``status`` are drawn
    as × marks at the top edge of the axes at their ``x`` (in their ``hue`` line's colour),
    with a legend entry counting them, so no diverged run disappears from the figure.
    Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.lines import Line2D

    logx = check_bool("logx", logx)
    logy = check_bool("logy", logy)
    diverged = check_bool("diverged", diverged)
    for key, what in ((metric, "metric"), (x, "x"), (hue, "hue")):
        if not (isinstance(key, str) or (what == "hue" and key is None)):
            raise TypeError(f"{what} must be a {'str or None' if what == 'hue' else 'str'}, got {key!r}")
    if not isinstance(status, (str, list, tuple)):
        raise TypeError(f"status must be a status name or a list of them, got {type(status).__name__}")
    statuses = (status,) if isinstance(status, str) else tuple(status)
    for s_ in statuses:
        check_choice("status", s_, STATUSES)
    if ax is not None:
        from matplotlib.axes import Axes

        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    if isinstance(rows, ResultsStore):
        rows = rows.rows()
    elif hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        rows = rows.to_dict("records")
    else:
        rows = _rows(rows)
    marked = [r for r in rows if r.get("status") == "diverged" and r.get(x) is not None] \
        if diverged and "diverged" not in statuses else []
    rows = [r for r in rows if r.get("status", "done") in statuses]
    if not rows and not marked:
        raise ValueError(f"no runs with status in {list(statuses)}" + (" or diverged" if diverged else "") + " to plot")
    for key, what in ((metric, "metric"), (x, "x"), (hue, "hue")):
        if key is not None and not any(key in r for r in rows + marked):
            raise ValueError(f"{what} {key!r} is not a column of the results; columns: "
                             f"{sorted(set().union(*(rows + marked)))}")
    groups: dict = {}
    for r in rows:
        if metric not in r or r[metric] is None:
            continue
        h = _hashable(r.get(hue)) if hue else None
        groups.setdefault(h, {}).setdefault(_hashable(r[x]), []).append(float(r[metric]))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    colours = {}
    for h in sorted(groups, key=_sort_key):
        pts = sorted(groups[h].items(), key=lambda kv: _sort_key(kv[0]))
        xs = [p[0] for p in pts]
        means = np.array([np.mean(v) for _, v in pts])
        sems = np.array([np.std(v, ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0 for _, v in pts])
        label = f"{hue}={h}" if hue else None
        colours[h] = ax.errorbar(xs, means, yerr=sems, marker="o", capsize=3, label=label).lines[0].get_color()
    if marked:
        by_hue: dict = {}
        for r in marked:
            by_hue.setdefault(_hashable(r.get(hue)) if hue else None, []).append(_hashable(r[x]))
        for h in sorted(by_hue, key=_sort_key):
            xs = sorted(by_hue[h], key=_sort_key)
            ax.plot(xs, [1.0] * len(xs), linestyle="none", marker="x", markersize=8, markeredgewidth=1.5,
                    color=colours.get(h, "crimson"), transform=ax.get_xaxis_transform(), clip_on=False,
                    label="_diverged")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    handles, labels = ax.get_legend_handles_labels()
    if marked:
        handles.append(Line2D([], [], linestyle="none", marker="x", markersize=8, markeredgewidth=1.5,
                              color="crimson" if not hue else "0.3"))
        labels.append(f"diverged ({len(marked)} run{'s' * (len(marked) != 1)}, not in the means)")
    if handles:
        ax.legend(handles, labels, fontsize="small")
    return ax


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def _sort_key(v):
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))


def experiment_rows(store_or_rows, experiment: str, status: Sequence[str] = ("done",),
                    required: Sequence[str] = ()) -> list[dict]:
    """The rows of ``experiment`` with a status in ``status``, from a store or from row dicts.

    ``store_or_rows``: a results store — a path (opened read-only) or a :class:`ResultsStore` — or
    a list/tuple of row dicts (rows of other experiments or statuses are dropped; a row without
    ``experiment`` / ``status`` keys counts as ``experiment`` / ``"done"``). ``required``: keys every
    row of a list must hold (``ValueError`` naming the row and what it lacks).
    """
    if isinstance(experiment, bool) or not isinstance(experiment, str):
        raise TypeError(f"experiment must be an experiment name (str), got {experiment!r}")
    if isinstance(status, (str, bytes)) or not isinstance(status, (list, tuple)) or not all(
            isinstance(x, str) for x in status):
        raise TypeError(f"status must be a sequence of run statuses, got {status!r}")
    status = [check_choice("status", x, STATUSES) for x in status]
    if isinstance(required, (str, bytes)) or not isinstance(required, (list, tuple)) or not all(
            isinstance(k, str) for k in required):
        raise TypeError(f"required must be a list or tuple of key names, got {required!r}")
    if isinstance(store_or_rows, (str, os.PathLike)):
        with ResultsStore(store_or_rows, create=False, readonly=True) as st:
            return st.rows(experiment, status=status)
    if isinstance(store_or_rows, ResultsStore) or (hasattr(store_or_rows, "rows") and callable(store_or_rows.rows)):
        return store_or_rows.rows(experiment, status=status)
    if isinstance(store_or_rows, (list, tuple)):
        for i, r in enumerate(store_or_rows):
            if not isinstance(r, Mapping):
                raise TypeError(f"store_or_rows[{i}] must be a row dict, got {type(r).__name__}")
            missing = [k for k in required if k not in r]
            if missing:
                raise ValueError(f"store_or_rows[{i}] must be a {experiment} row with the keys {list(required)}; "
                                 f"it lacks {missing}")
        return [dict(r) for r in store_or_rows
                if r.get("experiment", experiment) == experiment and r.get("status", "done") in status]
    raise TypeError("store_or_rows must be a results store (a path or a simulations.sweep.ResultsStore) or a list "
                    f"of row dicts, got {type(store_or_rows).__name__}")
