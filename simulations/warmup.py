"""``tailcomp warmup``: compile the main numba kernels once, into numba's on-disk cache.

numba compiles a kernel the first time it is called in a process without a cache entry, which
costs seconds per kernel (a fresh install, a new ``NUMBA_CACHE_DIR``, or any edit of a kernel
module, see :mod:`simulations._core.jit_cache`). This command runs each kernel family once on
tiny inputs with a progress bar, so the first real run starts at full speed; ``make`` runs it
when it builds the environment. Each task is a call of the public API, so it compiles exactly
what a user's call compiles.

    tailcomp warmup                 # every task
    tailcomp warmup --only nn       # only some (repeatable)
    tailcomp warmup --list          # the tasks and what they compile
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from simulations._core.validation import check_bool, check_choice
from simulations.cli import HelpFormatter

__all__ = ["TASKS", "run", "main"]


def _stable() -> None:
    from simulations import stable

    stable.rvs(1.5, size=8, seed=0)
    stable.rvs(1.5, beta=0.5, size=8, seed=0)
    stable.stream_rvs(1.5, n_streams=2, n_per_stream=4, seed=0)


def _nn() -> None:
    from simulations import nn

    spec = nn.MLPSpec((6, 5, 3))
    data = nn.gaussian_mixture(64, 6, 3, n_test=16, seed=0)
    kw = dict(batch_size=16, stop=nn.StopRules(max_steps=2))
    nn.train(spec, data, **kw)
    for kind in ("entry", "neuron"):
        nn.train(spec, data, noise=nn.NoiseConfig(alpha=1.5, sigma=0.01, kind=kind), **kw)
    nn.train(spec, data, optimizer=nn.SGD(lr=0.1, momentum=0.9), **kw)
    nn.train(spec, data, mask=nn.ones_mask(spec), **kw)  # masked training (the pruning studies)


def _two_layer() -> None:
    from simulations import noise_injection as ni

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((32, 4)), rng.standard_normal((32, 1))
    for noise in ("neuron", "entry"):
        ni.train_ensemble([4, 8], 1.5, 0.1, 0.05, steps=2, data=(X, Y), noise=noise, batch_size=4)


def _kesten() -> None:
    from simulations import kesten

    kesten.run_sgd(0.6, 2, 3, n_chains=4, steps=4, seed=0)


def _compressibility() -> None:
    from simulations.compressibility import relative_errors

    relative_errors(np.arange(1.0, 9.0))


#: name → (what it compiles, the call)
TASKS: dict[str, tuple[str, Callable[[], None]]] = {
    "stable": ("α-stable samplers (array and in-kernel stream paths)", _stable),
    "nn": ("training chunks (no noise, entry and neuron noise, momentum, masked), evaluation", _nn),
    "two_layer": ("mean-field two-layer ensembles (neuron and entry noise)", _two_layer),
    "kesten": ("SGD chains on linear regression", _kesten),
    "compressibility": ("best k-term approximation errors", _compressibility),
}


def run(names=None, *, progress: bool = True, file=None) -> dict[str, float]:
    """Run the warm-up tasks ``names`` (default: all, in :data:`TASKS` order); return seconds per task."""
    if names is None:
        names = list(TASKS)
    elif isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise TypeError(f"names must be None or a list of task names, got {type(names).__name__}")
    names = [check_choice(f"names[{i}]", n, tuple(TASKS)) for i, n in enumerate(names)]
    progress = check_bool("progress", progress)
    out = sys.stderr if file is None else file
    if not callable(getattr(out, "write", None)):
        raise TypeError(f"file must be None or a writable text stream, got {type(file).__name__}")
    times: dict[str, float] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(names), desc="compiling kernels", unit="task", file=out)
    for n in names:
        if bar is not None:
            bar.set_postfix_str(n)
        t0 = time.perf_counter()
        TASKS[n][1]()
        times[n] = time.perf_counter() - t0
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return times


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tailcomp warmup", formatter_class=HelpFormatter, allow_abbrev=False,
                                description="Compile the main numba kernels into numba's on-disk cache "
                                            "(NUMBA_CACHE_DIR, else __pycache__), so that first runs start fast.")
    p.add_argument("--only", action="append", choices=list(TASKS), metavar="TASK",
                   help=f"run only this task (repeatable): {', '.join(TASKS)}")
    p.add_argument("--list", action="store_true", help="list the tasks and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        for name, (what, _) in TASKS.items():
            print(f"{name:<16} {what}")
        return 0
    print("compiling the main kernels once (a minute or two on a cold cache; seconds when already cached)…",
          file=sys.stderr, flush=True)
    times = run(args.only)
    total = sum(times.values())
    print(f"warm-up done in {total:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()) + ")",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
