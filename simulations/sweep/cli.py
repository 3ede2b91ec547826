"""``tailcomp sweep`` and ``tailcomp report``: command-line front ends of :mod:`simulations.sweep.core`.

    tailcomp sweep FILE.yaml [--store results/FILE.db] [--workers N] [--scheduler tcp://HOST:PORT]
                   [--no-retry-failed] [--no-progress] [--dry-run]
    tailcomp report --store results/demo.db [--experiment NAME] [--status done ...]
                    [--format table|csv|json] [--output FILE] [--history]
    tailcomp report --store results/demo.db --plot METRIC --x PARAM [--hue PARAM] --out FIG.pdf
    tailcomp sweep --list                      # the registered experiments and their parameters

Exit status: 0 on success, 1 if a run failed, 2 on bad input (nothing ran).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
from pathlib import Path


def _describe_experiments() -> str:
    from simulations.sweep import core as sw

    lines = []
    for name in sw.list_experiments():
        exp = sw.get_experiment(name)
        lines.append(f"{name}  (v{exp.version})  {exp.description}")
        for key, spec in sw._field_specs(exp.config).items():
            f = next(f for f in dataclasses.fields(exp.config) if f.name == key)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else "<required>")
            rng = ""
            if spec.choices is not None:
                rng = f" one of {list(spec.choices)}"
            elif spec.low is not None or spec.high is not None:
                lo = "-inf" if spec.low is None else spec.low
                hi = "inf" if spec.high is None else spec.high
                rng = f" in {'(' if spec.low_open or spec.low is None else '['}{lo}, {hi}{')' if spec.high_open or spec.high is None else ']'}"
            help_ = f.metadata.get("tailcomp", {}).get("help", "")
            kind = f"{spec.seq_type.__name__}[{spec.elem}]" if spec.kind == "seq" else spec.kind
            lines.append(f"    {key}: {kind}{' | None' if spec.optional else ''} = {default!r}{rng}  {help_}")
    if getattr(sw, "_IMPORT_ERRORS", None):
        lines.append(f"modules that failed to import: {sw._IMPORT_ERRORS}")
    return "\n".join(lines)


def sweep_main(argv: list[str] | None = None) -> int:
    """Validate the sweep file (nothing runs on error), then run it into the store. Exit 0 iff no run failed."""
    p = argparse.ArgumentParser(prog="tailcomp sweep", description="Run a sweep file into the SQLite results store.")
    p.add_argument("file", nargs="?", type=Path, help="sweep file (.yaml/.yml/.toml)")
    p.add_argument("--store", type=Path, default=None, help="results store (default: results/<file stem>.db)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: CPUs; 0 = in this process)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT (store stays here)")
    p.add_argument("--no-retry-failed", action="store_true", help="do not rerun runs that failed before")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="validate and count the runs, run nothing")
    p.add_argument("--list", action="store_true", help="list the registered experiments and their parameters")
    args = p.parse_args(argv)

    from simulations.sweep import core as sw

    if args.list:
        print(_describe_experiments())
        return 0
    if args.file is None:
        p.error("a sweep file is required (or --list)")
    try:
        sweep = sw.load_sweep(args.file)
        runs = sweep.runs()
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"tailcomp sweep: error: {exc}", file=sys.stderr)
        return 2
    store_path = args.store or Path("results") / f"{args.file.stem}.db"
    if args.dry_run:
        todo = len(runs)
        if store_path.exists():
            try:
                with sw.ResultsStore(store_path, create=False) as st:
                    finished = {r["run_id"] for r in st.rows(sweep.experiment, status=("done", "diverged"))}
                    if args.no_retry_failed:
                        finished |= {r["run_id"] for r in st.rows(sweep.experiment, status="failed")}
            except sw.SchemaError as exc:
                print(f"tailcomp sweep: error: {exc}", file=sys.stderr)
                return 2
            todo = sum(r.run_id not in finished for r in runs)
        print(f"{sweep.experiment}: {len(sweep.configs)} configs x {len(sweep.seeds)} seeds = {len(runs)} runs, "
              f"{todo} to run into {store_path}")
        return 0
    try:
        summary = sweep.run(
            store_path,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            retry_failed=not args.no_retry_failed,
        )
    except (ValueError, TypeError, sw.SchemaError, sw.StoreLockedError) as exc:
        print(f"tailcomp sweep: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{sweep.experiment}: {summary.total} runs: {summary.skipped} already finished, {summary.done} done, "
        f"{summary.diverged} diverged, {summary.failed} failed in {summary.wall_time:.1f} s -> {store_path}"
    )
    return 1 if summary.failed else 0


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    s = str(v)
    return s.splitlines()[-1][:60] if "\n" in s else s[:60]


def format_table(rows: list[dict], config_keys: list[str] | None = None) -> str:
    """Plain-text table; columns constant over all rows are printed once above it."""
    if not rows:
        return "(no runs)"
    cols = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
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


def report_main(argv: list[str] | None = None) -> int:
    """Print the store as a table/CSV/JSON (one row per run) or draw METRIC against PARAM."""
    p = argparse.ArgumentParser(prog="tailcomp report", description="Read the SQLite results store.")
    p.add_argument("--store", type=Path, required=True, help="results store (.db)")
    p.add_argument("--experiment", default=None, help="only this experiment")
    p.add_argument("--status", action="append", default=None,
                   choices=["pending", "running", "done", "diverged", "failed"], help="only runs with this status (repeatable)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--output", type=Path, default=None, help="write the rows here instead of stdout")
    p.add_argument("--history", action="store_true", help="one row per history record instead of one per run")
    p.add_argument("--plot", metavar="METRIC", default=None, help="draw METRIC (mean ± s.e. over seeds) against --x")
    p.add_argument("--x", default=None, help="config key on the x axis (with --plot)")
    p.add_argument("--hue", default=None, help="config key: one line per value (with --plot)")
    p.add_argument("--logx", action="store_true")
    p.add_argument("--logy", action="store_true")
    p.add_argument("--out", type=Path, default=None, help="figure file (with --plot; .pdf/.png/.svg)")
    args = p.parse_args(argv)

    from simulations.sweep import core as sw

    try:
        st = sw.ResultsStore(args.store, create=False)
    except (FileNotFoundError, sw.SchemaError) as exc:
        print(f"tailcomp report: error: {exc}", file=sys.stderr)
        return 2
    with st:
        if args.plot:
            if not args.x or not args.out:
                p.error("--plot needs --x PARAM and --out FILE")
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            try:
                ax = sw.plot_metric(st.rows(args.experiment, status="done"), args.plot, args.x, args.hue,
                                    logx=args.logx, logy=args.logy)
            except ValueError as exc:
                print(f"tailcomp report: error: {exc}", file=sys.stderr)
                return 2
            ax.set_title(args.experiment or ", ".join(st.experiments()), fontsize="small")
            ax.figure.tight_layout()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            ax.figure.savefig(args.out)
            plt.close(ax.figure)
            print(f"wrote {args.out}")
            return 0
        status = args.status
        rows = st.history_rows(args.experiment, status) if args.history else st.rows(args.experiment, status)
        if args.format == "json":
            text = json.dumps(rows, indent=1)
        elif args.format == "csv":
            cols = []
            for r in rows:
                cols += [k for k in r if k not in cols]
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
            text = buf.getvalue()
        else:
            parts = []
            for exp in ([args.experiment] if args.experiment else st.experiments()):
                counts = st.counts(exp)
                parts.append(f"== {exp}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
                sub = [r for r in rows if r["experiment"] == exp]
                parts.append(format_table([{k: v for k, v in r.items() if k != "experiment"} for r in sub]))
            text = "\n".join(parts) if parts else "(empty store)"
        if args.output:
            args.output.write_text(text)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


if __name__ == "__main__":  # python -m simulations.sweep.cli sweep|report ...
    cmd, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    raise SystemExit({"sweep": sweep_main, "report": report_main}.get(cmd, lambda a: print(__doc__) or 2)(rest))
