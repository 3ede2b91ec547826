"""Regenerate every paper figure: ``python -m paper.make_figures [--quick|--full] [--only NAME]``.

Each ``paper/fig_*.py`` module defines ``make(outdir: Path, quick: bool) -> list[Path]``
that computes its data (or reads it from the results store) and writes its
figure files into ``outdir`` (``paper/figures/`` by default). Quick mode uses
small sizes so that all figures together take minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def figure_modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("fig_*.py"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", default=True, help="small sizes (default)")
    g.add_argument("--full", action="store_true", help="full-size figures (hours)")
    p.add_argument("--only", action="append", default=None, help="run only these fig_* modules (repeatable)")
    p.add_argument("--outdir", type=Path, default=HERE / "figures")
    args = p.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    quick = not args.full
    args.outdir.mkdir(parents=True, exist_ok=True)
    names = figure_modules()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            p.error(f"unknown figure module(s) {unknown}; available: {names}")
        names = [n for n in names if n in args.only]
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    failed = []
    for name in names:
        t0 = time.perf_counter()
        print(f"[{name}] {'quick' if quick else 'full'} ...", flush=True)
        try:
            mod = importlib.import_module(f"paper.{name}")
            paths = mod.make(args.outdir, quick)
        except Exception as exc:  # keep going: one broken figure must not hide the others
            failed.append(name)
            print(f"[{name}] FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        for path in paths:
            print(f"[{name}] wrote {path}")
        print(f"[{name}] done in {time.perf_counter() - t0:.1f} s", flush=True)
    if failed:
        print(f"failed figures: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
