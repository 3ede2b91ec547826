"""Reading a results store for people: plain-text tables, CSV/JSON text, and :func:`plot_metric`.

:func:`plot_metric` draws the mean over seeds of a metric against a configuration key,
with the standard error of the mean s/√n (s the sample standard deviation of the n
seeds) as error bars, one line per value of a second key.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence

from simulations._core.validation import check_bool, check_choice
from simulations.sweep.registry import STATUSES
from simulations.sweep.store import ResultsStore

__all__ = ["format_table", "rows_to_csv", "rows_to_json", "store_report", "plot_metric"]


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
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


def format_table(rows: list[dict]) -> str:
    """Plain-text table of ``rows`` (a list of dicts); columns constant over all rows are printed once above it."""
    rows = _rows(rows)
    if not rows:
        return "(no runs)"
    cols = _columns(rows)
    const = {k: rows[0].get(k) for k in cols
             if k not in ("run_id", "status", "seed") and all(_fmt(r.get(k)) == _fmt(rows[0].get(k)) for r in rows)}
    shown = [k for k in cols if k not in const]
    header = [k if k != "run_id" else "run" for k in shown]
    body = [[(_fmt(r.get(k))[:10] if k == "run_id" else _fmt(r.get(k))) for k in shown] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    out = io.StringIO()
    if const:
        out.write("fixed: " + ", ".join(f"{k}={_fmt(v)}" for k, v in const.items() if v is not None and v != "") + "\n")
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


def store_report(store: ResultsStore, rows: list[dict], experiment: str | None = None) -> str:
    """One section per experiment (or only ``experiment``): its run counts and :func:`format_table` of its rows.

    ``store``: a :class:`ResultsStore`; ``rows``: a list of dicts (rows of another experiment, or without
    an ``"experiment"`` key, are left out); ``experiment``: None or the name of an experiment of the store.
    """
    if not isinstance(store, ResultsStore):
        raise TypeError(f"store must be a ResultsStore, got {type(store).__name__}")
    rows = _rows(rows)
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
        parts.append(format_table([{k: v for k, v in r.items() if k != "experiment"} for r in sub]))
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
):
    """Mean ± standard error over seeds of ``metric`` against config key ``x``, one line per ``hue`` value.

    ``rows``: a :class:`ResultsStore`, a list of :meth:`ResultsStore.rows` dicts or a
    DataFrame.  Only runs whose status is in ``status`` (default: ``done``) are drawn;
    runs lacking the metric are skipped.
    Points with a single seed have no error bar.  Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    logx = check_bool("logx", logx)
    logy = check_bool("logy", logy)
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
    rows = [r for r in rows if r.get("status", "done") in statuses]
    if not rows:
        raise ValueError(f"no runs with status in {list(statuses)} to plot")
    for key, what in ((metric, "metric"), (x, "x"), (hue, "hue")):
        if key is not None and not any(key in r for r in rows):
            raise ValueError(f"{what} {key!r} is not a column of the results; columns: {sorted(set().union(*rows))}")
    groups: dict = {}
    for r in rows:
        if metric not in r or r[metric] is None:
            continue
        h = _hashable(r.get(hue)) if hue else None
        groups.setdefault(h, {}).setdefault(_hashable(r[x]), []).append(float(r[metric]))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for h in sorted(groups, key=_sort_key):
        pts = sorted(groups[h].items(), key=lambda kv: _sort_key(kv[0]))
        xs = [p[0] for p in pts]
        means = np.array([np.mean(v) for _, v in pts])
        sems = np.array([np.std(v, ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0 for _, v in pts])
        label = f"{hue}={h}" if hue else None
        ax.errorbar(xs, means, yerr=sems, marker="o", capsize=3, label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if hue:
        ax.legend(fontsize="small")
    return ax


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def _sort_key(v):
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))
