"""``tailcomp sweep`` and ``tailcomp report``: command-line front ends of :mod:`simulations.sweep`.

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
import sys
from pathlib import Path

from simulations.sweep.config import field_specs
from simulations.sweep.registry import FINISHED, STATUSES, get_experiment, import_errors, list_experiments
from simulations.sweep.report import plot_metric, rows_to_csv, rows_to_json, store_report
from simulations.sweep.store import ResultsStore
from simulations.sweep.store_errors import StoreError
from simulations.sweep.sweep_file import load_sweep


def _describe_experiments() -> str:
    lines = []
    for name in list_experiments():
        exp = get_experiment(name)
        lines.append(f"{name}  (v{exp.version})  {exp.description}")
        for key, spec in field_specs(exp.config).items():
            default = "<required>" if spec.required else spec.default
            lines.append(f"    {key}: {spec.type_name} = {default!r}{spec.range_text}  {spec.help}")
    errors = import_errors()
    if errors:
        lines.append(f"modules that failed to import: {errors}")
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

    if args.list:
        print(_describe_experiments())
        return 0
    if args.file is None:
        p.error("a sweep file is required (or --list)")
    try:
        sweep = load_sweep(args.file)
        runs = sweep.runs()
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"tailcomp sweep: error: {exc}", file=sys.stderr)
        return 2
    store_path = args.store or Path("results") / f"{args.file.stem}.db"
    if args.dry_run:
        todo = len(runs)
        if store_path.exists():
            try:
                with ResultsStore(store_path, readonly=True) as st:
                    finished = {r["run_id"] for r in st.rows(sweep.experiment, status=FINISHED)}
                    if args.no_retry_failed:
                        finished |= {r["run_id"] for r in st.rows(sweep.experiment, status="failed")}
            except (StoreError, ValueError) as exc:
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
    except (ValueError, TypeError, StoreError) as exc:
        print(f"tailcomp sweep: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{sweep.experiment}: {summary.total} runs: {summary.skipped} already finished, {summary.done} done, "
        f"{summary.diverged} diverged, {summary.failed} failed in {summary.wall_time:.1f} s -> {store_path}"
    )
    return 1 if summary.failed else 0


def report_main(argv: list[str] | None = None) -> int:
    """Print the store as a table/CSV/JSON (one row per run) or draw METRIC against PARAM."""
    p = argparse.ArgumentParser(prog="tailcomp report", description="Read the SQLite results store.")
    p.add_argument("--store", type=Path, required=True, help="results store (.db)")
    p.add_argument("--experiment", default=None, help="only this experiment")
    p.add_argument("--status", action="append", default=None,
                   choices=list(STATUSES), help="only runs with this status (repeatable)")
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

    if args.plot and (not args.x or not args.out):
        p.error("--plot needs --x PARAM and --out FILE")
    try:
        with ResultsStore(args.store, readonly=True) as st:
            return _report(st, args)
    except (FileNotFoundError, StoreError, ValueError) as exc:  # ValueError: a --store that names no file
        print(f"tailcomp report: error: {exc}", file=sys.stderr)
        return 2


def _report(st: ResultsStore, args) -> int:
    """The body of ``tailcomp report`` on the open store ``st``."""
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        try:
            ax = plot_metric(st.rows(args.experiment, status="done"), args.plot, args.x, args.hue,
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
        text = rows_to_json(rows)
    elif args.format == "csv":
        text = rows_to_csv(rows)
    else:
        text = store_report(st, rows, args.experiment)  # an unknown experiment: ValueError, reported by report_main
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


if __name__ == "__main__":  # python -m simulations.sweep.cli sweep|report ...
    cmd, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    raise SystemExit({"sweep": sweep_main, "report": report_main}.get(cmd, lambda a: print(__doc__) or 2)(rest))
