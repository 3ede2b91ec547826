"""Dynamic sparse training at a fixed parameter count: SET and RigL.

Both start from a random mask with per-layer densities from :mod:`.distributions` and, every
``ΔT`` steps until ``T_end = end_fraction · steps``, replace in every sparse layer ``l`` the
``k_l = ⌊f(t) · nnz_l⌋`` active weights of smallest magnitude ``|θ|`` (drop) by ``k_l``
inactive positions (grow), so each layer keeps its count ``nnz_l``:

* **SET** (Mocanu, Mocanu, Stone, Nguyen, Gibescu & Liotta, Nat. Commun. 9, 2383, 2018,
  "Scalable training of artificial neural networks with adaptive sparse connectivity inspired by
  network science"): grow uniformly at random; ``f(t) = ζ`` constant (ζ = 0.3 in the paper);
  Erdős–Rényi initial densities. The paper drops the ζ smallest positive and ζ largest
  negative weights; here, as in Evci et al.'s SET baseline, the ``ζ·nnz`` smallest ``|θ|``.
* **RigL** (Evci, Gale, Menick, Castro & Elsen, ICML 2020, "Rigging the lottery: making all
  tickets winners", Alg. 1): grow the inactive positions with the largest ``|∂L_B/∂θ|`` of the
  dense gradient of a minibatch at the current masked θ; ``f(t) = α/2 (1 + cos(π t/T_end))``
  (α = 0.3, eq. 1), ``ΔT = 100``, ``T_end = 0.75 · steps``, Erdős–Rényi-kernel densities.

The candidates for growth are all positions inactive after the drop, the just-dropped ones
included (the authors' ``rigl/sparse_optimizers.py``, ``_get_update_op``); a newly active
weight starts at 0 with zero momentum, and a weight dropped and regrown in the same update
keeps its value and momentum (there, ``new_connections`` excludes it). Ties are broken by
position (the authors add N(0, 10⁻⁵) noise to the drop scores instead). Updates happen between
SGD steps on :func:`.sparse_train.sparse_train`; the gradient is that of the minibatch the next
step trains on, and every step (update steps included) applies its SGD update (the authors'
RigL skips the optimizer step at an update iteration). Layers at density 1 (``dense_layers``,
or made dense by the Erdős–Rényi rescaling) are not updated.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulations._core.seeding import child, generator, seed_sequence
from simulations._core.validation import check_array, check_bool, check_choice, check_int, check_real
from simulations.nn.model import MLPSpec, Params, init_params
from simulations.nn.model_spec import ModelSpec
from simulations.pruning.algorithms.compute import Compute
from simulations.pruning.algorithms.distributions import DISTRIBUTIONS, layer_densities, random_masks
from simulations.pruning.algorithms.schedules import ANNEALS, STEP_MAX, drop_fraction_at
from simulations.pruning.algorithms.sparse_init import sparse_fan_in_init
from simulations.pruning.algorithms.sparse_train import UPDATES_MAX, MaskUpdate, SparseTrainResult, sparse_train
from simulations.pruning.masks import check_layers, check_mask_list

__all__ = ["set_train", "rigl_train", "drop_grow", "GROWTHS"]

#: growth criteria of :func:`drop_grow`
GROWTHS = ("random", "gradient")


def drop_grow(weights: np.ndarray, mask: np.ndarray, k: int, grow_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One layer's drop-and-grow: ``(new mask, grown positions newly active)``.

    Drops the ``k`` active entries of ``mask`` with the smallest ``|weights|`` and activates the
    ``k`` entries inactive after the drop with the largest ``grow_scores`` (ties by position).
    ``weights``, ``grow_scores``: finite real arrays of ``mask``'s shape; ``k`` in [0, nnz].
    """
    mask = check_mask_list([mask], "mask")[0]
    w = check_array("weights", weights).astype(np.float64, copy=False)
    g = check_array("grow_scores", grow_scores).astype(np.float64, copy=False)
    if w.shape != mask.shape:
        raise ValueError(f"weights must have the mask's shape {mask.shape}, got {w.shape}")
    if g.shape != mask.shape:
        raise ValueError(f"grow_scores must have the mask's shape {mask.shape}, got {g.shape}")
    nnz = int(np.count_nonzero(mask))
    k = check_int("k", k, 0, nnz)
    flat = mask.ravel()
    active = np.flatnonzero(flat)
    drop = active[np.argsort(np.abs(w.ravel()[active]), kind="stable")[:k]]
    after = flat.copy()
    after[drop] = False
    inactive = np.flatnonzero(~after)
    grow = inactive[np.argsort(-g.ravel()[inactive], kind="stable")[:k]]
    new = after.copy()
    new[grow] = True
    born = new & ~flat
    return new.reshape(mask.shape), born.reshape(mask.shape)


def _dynamic(spec, data, *, growth, sparsity, steps, drop_fraction, update_every, end_fraction, anneal,
             distribution, dense_layers, sparse_init, optimizer, batch_size, seed, params, eval_every, threads,
             compute, name) -> SparseTrainResult:
    if not isinstance(spec, (MLPSpec, ModelSpec)):
        raise TypeError(f"spec must be an MLPSpec or a ModelSpec, got {type(spec).__name__}")
    T = check_int("steps", steps, 1, STEP_MAX)
    s = check_real("sparsity", sparsity, 0.0, 1.0, high_open=True)
    a = check_real("drop_fraction", drop_fraction, 0.0, 1.0)
    dT = check_int("update_every", update_every, 1, STEP_MAX)
    ef = check_real("end_fraction", end_fraction, 0.0, 1.0, low_open=True)
    check_choice("anneal", anneal, ANNEALS)
    check_choice("distribution", distribution, DISTRIBUTIONS)
    sparse_init = check_bool("sparse_init", sparse_init)
    L = spec.n_layers
    dense = check_layers("dense_layers", dense_layers, L)
    if params is not None and not isinstance(params, Params):
        raise TypeError(f"params must be a Params or None, got {type(params).__name__}")
    shapes = spec.weight_shapes
    dens = layer_densities(shapes, 1.0 - s, method=distribution, dense_layers=dense)
    ss = seed_sequence(seed)
    masks0 = random_masks(shapes, dens, child(ss, "mask"))
    theta0 = params.copy() if params is not None else init_params(spec, child(ss, "init"))
    if sparse_init:
        theta0 = sparse_fan_in_init(theta0, masks0)
    t_end = max(1, int(math.floor(ef * T)))
    if (min(T, t_end) - 1) // dT > UPDATES_MAX:  # before listing them (a huge budget would exhaust memory)
        raise ValueError(f"update_every must leave at most {UPDATES_MAX} mask updates before step {t_end}, got {dT}")
    at = [t for t in range(dT, T, dT) if t < t_end]
    sparse_layers = [i for i in range(L) if not masks0[i].all()]

    def update(step, cur, velocity, masks, grad_fn):
        f = drop_fraction_at(step, drop_fraction=a, end_step=t_end, anneal=anneal)
        grads = grad_fn() if growth == "gradient" else None
        rng = generator(ss, "grow", step)
        new = [m.copy() for m in masks]
        ks = [0] * L
        for i in sparse_layers:
            k = int(math.floor(f * int(np.count_nonzero(masks[i]))))
            score = np.abs(grads[i]) if grads is not None else rng.random(masks[i].shape)
            new[i], _ = drop_grow(cur.weights[i], masks[i], k, score)
            ks[i] = k
        return MaskUpdate(new, n_dropped=ks, n_grown=list(ks), info={"drop_fraction": f})

    out = sparse_train(spec, data, update, steps=T, update_at=at, masks=masks0, params=theta0, optimizer=optimizer,
                       batch_size=batch_size, seed=child(ss, "train"), eval_every=eval_every, threads=threads,
                       compute=compute)
    out.config.update(method=name, sparsity=s, drop_fraction=a, update_every=dT, end_step=t_end, anneal=anneal,
                      distribution=distribution, dense_layers=dense, densities=dens, sparse_init=sparse_init)
    return out


def set_train(spec: MLPSpec, data, *, sparsity: float = 0.9, steps: int, drop_fraction: float = 0.3,
              update_every: int = 100, end_fraction: float = 1.0, anneal: str = "constant",
              distribution: str = "er", dense_layers=None, sparse_init: bool = False, optimizer=None,
              batch_size: int = 128, seed: Any = 0,
              params: Params | None = None, eval_every: int | None = None, threads: int | None = None,
              compute: Compute | None = None) -> SparseTrainResult:
    """Sparse evolutionary training (SET; module docstring): random regrowth.

    ``sparsity`` in [0, 1): the global weight sparsity (fixed throughout); ``steps`` ≥ 1;
    ``drop_fraction`` = ζ in [0, 1]; ``update_every`` = ΔT ≥ 1 (updates at ΔT, 2ΔT, … < T_end);
    ``end_fraction`` in (0, 1]: T_end = ⌊end_fraction·steps⌋; ``anneal``: one of
    :data:`.schedules.ANNEALS`; ``distribution``: one of :data:`.distributions.DISTRIBUTIONS`;
    ``dense_layers``: layer indices kept dense (counted in the budget); ``sparse_init``: rescale θ₀
    unit by unit to its fan-in under the initial mask (:mod:`.sparse_init`, Evci et al. 2022) before
    training — the default trains from the masked dense θ₀ as the papers do. ``seed``: children
    ``"mask"`` (initial mask), ``"init"`` (θ₀ unless ``params``), ``"train"`` (data order),
    ``("grow", t)`` (regrowth at step t).
    """
    return _dynamic(spec, data, growth="random", sparsity=sparsity, steps=steps, drop_fraction=drop_fraction,
                    update_every=update_every, end_fraction=end_fraction, anneal=anneal, distribution=distribution,
                    dense_layers=dense_layers, sparse_init=sparse_init, optimizer=optimizer, batch_size=batch_size,
                    seed=seed, params=params, eval_every=eval_every, threads=threads, compute=compute, name="set")


def rigl_train(spec: MLPSpec, data, *, sparsity: float = 0.9, steps: int, drop_fraction: float = 0.3,
               update_every: int = 100, end_fraction: float = 0.75, anneal: str = "cosine",
               distribution: str = "erk", dense_layers=None, sparse_init: bool = False, optimizer=None,
               batch_size: int = 128, seed: Any = 0,
               params: Params | None = None, eval_every: int | None = None, threads: int | None = None,
               compute: Compute | None = None) -> SparseTrainResult:
    """RigL (module docstring): regrowth by the largest dense-gradient magnitudes.

    Arguments as :func:`set_train`; defaults of Evci et al. (α = 0.3 cosine-annealed, ΔT = 100,
    T_end = 0.75·steps, ERK). Each update spends one dense-gradient pass on a minibatch
    (counted in ``compute.parts["dense_grad"]``).
    """
    return _dynamic(spec, data, growth="gradient", sparsity=sparsity, steps=steps, drop_fraction=drop_fraction,
                    update_every=update_every, end_fraction=end_fraction, anneal=anneal, distribution=distribution,
                    dense_layers=dense_layers, sparse_init=sparse_init, optimizer=optimizer, batch_size=batch_size,
                    seed=seed, params=params, eval_every=eval_every, threads=threads, compute=compute, name="rigl")
