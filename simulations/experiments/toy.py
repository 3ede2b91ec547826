"""``toy``: a cheap, deterministic experiment for tests and documentation of the sweep tool.

SGD with batch size ``b`` (``batch_size``) and step size ``η`` (``lr``) on
one-dimensional least squares ``y = a·0 + ε`` (a, ε iid N(0,1)) is the random linear
recursion (Kesten process)

    x_{k+1} = M_k x_k + Q_k,   M_k = 1 - (η/b) Σ_{i≤b} a_{ki}²,   Q_k = (η/b) Σ_{i≤b} a_{ki} ε_{ki},

the one-dimensional case of Gürbüzbalaban, Şimşekli & Zhu (2021, ICML), "The heavy-tail
phenomenon in SGD".  When the Lyapunov exponent λ = E log|M| = E log|1 - (η/b) χ²_b| < 0
the chain has a stationary law with a power tail P(|x| > t) ~ c t^{-α}, α solving
E|M|^α = 1 (Kesten 1973; Goldie 1991); when λ > 0, |x_k| grows like e^{λk} and the run
*diverges* (e.g. η = 3, b = 1: E log|1 - 3χ²₁| > 0).  The exact λ is
:func:`theory.kesten.rho` with ``d = 1`` (``rho(lr, batch_size, 1)``).

Metrics: ``lyapunov_hat`` (the sample mean of log|M_k|, an unbiased estimate of λ),
``mean_log_abs`` (mean of log|x_k| over the second half), ``final_abs``, ``max_abs``.
History: ``{"step", "x"}`` every ``eval_every`` steps.  Deterministic given
``(config, seed)``: the data a and the noise ε come from two independent named children
of the seed (:mod:`simulations._core.seeding`).

Test hooks, not part of the results: ``fail=True`` raises ``RuntimeError``;
``sleep`` seconds are slept after computing; when the environment variable
``TAILCOMP_TOY_TRACE`` names a file, one line ``<seed> <config json>`` is appended to it
per completed execution (to count executions across processes).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass

from simulations.sweep import Diverged, experiment, param

#: |x| above this counts as divergence (far below float64 overflow, so λ > 0 is caught early).
DIVERGENCE_THRESHOLD = 1e100


@dataclass(frozen=True)
class ToyConfig:
    lr: float = param(0.5, low=0.0, high=10.0, low_open=True, help="step size η")
    batch_size: int = param(1, low=1, high=10_000, help="batch size b")
    steps: int = param(1000, low=1, high=10_000_000, help="number of SGD steps")
    eval_every: int = param(100, low=1, help="history record every this many steps")
    x0: float = param(0.0, help="initial iterate")
    fail: bool = param(False, help="raise RuntimeError instead of running (tests the 'failed' status)")
    sleep: float = param(0.0, low=0.0, high=60.0, help="seconds to sleep after computing (tests interruption)")

    def __post_init__(self):
        if self.eval_every > self.steps:
            raise ValueError(f"eval_every must be <= steps ({self.steps}), got {self.eval_every}")


def _trace(config: ToyConfig, seed: int) -> None:
    trace = os.environ.get("TAILCOMP_TOY_TRACE")
    if trace:
        line = f"{seed} {json.dumps(asdict(config), sort_keys=True)}\n"
        fd = os.open(trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())  # one O_APPEND write: atomic across processes for short lines
        finally:
            os.close(fd)


@experiment("toy", config=ToyConfig)
def toy(config: ToyConfig, seed: int) -> dict:
    """Scalar SGD on least squares = Kesten recursion; diverges when E log|M| > 0."""
    import numpy as np

    from simulations._core.seeding import generator

    if config.fail:
        raise RuntimeError("toy experiment asked to fail (fail=True)")
    b, lr, n = config.batch_size, config.lr, config.steps
    a = generator(seed, "data").standard_normal((n, b))
    e = generator(seed, "noise").standard_normal((n, b))
    m = 1.0 - (lr / b) * np.einsum("ij,ij->i", a, a)
    q = (lr / b) * np.einsum("ij,ij->i", a, e)
    lyapunov_hat = float(np.mean(np.log(np.abs(m))))
    x = float(config.x0)
    history, logs = [], np.empty(n)
    max_abs = abs(x)
    for k in range(n):
        x = m[k] * x + q[k]
        ax = abs(x)
        if not ax < DIVERGENCE_THRESHOLD:  # also catches NaN
            raise Diverged(
                f"|x| exceeded {DIVERGENCE_THRESHOLD:g} at step {k + 1}",
                metrics={"diverged_at": k + 1, "lyapunov_hat": lyapunov_hat},
                history=history,
            )
        max_abs = max(max_abs, ax)
        logs[k] = math.log(ax) if ax > 0 else -745.0
        if (k + 1) % config.eval_every == 0:
            history.append({"step": k + 1, "x": x})
    metrics = {
        "lyapunov_hat": lyapunov_hat,
        "mean_log_abs": float(np.mean(logs[n // 2 :])),
        "final_abs": abs(x),
        "max_abs": max_abs,
    }
    if config.sleep:
        time.sleep(config.sleep)
    _trace(config, seed)
    return {"status": "done", "metrics": metrics, "history": history}
