"""The sweep tool at work on the ``toy`` experiment: estimated against exact Lyapunov exponent.

SGD with step size η (``lr``) and batch size b (``batch_size``) on one-dimensional least
squares is the Kesten recursion x_{k+1} = M_k x_k + Q_k with M_k = 1 - (η/b) χ²_b
(Gürbüzbalaban, Şimşekli & Zhu 2021, ICML, "The heavy-tail phenomenon in SGD").  It has a
stationary heavy-tailed law when λ = E log|M| < 0 and diverges when λ > 0.
:func:`toy_sweep` runs (or resumes) a grid over (η, b) × seeds into a results store and
returns its rows; :func:`lyapunov_table` sets the mean over seeds of the estimate λ̂
(the sample mean of log|M_k|) beside the exact λ (:func:`theory.kesten.rho` with d = 1)
and the fraction of runs stored as ``diverged`` (|x| > 1e100 within the run, so a run
with λ > 0 small is caught only when λ·steps > ln 1e100 ≈ 230).  Used by
``paper/fig_sweep.py`` and ``notebooks/07_sweep.ipynb``.

The experiment is looked up by name (``"toy"``), so this module imports no experiment.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from simulations._core.validation import check_bool, check_real
from simulations.sweep.plan import expand_grid
from simulations.sweep.runner import run_sweep
from simulations.sweep.store import ResultsStore

__all__ = ["ToySweep", "toy_sweep", "lyapunov_exponent", "lyapunov_table", "LR_MAX"]

BATCH_SIZES = (1, 2, 4)
#: largest step size of :func:`lyapunov_exponent` (the toy grid spans η ∈ [0.2, 5]; λ grows like log η)
LR_MAX = 1e100


@dataclass(frozen=True)
class ToySweep:
    """The rows of a toy sweep (one per run) and the grid they cover."""

    rows: list[dict]
    lrs: list[float]
    batch_sizes: list[int]
    steps: int
    seeds: int


def lyapunov_exponent(lr: float, batch_size: int) -> float:
    """λ(η, b) = E log|1 - (η/b) χ²_b|, the Lyapunov exponent of the toy chain (it diverges iff λ > 0).

    0 < η ≤ :data:`LR_MAX`; the batch size b as in :func:`theory.kesten.rho`.
    """
    from theory.kesten import rho

    lr = check_real("lr", lr, 0.0, LR_MAX, low_open=True)
    return rho(lr, batch_size, 1)


def toy_sweep(store: str | os.PathLike, *, quick: bool = False, workers: int | None = None) -> ToySweep:
    """Run (or resume) the toy grid into ``store`` and read it back.

    Quick: 8 step sizes in [0.25, 4] × b ∈ {1, 2, 4} × 3 seeds of 2,000 steps (about a second
    inline); full: 25 step sizes in [0.2, 5] × 10 seeds of 20,000 steps.  ``workers`` as in
    :func:`simulations.sweep.run_sweep`.  Only the rows of this grid are returned (the store
    may hold others).
    """
    import numpy as np

    quick = check_bool("quick", quick)
    lrs = [0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0] if quick else [float(v) for v in np.round(np.linspace(0.2, 5.0, 25), 3)]
    batch_sizes = list(BATCH_SIZES)
    steps, seeds = (2000, 3) if quick else (20_000, 10)
    configs = expand_grid("toy", {"lr": lrs, "batch_size": batch_sizes}, base={"steps": steps, "eval_every": steps // 4})
    run_sweep("toy", configs, store, seeds=seeds, workers=workers, progress=False)
    with ResultsStore(store, create=False) as st:
        rows = [r for r in st.rows("toy") if r["steps"] == steps and r["lr"] in lrs and r["batch_size"] in batch_sizes]
    return ToySweep(rows=rows, lrs=lrs, batch_sizes=batch_sizes, steps=steps, seeds=seeds)


def lyapunov_table(sweep: ToySweep) -> list[dict]:
    """One dict per (lr, batch_size) of the grid: mean λ̂ over its runs, exact λ, fraction diverged, runs."""
    import numpy as np

    if not isinstance(sweep, ToySweep):
        raise TypeError(f"sweep must be a ToySweep (from toy_sweep), got {type(sweep).__name__}")

    out = []
    for b in sweep.batch_sizes:
        for lr in sweep.lrs:
            sel = [r for r in sweep.rows if r["batch_size"] == b and r["lr"] == lr]
            est = [r["lyapunov_hat"] for r in sel if r.get("lyapunov_hat") is not None]
            out.append({
                "lr": lr,
                "batch_size": b,
                "lyapunov_hat": float(np.mean(est)) if est else float("nan"),
                "lyapunov": lyapunov_exponent(lr, b),
                "diverged_fraction": float(np.mean([r["status"] == "diverged" for r in sel])) if sel else float("nan"),
                "runs": len(sel),
            })
    return out
