"""The namespace in which the fuzzer's argument expressions are evaluated (in the worker process).

Every argument of a fuzz call is a Python expression string such as ``"np.full(50, 1e200)"`` or
``"spec()"``; a failure's reproducer is therefore ``from tests._fuzz.values import *`` followed by
the printed call. The small factories below build valid objects of the project's own types.
"""
from __future__ import annotations

import math  # noqa: F401  (used inside expressions)

import numpy as np

__all__ = ["np", "math", "x", "X", "W", "weights", "masks", "labels", "spec", "conv_spec", "conv_flat", "data",
           "params", "mask",
           "teacher", "norm", "stop", "ou_drift", "store", "rng_rows",
           "magnitude_prune_result", "toy_config_class", "make_toy_config", "toy_sweep_result",
           "step_config", "idx_file", "sweep_file", "bias_rows"]


def x(n: int = 50) -> np.ndarray:
    """A fixed heavy-tailed 1-D float64 sample (Student-t, 1.5 degrees of freedom)."""
    return np.random.default_rng(0).standard_t(1.5, n)


def X(n: int = 20, d: int = 4) -> np.ndarray:  # noqa: N802  (the vocabulary's name)
    """A fixed 2-D float array of ``n`` rows and ``d`` columns."""
    return np.random.default_rng(1).standard_normal((n, d))


def W(out: int = 5, inp: int = 4) -> np.ndarray:  # noqa: N802
    """One fixed weight matrix ``(out, in)``."""
    return np.random.default_rng(2).standard_t(2.0, (out, inp))


def weights() -> list[np.ndarray]:
    """Two fixed layers ``(6, 4)`` and ``(3, 6)`` of a 4-6-3 network."""
    g = np.random.default_rng(3)
    return [g.standard_t(2.0, (6, 4)), g.standard_t(2.0, (3, 6))]


def masks() -> list[np.ndarray]:
    """All-keep masks matching :func:`weights`."""
    return [np.ones((6, 4), dtype=bool), np.ones((3, 6), dtype=bool)]


def labels(n: int = 20, c: int = 3) -> np.ndarray:
    return np.arange(n) % c


def spec():
    from simulations.nn import MLPSpec
    return MLPSpec((4, 6, 3))


def conv_spec():
    """A tiny convolutional network: conv 3×3 (2 filters) – ReLU – flatten – dense 3, on 1×6×6 inputs."""
    from simulations.nn import Conv2d, Dense, Flatten, ModelSpec, ReLU
    return ModelSpec((1, 6, 6), (Conv2d(2, 3), ReLU(), Flatten(), Dense(3)), 3)


def conv_flat():
    from simulations.nn import init_params
    return init_params(conv_spec(), seed=0).flat


def data():
    from simulations.nn import gaussian_mixture
    return gaussian_mixture(40, dim=4, n_classes=3, n_test=10, seed=0)


def params():
    from simulations.nn import init_params
    return init_params(spec(), seed=0)


def mask():
    from simulations.nn import ones_mask
    return ones_mask(spec())


def teacher():
    from simulations.noise_injection import make_teacher
    return make_teacher(3, seed=0)


def norm():
    from scipy import stats
    return stats.norm()


def stop(steps: int = 3):
    from simulations.nn import StopRules
    return StopRules(max_steps=steps)


def ou_drift():
    from simulations.sde import ou_drift as f
    return f


def store(path: str = "fuzz_store.sqlite"):
    """A results store in the worker's scratch folder (its working directory)."""
    from simulations.sweep import ResultsStore
    return ResultsStore(path)


def rng_rows(n: int = 4) -> list[dict]:
    """A few generic result rows (dicts of a string key, an int and a float)."""
    return [{"method": "magnitude_layer", "seed": i, "value": 0.5 + 0.1 * i} for i in range(n)]


def magnitude_prune_result():
    from simulations.pruning import magnitude_prune
    return magnitude_prune(weights(), ratio=0.5)


def toy_config_class():
    from simulations.experiments.toy import ToyConfig
    return ToyConfig


def make_toy_config():
    return toy_config_class()(steps=10, eval_every=5)


def toy_sweep_result():
    from simulations.sweep.study import ToySweep
    rows = [{"lr": 0.1, "batch_size": 1, "seed": 0, "status": "done", "lyapunov_hat": -0.1}]
    return ToySweep(rows=rows, lrs=[0.1], batch_sizes=[1], steps=10, seeds=1)


def step_config():
    from simulations.nn.backends.base import StepConfig
    return StepConfig(spec(), batch_size=8)


def idx_file(path: str = "fuzz_labels.idx") -> str:
    """A plain (uncompressed) IDX file of 10 uint8 labels, written in the working directory."""
    import struct
    with open(path, "wb") as fh:
        fh.write(struct.pack(">BBBBI", 0, 0, 8, 1, 10) + bytes(range(10)))
    return path


def sweep_file(path: str = "fuzz_sweep.yaml") -> str:
    """A two-run sweep file of the toy experiment, written in the working directory."""
    with open(path, "w") as fh:
        fh.write("experiment: toy\nseeds: 1\nbase: {steps: 10, eval_every: 5}\ngrid: {lr: [0.1, 0.2]}\n")
    return path


def bias_rows() -> list[dict]:
    """Two valid rows of :func:`simulations.tail_index.study.estimator_bias_table` (one law, two estimators)."""
    return [dict(law="stable", alpha=1.5, estimator=e, n=100, reps=2, bias=b, rmse=0.1, n_inf=0)
            for e, b in (("block_sum", 0.01), ("hill", -0.02))]
