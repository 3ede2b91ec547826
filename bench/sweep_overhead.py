"""Cost of durability: ``run_sweep`` (SQLite store, per-run commits, hashing, validation)
against running the same experiment without it.

Cases (throughput in runs/s, higher is better; ratio = ours / peer):

* ``inline``: ``run_sweep(workers=0)`` into a fresh store vs a plain Python loop calling
  the experiment function on the same configs;
* ``pool``: ``run_sweep(workers=2)`` (spawned one-thread workers, bounded in-flight queue,
  parent commits every run) vs ``ProcessPoolExecutor(spawn, 2).map`` of the bare function,
  both including pool start-up.

The experiment is the built-in ``toy`` (scalar Kesten recursion) sized so that one run
takes a few milliseconds: the regime where bookkeeping overhead is most visible.
"""
from __future__ import annotations

import itertools
import multiprocessing
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, emit, parse_args, row  # noqa: E402

from simulations import sweep as sw  # noqa: E402
from simulations.experiments.toy import toy  # noqa: E402


def _bare(args):
    cfg, seed = args
    return toy(sw.make_config("toy", cfg), seed)


def main(argv=None) -> int:
    args = parse_args(__doc__, argv)
    n_cfg, steps = (10, 1000) if args.quick else (50, 2000)
    seeds = [0, 1, 2, 3]
    repeat = args.repeat or (1 if args.quick else 3)
    configs = sw.expand_grid("toy", {"lr": list(sw_linspace(0.1, 2.0, n_cfg))}, base={"steps": steps, "eval_every": steps // 4})
    jobs = [(sw.config_to_dict(c), s) for c in configs for s in seeds]
    n = len(jobs)
    tmp = Path(tempfile.mkdtemp(prefix="tailcomp-bench-"))
    counter = itertools.count()

    def ours(workers):
        def fn():
            sw.run_sweep("toy", configs, tmp / f"s{next(counter)}.db", seeds=seeds, workers=workers, progress=False)
        return fn

    def peer_inline():
        for j in jobs:
            _bare(j)

    def peer_pool():
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            list(ex.map(_bare, jobs, chunksize=1))

    rows = [
        row(f"inline, {n} toy runs", n / best_time(ours(0), repeat), n / best_time(peer_inline, repeat), "runs/s"),
        row(f"pool of 2, {n} toy runs", n / best_time(ours(2), repeat), n / best_time(peer_pool, repeat), "runs/s"),
    ]
    emit("sweep_overhead", rows, args.json, notes={"steps per run": steps, "store": "SQLite WAL, one fsync per finished run"})
    return 0


def sw_linspace(a, b, k):
    return [round(a + (b - a) * i / max(1, k - 1), 6) for i in range(k)]


if __name__ == "__main__":
    raise SystemExit(main())
