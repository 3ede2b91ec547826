"""``tailcomp sweep`` and ``tailcomp report``: command-line front ends of :mod:`simulations.sweep`.

    tailcomp sweep FILE.yaml [--store results/FILE.db] [--workers N] [--scheduler tcp://HOST:PORT]
                   [--no-retry-failed] [--no-progress] [--dry-run]
    tailcomp report --store results/demo.db [--experiment NAME] [--status done ...]
                    [--format table|csv|json] [--out FILE] [--history] [--expand-lists]
    tailcomp report --store results/demo.db --plot METRIC --x PARAM [--hue PARAM] --out FIG.pdf
    tailcomp sweep --list                      # the registered experiments and their parameters

Exit status: 0 on success, 1 if a run failed, 2 on bad input (nothing ran). After a sweep
with failed runs, each is listed on stderr (id, seed, non-default config values, the last
line of its error); the full traceback is in the store's ``error`` column
(``tailcomp report --status failed --format json``). Report tables summarise list and dict
values (``--expand-lists`` prints them in full); plots mark diverged runs.
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


#: sweep experiments (by module) whose runs train MLPs: their first run compiles the training kernels
_KERNELS = {
    "simulations.experiments.pruning": ("simulations.nn.backends.cpu_kernels",),
    "simulations.experiments.noise_compression": ("simulations.nn.backends.cpu_kernels",),
}
#: failed runs listed one per line after a sweep (the rest are counted)
FAILED_SHOWN = 20


def _todo(sweep, runs, store_path: Path, no_retry_failed: bool) -> int:
    """How many of ``runs`` a sweep into ``store_path`` would run (StoreError/ValueError for a bad store)."""
    if not store_path.exists():
        return len(runs)
    with ResultsStore(store_path, readonly=True) as st:
        finished = {r["run_id"] for r in st.rows(sweep.experiment, status=FINISHED)}
        if no_retry_failed:
            finished |= {r["run_id"] for r in st.rows(sweep.experiment, status="failed")}
    return sum(r.run_id not in finished for r in runs)


def _last_line(text: str | None) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "(no error text)"


def failed_runs_text(store_path: Path, experiment: str, run_ids) -> str:
    """One line per failed run of ``run_ids``: short id, seed, the config values that differ from the
    experiment's defaults, and the last line of its error; then where the full tracebacks are."""
    exp = get_experiment(experiment)
    defaults = {k: spec.default for k, spec in field_specs(exp.config).items() if not spec.required}
    ids = set(run_ids)
    with ResultsStore(store_path, readonly=True) as st:
        failed = [r for r in st.rows(experiment, status="failed") if r["run_id"] in ids]
        lines = [f"{len(failed)} failed run(s) (the last line of each error):"]
        for r in failed[:FAILED_SHOWN]:
            cfg = (st.get(r["run_id"]) or {}).get("config") or {}
            changed = {k: v for k, v in cfg.items() if k not in defaults or defaults[k] != v}
            cfg_text = ", ".join(f"{k}={v!r}" for k, v in changed.items()) or "defaults"
            lines.append(f"  run {r['run_id'][:10]} seed={r['seed']} ({cfg_text}): {_last_line(r['error'])}")
    if len(failed) > FAILED_SHOWN:
        lines.append(f"  ... and {len(failed) - FAILED_SHOWN} more")
    lines.append(f"full tracebacks: the 'error' column of the store, e.g. tailcomp report --store {store_path} "
                 f"--experiment {experiment} --status failed --format json")
    return "\n".join(lines)


def sweep_parser() -> argparse.ArgumentParser:
    """The options of ``tailcomp sweep``."""
    from simulations.cli import parser

    p = parser("tailcomp sweep", "Run a sweep file into the SQLite results store (rerun to resume). "
               "Exit status: 0 on success, 1 if a run failed (each failed run is listed with its error), "
               "2 on bad input (nothing ran).")
    p.add_argument("file", nargs="?", type=Path, help="sweep file (.yaml/.yml/.toml); required unless --list")
    p.add_argument("--store", type=Path, default=None, metavar="DB",
                   help="results store (default: results/<file stem>.db)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: the CPUs; 0 = in this process)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="Dask scheduler address; the store stays here (default: local workers)")
    p.add_argument("--no-retry-failed", action="store_true", help="do not rerun runs that failed before")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="validate and count the runs, run nothing")
    p.add_argument("--list", action="store_true", help="list the registered experiments and their parameters")
    return p


def sweep_main(argv: list[str] | None = None) -> int:
    """Validate the sweep file (nothing runs on error), then run it into the store. Exit 0 iff no run failed."""
    from simulations.cli import compile_notice

    p = sweep_parser()
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
    try:
        todo = _todo(sweep, runs, store_path, args.no_retry_failed)
    except (StoreError, ValueError) as exc:
        print(f"tailcomp sweep: error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"{sweep.experiment}: {len(sweep.configs)} configs x {len(sweep.seeds)} seeds = {len(runs)} runs, "
              f"{todo} to run into {store_path}")
        return 0
    if todo:
        compile_notice(_KERNELS.get(get_experiment(sweep.experiment).module, ()))
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
    if summary.failed:
        try:
            print(failed_runs_text(store_path, sweep.experiment, summary.run_ids), file=sys.stderr)
        except (StoreError, ValueError) as exc:
            print(f"tailcomp sweep: cannot list the failed runs: {exc}", file=sys.stderr)
        return 1
    return 0


class _Renamed(argparse.Action):
    """A removed option: an error naming its replacement."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} was removed: use {self.const}")


def report_parser() -> argparse.ArgumentParser:
    """The options of ``tailcomp report``."""
    from simulations.cli import parser

    p = parser("tailcomp report", "Read the SQLite results store: a table, CSV or JSON of the runs, or "
               "(--plot) a figure of a metric against a config key; diverged runs are drawn as x marks at the "
               "top of the axes, not averaged in.")
    p.add_argument("--store", type=Path, required=True, metavar="DB", help="results store (.db)")
    p.add_argument("--experiment", default=None, help="only this experiment (default: all)")
    p.add_argument("--status", action="append", default=None, choices=list(STATUSES),
                   help="only runs with this status (repeatable; default: all)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="rows as")
    p.add_argument("--expand-lists", action="store_true",
                   help="tables: print list and dict values in full (default: summarised as '[n values] last=...')")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write the rows here (default: stdout); with --plot: the figure file (.pdf/.png/.svg)")
    p.add_argument("--output", nargs="?", action=_Renamed, const="--out FILE", help=argparse.SUPPRESS)
    p.add_argument("--history", action="store_true", help="one row per history record instead of one per run")
    p.add_argument("--plot", metavar="METRIC", default=None,
                   help="draw METRIC (mean ± s.e. over seeds) against --x (default: no plot)")
    p.add_argument("--x", default=None, metavar="PARAM", help="config key on the x axis (with --plot)")
    p.add_argument("--hue", default=None, metavar="PARAM", help="config key: one line per value (with --plot)")
    p.add_argument("--logx", action="store_true", help="logarithmic x axis")
    p.add_argument("--logy", action="store_true", help="logarithmic y axis")
    return p


def report_main(argv: list[str] | None = None) -> int:
    """Print the store as a table/CSV/JSON (one row per run) or draw METRIC against PARAM."""
    p = report_parser()
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

        rows = st.rows(args.experiment, status=("done", "diverged"))
        try:
            ax = plot_metric(rows, args.plot, args.x, args.hue, logx=args.logx, logy=args.logy)
        except ValueError as exc:
            print(f"tailcomp report: error: {exc}", file=sys.stderr)
            return 2
        ax.set_title(args.experiment or ", ".join(st.experiments()), fontsize="small")
        ax.figure.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(args.out)
        plt.close(ax.figure)
        n_div = sum(r.get("status") == "diverged" for r in rows)
        print(f"wrote {args.out}" + (f" ({n_div} diverged runs marked x at the top, not in the means)" if n_div else ""))
        return 0
    status = args.status
    rows = st.history_rows(args.experiment, status) if args.history else st.rows(args.experiment, status)
    if args.format == "json":
        text = rows_to_json(rows)
    elif args.format == "csv":
        text = rows_to_csv(rows)
    else:  # an unknown experiment: ValueError, reported by report_main
        text = store_report(st, rows, args.experiment, expand=args.expand_lists)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def study_main(argv, *, description: str, store, run, report, lists=(), options=None) -> None:
    """The command line of a study module: run (or resume) its sweep into ``--store``, then print ``report(store)``.

    Options: ``--store PATH`` (default ``store``, or ``store(options)`` when it is callable: a default that
    follows the scalar options, e.g. one store per network), ``--quick``, ``--table-only`` (run nothing), ``--datasets …``,
    ``--workers N``, one ``--NAME …`` list option per entry of ``lists`` and one ``--NAME VALUE`` option per
    entry ``NAME: (choices, help)`` of ``options`` (default None: the study's default). ``run(store, quick, *,
    workers, datasets, progress, **lists, **options)`` runs the sweep; ``report(store) -> str`` formats its tables.
    """
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--store", default=None, help="results store (SQLite; created if missing)")
    ap.add_argument("--quick", action="store_true", help="tiny configuration (seconds per run)")
    ap.add_argument("--table-only", action="store_true", help="read the store, run nothing")
    ap.add_argument("--datasets", nargs="*", default=None)
    for name in lists:
        ap.add_argument(f"--{name}", nargs="*", default=None)
    options = dict(options or {})
    for name, (choices, text) in options.items():
        ap.add_argument(f"--{name}", default=None, choices=list(choices), help=text)
    ap.add_argument("--workers", type=int, default=0)
    a = ap.parse_args(argv)
    if a.store is None:
        a.store = str(store({name: getattr(a, name) for name in options}) if callable(store) else store)
    if not a.table_only:
        run(a.store, a.quick, workers=a.workers, datasets=a.datasets, progress=True,
            **{name: getattr(a, name) for name in (*lists, *options)})
    print(report(a.store))


if __name__ == "__main__":  # python -m simulations.sweep.cli sweep|report ...
    cmd, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    raise SystemExit({"sweep": sweep_main, "report": report_main}.get(cmd, lambda a: print(__doc__) or 2)(rest))
