"""Gradual magnitude pruning (GMP; Zhu & Gupta, "To prune, or not to prune", arXiv 2017 / ICLR-W 2018).

Training starts dense (or from ``initial_sparsity``). At each pruning step
``t ∈ {t₀, t₀ + Δt, …, t_end}`` (:func:`.schedules.pruning_steps`) the smallest-magnitude
surviving weights of the pruned layers are removed until their sparsity reaches the
polynomial schedule (Zhu & Gupta eq. 1, cubic by default; :func:`.schedules.polynomial_sparsity`)

    s_t = s_f + (s_i − s_f) (1 − (t − t₀)/(t_end − t₀))³,

and training continues with the mask fixed until the next pruning step; after ``t_end``
the network trains at ``s_f`` to the end of the budget. Pruned weights are never revived
(``s_t`` is non-decreasing). ``scope="layer"`` gives every pruned layer the sparsity ``s_t``
(Zhu & Gupta prune each layer to the same target); ``scope="global"`` ranks the pooled
magnitudes of the pruned layers against one threshold. Pruning happens between SGD steps on
:func:`.sparse_train.sparse_train`, so momentum, data order and the learning-rate schedule
continue across pruning steps; a pruned weight's momentum is zeroed with it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simulations._core.seeding import child, seed_sequence
from simulations._core.validation import check_choice, check_int, check_real
from simulations.nn.model import MLPSpec, Params, init_params
from simulations.nn.model_spec import ModelSpec
from simulations.pruning.algorithms.base import removal_counts
from simulations.pruning.algorithms.compute import Compute
from simulations.pruning.algorithms.schedules import STEP_MAX, polynomial_sparsity, pruning_steps
from simulations.pruning.algorithms.sparse_train import MaskUpdate, SparseTrainResult, sparse_train
from simulations.pruning.iterative import prune_step
from simulations.pruning.masks import check_layers

__all__ = ["gmp"]


def gmp(
    spec: MLPSpec,
    data,
    *,
    final_sparsity: float = 0.9,
    steps: int,
    start_step: int = 0,
    end_step: int | None = None,
    frequency: int = 100,
    initial_sparsity: float = 0.0,
    power: float = 3.0,
    scope: str = "layer",
    layers=None,
    optimizer=None,
    batch_size: int = 128,
    seed: Any = 0,
    params: Params | None = None,
    eval_every: int | None = None,
    threads: int | None = None,
    compute: Compute | None = None,
) -> SparseTrainResult:
    """Gradual magnitude pruning during ``steps`` SGD steps (see the module docstring).

    Parameters
    ----------
    spec, data : as :func:`.sparse_train.sparse_train`.
    final_sparsity, initial_sparsity : s_f and s_i, ``0 ≤ s_i ≤ s_f < 1``, over the pruned layers.
    steps : the training budget, in [1, 2^53].
    start_step, end_step, frequency : t₀, t_end (default ``⌊3·steps/4⌋``) and Δt ≥ 1, with
        ``0 ≤ t₀ ≤ t_end < steps``; pruning at ``t₀, t₀ + Δt, …`` and at ``t_end``.
    power : exponent of the schedule (3 = cubic), in (0, 100].
    scope : ``"layer"`` or ``"global"``; layers : None (all) or the layer indices to prune.
    optimizer, batch_size : as :func:`simulations.nn.train`.
    seed : int / SeedSequence / Generator; children ``"init"`` (θ₀ unless ``params``) and
        ``"train"`` (the data order of :func:`.sparse_train.sparse_train`).
    params : θ₀ (default: ``init_params(spec, child(seed, "init"))``).
    compute : a :class:`Compute` to fill.

    Returns the :class:`.sparse_train.SparseTrainResult`; each history entry also holds the
    scheduled ``target`` sparsity of the pruned layers.
    """
    if not isinstance(spec, (MLPSpec, ModelSpec)):
        raise TypeError(f"spec must be an MLPSpec or a ModelSpec, got {type(spec).__name__}")
    T = check_int("steps", steps, 1, STEP_MAX)
    sf = check_real("final_sparsity", final_sparsity, 0.0, 1.0, high_open=True)
    si = check_real("initial_sparsity", initial_sparsity, 0.0, sf)
    t0 = check_int("start_step", start_step, 0, T - 1)
    t1 = (3 * T) // 4 if end_step is None else check_int("end_step", end_step, 0, T - 1)
    if t1 < t0:
        raise ValueError(f"end_step must be in [start_step, steps − 1] = [{t0}, {T - 1}], got {t1}")
    dt = check_int("frequency", frequency, 1, STEP_MAX)
    p = check_real("power", power, 0.0, 100.0, low_open=True)
    check_choice("scope", scope, ("global", "layer"))
    L = spec.n_layers
    pruned = list(range(L)) if layers is None else check_layers("layers", layers, L)
    if not pruned:
        raise ValueError("layers must name at least one layer to prune")
    if params is not None and not isinstance(params, Params):
        raise TypeError(f"params must be a Params or None, got {type(params).__name__}")
    ss = seed_sequence(seed)
    theta0 = params.copy() if params is not None else init_params(spec, child(ss, "init"))
    at = pruning_steps(t0, t1, dt)

    def update(step, cur, velocity, masks, grad_fn):
        target = polynomial_sparsity(step, final_sparsity=sf, initial_sparsity=si, start_step=t0, end_step=t1,
                                     power=p)
        n_remove = removal_counts(masks, target, pruned, scope)
        scores = [np.abs(np.asarray(cur.weights[i], dtype=np.float64)) for i in range(L)]
        new = prune_step(scores, masks, n_remove, scope, pruned)
        return MaskUpdate(new, info={"target": target})

    return sparse_train(spec, data, update, steps=T, update_at=at, params=theta0, optimizer=optimizer,
                        batch_size=batch_size, seed=child(ss, "train"), eval_every=eval_every, threads=threads,
                        compute=compute)
