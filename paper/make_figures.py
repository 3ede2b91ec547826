"""Draw every paper figure: ``python -m paper.make_figures [--reduced] [--only MODULE] [--outdir DIR]``.

Each ``paper/fig_*.py`` module defines ``make(outdir: Path, reduced: bool) -> list[Path]``
and ``SOURCE`` (what its figure is drawn from). By default (publication mode) every
figure is drawn from the committed results stores in ``paper/data/`` (read only) or from
simulations run at their full size — each of those takes seconds to about a minute on 2
cores. ``--reduced`` recomputes everything at small sizes (minutes in all, for tests and
smoke runs); every figure and table it draws carries the stamp
"reduced run — not for publication". A figure that needs MNIST / Fashion-MNIST files that
are not under ``$TAILCOMP_DATA`` fails with an error naming them; nothing is drawn from
substitute data. The files go to ``paper/figures/`` (``<name>.pdf``, ``<name>.png``, a
manifest ``<name>.json`` and the tables), and the command exits 1 if any figure failed.
"""
from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def figure_modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("fig_*.py"))


def main(argv=None, prog: str = "python -m paper.make_figures") -> int:
    """Entry point of ``python -m paper.make_figures`` and ``tailcomp figures`` (returns the exit status)."""
    from simulations.cli import figures_parser

    p = figures_parser(HERE / "figures", figure_modules(), prog=prog, description=__doc__)
    args = p.parse_args(argv)
    reduced = args.reduced or args.quick
    if reduced and args.full:
        p.error("--full and --reduced exclude each other")
    os.environ.setdefault("MPLBACKEND", "Agg")
    args.outdir.mkdir(parents=True, exist_ok=True)
    names = figure_modules()
    if args.only:  # argparse's choices= refused any other name
        names = [n for n in names if n in args.only]
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    failed = []
    t_all = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        mod = importlib.import_module(f"paper.{name}")
        source = getattr(mod, "SOURCE", "")
        print(f"[{name}] {'reduced run' if reduced else source} ...", flush=True)
        try:
            paths = mod.make(args.outdir, reduced)
        except Exception as exc:  # keep going: one broken figure must not hide the others
            failed.append(name)
            print(f"[{name}] FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        for path in paths:
            print(f"[{name}] wrote {path}")
        print(f"[{name}] done in {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"all figures: {time.perf_counter() - t_all:.1f} s", flush=True)
    if failed:
        print(f"failed figures: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
