"""Cold start: the first call with an empty numba cache against the same call with the cache warm.

    python bench/cold_start.py [--quick] [--json PATH] [--repeat R]

Each case runs in fresh interpreters: a *cold* run with a new, empty ``NUMBA_CACHE_DIR`` (numba
compiles everything the call needs), then *warm* runs with that directory filled (numba loads the
machine code). Cases:

* ``tailcomp train`` 784-64-10 on MNIST, one epoch (``--steps 50`` with ``--quick``), the whole
  command (interpreter start, imports, data, training); skipped when the MNIST files are absent;
* the first ``noise_injection.train_ensemble`` call (two networks, neuron noise, on a data set),
  the call alone (imports excluded);
* the first ``kesten.run_sgd`` call (linear-regression SGD chains), the call alone.

Rows: ``ours`` = 1 / cold seconds, ``peer`` = 1 / warm seconds (unit runs/s), so ``ratio`` =
warm / cold (higher is better; 0.25 means the cold run takes 4× the warm one). Both wall-clock
and CPU seconds (user + system of the child process) are recorded in the notes: on a shared
machine the CPU seconds are the robust measure of compile work. Warm = best of R runs.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parse_args, row  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

ENSEMBLE = """
import time, json
import numpy as np
t0 = time.perf_counter()
from simulations import noise_injection as ni
rng = np.random.default_rng(0)
X, Y = rng.standard_normal((256, 10)), rng.standard_normal((256, 1))
t1 = time.perf_counter()
ni.train_ensemble([16, 32], 1.5, 0.1, 0.05, steps=10, data=(X, Y), noise="neuron", threads=1)
print(json.dumps({"call": time.perf_counter() - t1, "import": t1 - t0}))
"""

CHAINS = """
import time, json
t0 = time.perf_counter()
from simulations import kesten
t1 = time.perf_counter()
kesten.run_sgd(0.6, 2, 3, n_chains=64, steps=100, seed=0)
print(json.dumps({"call": time.perf_counter() - t1, "import": t1 - t0}))
"""


def _run(cmd: list[str], cache: str) -> tuple[float, float, str]:
    """(wall s, child CPU s, stdout) of one fresh-interpreter run with NUMBA_CACHE_DIR = cache."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, NUMBA_NUM_THREADS="1", TAILCOMP_THREADS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}… failed:\n{out.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def _case(cmd: list[str], repeat: int, timed_by_child: bool) -> dict:
    """Cold once (fresh cache), then warm best-of-``repeat``; seconds of the command or of the call it prints."""
    with tempfile.TemporaryDirectory(prefix="tailcomp-cold-") as cache:
        wall, cpu, out = _run(cmd, cache)
        cold = json.loads(out.strip().splitlines()[-1])["call"] if timed_by_child else wall
        res = {"cold_s": cold, "cold_wall_s": wall, "cold_cpu_s": cpu}
        warm = []
        for _ in range(repeat):
            w, c, o = _run(cmd, cache)
            warm.append((json.loads(o.strip().splitlines()[-1])["call"] if timed_by_child else w, w, c))
        best = min(warm)
        res.update(warm_s=best[0], warm_wall_s=best[1], warm_cpu_s=min(c for _, _, c in warm))
    return res


def _mnist_present() -> bool:
    root = os.environ.get("TAILCOMP_DATA")
    return bool(root) and (Path(root) / "mnist" / "train-images-idx3-ubyte.gz").is_file()


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], argv)
    repeat = args.repeat or (1 if args.quick else 3)
    py = sys.executable
    cases = []
    if _mnist_present():
        budget = ["--steps", "50"] if args.quick else ["--epochs", "1"]
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [py, "-m", "simulations.cli", "train", "--dataset", "mnist", "--sizes", "784,64,10", *budget,
                   "--out", str(Path(tmp) / "run.json")]
            cases.append((f"tailcomp train 784-64-10 {' '.join(budget)} (whole command)", _case(cmd, repeat, False)))
    else:
        print("# MNIST not found under TAILCOMP_DATA: the tailcomp train case is skipped", file=sys.stderr)
    cases.append(("two_layer.train_ensemble first call (K=2, neuron noise)", _case([py, "-c", ENSEMBLE], repeat, True)))
    cases.append(("kesten.run_sgd first call (64 chains)", _case([py, "-c", CHAINS], repeat, True)))
    rows, notes = [], {}
    for name, r in cases:
        rows.append(row(f"{name}: cold vs warm", 1.0 / r["cold_s"], 1.0 / r["warm_s"], "runs/s"))
        notes[name] = {k: round(v, 3) for k, v in r.items()}
        notes[name]["cold/warm"] = round(r["cold_s"] / r["warm_s"], 2)
    notes["loadavg"] = os.getloadavg()
    return emit("cold_start", rows, args.json, notes)


if __name__ == "__main__":
    main()
