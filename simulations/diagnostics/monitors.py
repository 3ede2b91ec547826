"""Training callbacks that measure tail indices during :func:`simulations.nn.train`.

``train(..., callback=f, eval_every=k)`` calls ``f(entry)`` at every evaluation with the history
entry (``step``, losses, …) plus ``params`` (a live view of θ); keys the callback adds to that
entry are kept in the history (:attr:`TrainResult.history`, the ``metrics`` of ``tailcomp train``'s
JSON record). The monitors here measure at chosen global steps — every ``every`` steps and/or the
steps listed in ``at`` — and only at evaluations, so ``eval_every`` must divide them:

* :class:`GradientNoiseMonitor` — the gradient-noise tail index of Şimşekli, Sagun & Gürbüzbalaban
  (2019, ICML) on the train and/or test set, pooled and per layer
  (:func:`simulations.diagnostics.gradient_noise.gradient_noise_tail_index`), under ``entry["grad_noise"]``;
* :class:`TailIndexMonitor` — the tail index of each layer's weights (Barsbey et al. 2021, NeurIPS:
  all entries, rows as vectors, row norms; :func:`simulations.tail_index.weight_tail_index`) and the
  power-law exponent of its spectrum (:func:`simulations.spectra.spectral_alpha`), under
  ``entry["tail_index"]``.

Each also keeps a tidy table ``.records`` (one dict per step × split/variant × layer, ``layer`` =
"all" for the pooled estimate) for :mod:`simulations.diagnostics.plots`. :func:`combine` chains
several callbacks into one.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from simulations._core import seeding
from simulations._core.validation import check_array, check_bool, check_choice, check_int, check_positive, check_real
from simulations.diagnostics.gradient_noise import (
    CACHE_BYTES_DEFAULT,
    CACHE_BYTES_MAX,
    N_EVAL_DEFAULT,
    _noise_tail_index,
    _subset,
)
from simulations.diagnostics.streaming import EPS_MAX
from simulations.nn.backends import get_backend
from simulations.nn.model import Params

__all__ = ["GradientNoiseMonitor", "TailIndexMonitor", "combine", "SPLITS", "WEIGHT_MODES", "STEPS_MAX"]

#: the evaluation sets of :class:`GradientNoiseMonitor`
SPLITS = ("train", "test")
#: the weight tail-index variants of :class:`TailIndexMonitor` (``spectral`` is the fourth)
WEIGHT_MODES = ("entries", "rows", "row_norms")
#: largest step of ``every`` / ``at`` (the training core's STEPS_MAX)
STEPS_MAX = 2**53


class _Schedule:
    """Global steps at which a monitor measures: multiples of ``every`` (None: none) and the steps of ``at``."""

    def __init__(self, every: int | None, at: Sequence[int]):
        self.every = None if every is None else check_int("every", every, 1, STEPS_MAX)
        if isinstance(at, (str, bytes)) or not isinstance(at, (Sequence, range, set, frozenset)):
            raise TypeError(f"at must be a sequence of global steps, got {type(at).__name__}")
        self.at = frozenset(check_int("at", s, 0, STEPS_MAX) for s in at)
        if self.every is None and not self.at:
            raise ValueError("every or at must name at least one step (every=None and at empty measure nothing)")

    def due(self, step: int) -> bool:
        return (self.every is not None and step % self.every == 0) or step in self.at


def _entry(entry: Any) -> tuple[int, Params]:
    if not isinstance(entry, dict):
        raise TypeError(f"entry must be a dict (a history entry with 'step' and 'params'), got {type(entry).__name__}")
    if "step" not in entry or "params" not in entry:
        raise ValueError(f"entry must hold 'step' and 'params' (what train passes to its callback), got keys "
                         f"{sorted(entry)}")
    step = check_int("entry['step']", entry["step"], 0, STEPS_MAX)
    if not isinstance(entry["params"], Params):
        raise TypeError(f"entry['params'] must be a Params, got {type(entry['params']).__name__}")
    return step, entry["params"]


def _split_arrays(data: Any) -> dict:
    from simulations.nn.data import dataset_parts

    parts = dataset_parts(data)
    out = {"train": (parts[0], parts[1])}
    if parts[2] is not None and len(parts[2]) > 0:
        out["test"] = (parts[2], parts[3])
    return out


class GradientNoiseMonitor:
    """Callback measuring the gradient-noise tail index at chosen steps (module docstring).

    Parameters
    ----------
    data : Dataset or tuple (X_train, y_train[, X_test, y_test])
        The data the noise is measured on (normally the training data of the run).
    batch_size : int ≥ 1
        Minibatch size of the noise; use the run's batch size.
    every : int in [1, 2^53] or None; at : sequence of steps
        Measure at multiples of ``every`` and at the steps of ``at`` (train's ``eval_every`` must divide them).
    n_eval : int ≥ 2·batch_size or None
        Evaluation-subset size per split, capped at the split's size (None: the whole split in data
        order, as the paper). The subsets are drawn once from ``seed`` and kept for every step: a
        measurement equals ``gradient_noise_tail_index(params, X, y, n_eval=n_eval, seed=m.seed_sequence)``.
    splits : tuple of "train", "test"
    per_layer, eps, cache_bytes, backend
        As :func:`~simulations.diagnostics.gradient_noise.gradient_noise_tail_index`.

    Calling it with a history entry measures when the step is due and stores
    ``entry["grad_noise"] = {split: result}``; :attr:`records` gets one row per split and layer
    (``step, split, layer, alpha, N, m`` and, for ``layer="all"``, ``noise_norm, loss, seconds``).
    :meth:`measure` runs the measurement on any ``params``. Returns None (never stops a run).
    """

    key = "grad_noise"

    def __init__(self, data: Any, *, batch_size: int, every: int | None = 100, at: Sequence[int] = (),
                 n_eval: int | None = N_EVAL_DEFAULT, splits: Sequence[str] = ("train",), per_layer: bool = True,
                 seed: Any = 0, eps: float = 0.0, cache_bytes: int = CACHE_BYTES_DEFAULT, backend: Any = "cpu"):
        self.schedule = _Schedule(every, at)
        arrays = _split_arrays(data)
        if isinstance(splits, str) or not isinstance(splits, (tuple, list)) or not splits:
            raise TypeError(f"splits must be a non-empty tuple of {list(SPLITS)}, got {splits!r}")
        self.splits = tuple(dict.fromkeys(check_choice("splits", s, SPLITS) for s in splits))
        for s in self.splits:
            if s not in arrays:
                raise ValueError(f"splits names {s!r}, but data has no {s} set")
        self.batch_size = check_int("batch_size", batch_size, 1)
        if n_eval is not None:
            n_eval = check_int("n_eval", n_eval, 2 * self.batch_size)
        self.n_eval = n_eval
        get_backend(backend)
        # one SeedSequence, drawn once: the same subsets at every step
        self.seed_sequence = ss = seeding.seed_sequence(seed)
        self.per_layer = check_bool("per_layer", per_layer)
        self.eps = check_real("eps", eps, 0.0, EPS_MAX)
        self.cache_bytes = check_int("cache_bytes", cache_bytes, 0, CACHE_BYTES_MAX)
        self.backend = backend
        self.arrays = {}
        for s in self.splits:  # checked once here, not at every measurement
            X = check_array(f"X_{s}", arrays[s][0], ndim=2)
            y = check_array(f"y_{s}", arrays[s][1], ndim=1)
            n = X.shape[0]
            if y.shape[0] != n or (y.size and (np.any(y != np.round(y)) or y.min() < 0)):
                raise ValueError(f"y_{s} must hold {n} non-negative integer labels, got shape {y.shape}")
            if n < 2 * self.batch_size:
                raise ValueError(f"the {s} set has {n} rows; batch_size={self.batch_size} needs at least "
                                 f"{2 * self.batch_size} (two minibatches)")
            ne = None if n_eval is None else min(n_eval, n)  # as gradient_noise_tail_index
            self.arrays[s] = (X, y.astype(np.int32), _subset(n, ne, self.batch_size, ss))
        self.records: list[dict] = []
        self._buffers: dict = {}  # work arrays reused across measurements

    def measure(self, params: Params) -> dict:
        """{split: the result of :func:`gradient_noise_tail_index` on that split's subset} at ``params``."""
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {type(params).__name__}")
        spec, be, out = params.spec, get_backend(self.backend), {}
        for s, (X, y, rows) in self.arrays.items():
            if X.shape[1] != spec.sizes[0]:
                raise ValueError(f"params.spec.sizes[0] = {spec.sizes[0]} does not match the {X.shape[1]} columns "
                                 f"of the {s} set")
            if y.size and y.max() >= spec.sizes[-1]:
                raise ValueError(f"the {s} labels reach {int(y.max())}, params has {spec.sizes[-1]} outputs")
            out[s] = _noise_tail_index(be, params, X, y, rows, self.batch_size, self.per_layer, self.eps,
                                       self.cache_bytes, time.perf_counter(), self._buffers)
        return out

    def __call__(self, entry: dict) -> None:
        step, params = _entry(entry)
        if not self.schedule.due(step):
            return None
        res = self.measure(params)
        entry[self.key] = res
        for s, r in res.items():
            self.records.append({"step": step, "split": s, "layer": "all", "alpha": r["alpha"], "N": r["N"],
                                 "m": r["m"], "noise_norm": r["noise_norm"], "loss": r["loss"],
                                 "seconds": r["seconds"]})
            for l, a in enumerate(r["alpha_layers"] or []):
                self.records.append({"step": step, "split": s, "layer": l, "alpha": a, "N": r["N_layers"][l],
                                     "m": r["m_layers"][l]})
        return None


def _spectral_alpha():
    try:
        from simulations.spectra import spectral_alpha
    except ImportError as exc:  # the spectra package is optional for the weight variants
        raise ImportError("spectral=True needs simulations.spectra.spectral_alpha; pass spectral=False "
                          f"to measure the weight tail indices only ({exc})") from exc
    return spectral_alpha


class TailIndexMonitor:
    """Callback measuring each layer's weight tail index (and spectral exponent) at chosen steps.

    Parameters
    ----------
    every, at : as :class:`GradientNoiseMonitor`.
    modes : tuple of "entries", "rows", "row_norms"
        Variants of :func:`simulations.tail_index.weight_tail_index` (block-sum estimator,
        median-centred), each per layer.
    spectral : bool
        Also :func:`simulations.spectra.spectral_alpha` (W) per layer: the power-law exponent of the
        eigenvalue density of WᵀW (Martin & Mahoney 2021, JMLR), a different α from the tail index.
    clip : float > 0 or None
        Passed to weight_tail_index (2.0: Barsbey et al.'s cap; None: unclipped).

    Stores ``entry["tail_index"] = {variant: [α̂ per layer]}``; :attr:`records` gets one row
    ``step, variant, layer, alpha`` per variant and layer. NaN where an estimator is undefined
    for a layer (e.g. "rows" of a layer with fewer than 4 rows), with the reason in ``.errors``.
    """

    key = "tail_index"

    def __init__(self, *, every: int | None = 100, at: Sequence[int] = (), modes: Sequence[str] = WEIGHT_MODES,
                 spectral: bool = True, clip: float | None = 2.0):
        self.schedule = _Schedule(every, at)
        if isinstance(modes, str) or not isinstance(modes, (tuple, list)):
            raise TypeError(f"modes must be a tuple of {list(WEIGHT_MODES)}, got {modes!r}")
        self.modes = tuple(dict.fromkeys(check_choice("modes", m, WEIGHT_MODES) for m in modes))
        self.spectral = check_bool("spectral", spectral)
        if not self.modes and not self.spectral:
            raise ValueError("modes is empty and spectral=False: nothing to measure")
        self.clip = None if clip is None else check_positive("clip", clip)
        self._spectral_fn = _spectral_alpha() if self.spectral else None
        self.records: list[dict] = []
        self.errors: list[str] = []

    def measure(self, params: Params) -> dict:
        """{variant: [α̂ of layer 0, 1, ...]} for the monitor's variants (NaN where undefined)."""
        from simulations.tail_index import weight_tail_index

        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {type(params).__name__}")
        out: dict[str, list[float]] = {}
        variants = [(m, lambda W, m=m: weight_tail_index(W, mode=m, clip=self.clip)) for m in self.modes]
        if self.spectral:
            variants.append(("spectral", lambda W: self._spectral_fn(W)))
        for name, fn in variants:
            vals = []
            for l, W in enumerate(params.weights):
                try:
                    vals.append(float(fn(W)))
                except ValueError as exc:
                    vals.append(math.nan)
                    self.errors.append(f"{name}, layer {l}: {exc}")
            out[name] = vals
        return out

    def __call__(self, entry: dict) -> None:
        step, params = _entry(entry)
        if not self.schedule.due(step):
            return None
        t0 = time.perf_counter()
        res = self.measure(params)
        entry[self.key] = dict(res, seconds=time.perf_counter() - t0)
        for name, vals in res.items():
            for l, a in enumerate(vals):
                self.records.append({"step": step, "variant": name, "layer": l, "alpha": a})
        return None


def combine(*callbacks: Callable[[dict], Any]) -> Callable[[dict], bool]:
    """One callback calling each of ``callbacks`` in order on the same entry; True (stop) if any returns True."""
    if not callbacks:
        raise ValueError("callbacks must hold at least one callable")
    for i, c in enumerate(callbacks):
        if not callable(c):
            raise TypeError(f"callbacks[{i}] must be callable, got {type(c).__name__}")

    def both(entry: dict) -> bool:
        stop = False
        for c in callbacks:
            stop = bool(c(entry)) or stop
        return stop

    return both
