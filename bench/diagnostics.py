"""Cost of the gradient-noise tail index (simulations.diagnostics) relative to SGD training steps.

Rows (higher is better; ratio = ours / peer), bias-free ReLU MLPs, batch 100, 1 thread, random
MNIST-shaped data (x ~ N(0, 1) in R^784, 10 random labels; the cost does not depend on the values):

* ``<sizes> one evaluation vs one step`` — ours: gradient-noise evaluations per second with the
  default settings (``GradientNoiseMonitor(data, batch_size=100)``: n_eval = 400 rows of the training
  set, P = 4 minibatches, pooled + per-layer estimates, gradients kept between the two passes);
  peer: training steps per second of :func:`simulations.nn.train` (plain SGD). ratio = t_step / t_eval,
  so 1 / ratio is the cost of one evaluation in training steps.
* ``<sizes> train + monitor every 100 steps`` — ours: steps/s of ``train(..., eval_every=100,
  callback=monitor)`` with the monitor measuring every 100 steps; peer: the same run without the
  callback (same eval_every). ratio = 1 / (1 + amortised overhead); the target overhead is ≤ 10 %.

Timings: best of ``repeat``, ours and the peer interleaved, after one warm-up call each (numba
compile excluded). Notes: the cost of one evaluation in training steps (also with
``splits=("train", "test")``: twice the work), and the amortised overhead three ways: predicted
from the row above (t_eval / (100 t_step)), measured inside the monitored runs (the seconds the
monitor records over the run's own training seconds, median over the repeats: immune to the load
changing between runs on a shared machine), and the wall-clock ratio of the second row.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from _common import best_interleaved, emit, parse_args, row  # noqa: E402

from simulations.diagnostics import N_EVAL_DEFAULT, GradientNoiseMonitor  # noqa: E402
from simulations.nn import SGD, MLPSpec, StopRules, blas_threads, init_params, train  # noqa: E402

SHAPES = [(784, 512, 512, 10), (784, 128, 128, 10), (784, 1024, 10)]
B = 100


def make_data(sizes, n, n_test=0):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n + n_test, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n + n_test).astype(np.int32)
    return (X[:n], y[:n], X[n:], y[n:]) if n_test else (X, y)



def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    repeat = args.repeat or (3 if args.quick else 7)
    steps = 200 if args.quick else 500
    shapes = SHAPES[:1] if args.quick else SHAPES
    rows, notes = [], {}
    with blas_threads(1):
        for sizes in shapes:
            spec = MLPSpec(sizes, bias=False)
            p0 = init_params(spec, 0)
            data = make_data(sizes, 20_000, n_test=2_000)
            name = "-".join(map(str, sizes))
            mon = GradientNoiseMonitor(data, batch_size=B)
            mon2 = GradientNoiseMonitor(data, batch_size=B, splits=("train", "test"))

            def run(callback=None, n_steps=steps):
                return train(spec, data[:2], params=p0, optimizer=SGD(0.01), batch_size=B,
                             stop=StopRules(max_steps=n_steps), eval_every=100, callback=callback, seed=0)

            inrun = []
            mon_run = GradientNoiseMonitor(data, batch_size=B, every=100)

            def with_monitor():
                mon_run.records = []
                res = run(mon_run)
                inrun.append(sum(r["seconds"] for r in mon_run.records if r["layer"] == "all") / res.timings["train"])
                return res

            t_eval, t_eval2, t_run = best_interleaved([lambda: mon.measure(p0), lambda: mon2.measure(p0),
                                                       lambda: run()], repeat)
            t_step = t_run / steps
            rows.append(row(f"{name} one evaluation vs one step", 1 / t_eval, 1 / t_step, "per s"))
            t_mon, t_plain = best_interleaved([with_monitor, run], repeat)
            rows.append(row(f"{name} train + monitor every 100 steps", steps / t_mon, steps / t_plain, "steps/s"))
            notes[f"{name}: one evaluation (train set) in training steps"] = f"{t_eval / t_step:.1f}"
            notes[f"{name}: amortised every 100 steps, predicted / in-run / wall"] = \
                f"{t_eval / t_step:.1f} % / {np.median(inrun) * 100:.1f} % / {(t_mon / t_plain - 1) * 100:.1f} %"
            notes[f"{name}: train + test splits, one evaluation in steps"] = f"{t_eval2 / t_step:.1f}"
    notes["defaults"] = f"n_eval = {N_EVAL_DEFAULT}, batch {B} (P = {N_EVAL_DEFAULT // B}), per_layer, splits=('train',)"
    emit("diagnostics", rows, args.json, notes)


if __name__ == "__main__":
    main()
