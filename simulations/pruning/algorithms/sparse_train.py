"""One training driver for methods that change the mask during training (GMP, SET, RigL).

:func:`sparse_train` trains with :func:`simulations.nn.train` in segments that end at the
mask-update steps ``t₁ < t₂ < …`` and calls, at each,

    update(step, params, velocity, masks, grad_fn) -> None | masks | MaskUpdate

``step`` = t is the number of SGD updates done; ``params`` (a :class:`simulations.nn.Params`
copy) and ``velocity`` (a copy of the momentum buffer, empty without momentum) are θ_t and
v_t; ``masks`` the current boolean weight masks (``(out, in)``, True = kept); ``grad_fn()``
returns the dense gradients ``∂L_B/∂W_l`` (one ``(out, in)`` array per layer, pruned positions
included) of the mean loss of the minibatch ``B`` that step ``t`` trains on, at the current
masked θ_t (:meth:`simulations.nn.backends.base.Backend.gradient` on the CPU backend).

Between segments the driver resumes from :attr:`simulations.nn.TrainResult.state`, so the
momentum buffer, the data order (position in the epoch's permutation, the shuffling
generator) and the learning-rate schedule (the global step) continue exactly: with an update
that never changes the mask the result is bit for bit one uninterrupted ``train`` call. When
the mask changes the new mask is applied to θ and v; a newly active weight (grown) starts at
0 with 0 momentum, as in RigL (Evci, Gale, Menick, Castro & Elsen, ICML 2020, §3, and the
authors' ``rigl/sparse_optimizers.py``: ``grow_init="zeros"``, momentum reset); a weight kept
in both masks keeps its value and momentum.

Compute (:class:`Compute`): each segment adds ``3·B·f(m)`` per step at the segment's masks;
each ``grad_fn()`` call adds the dense-gradient pass ``B·(2 f(m) + f_D)`` (forward and
backward of the sparse network plus the dense weight gradient; the per-update cost of Evci
et al., App. H) under the part ``"dense_grad"``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulations._core.seeding import child, generator, seed_sequence
from simulations._core.validation import check_int
from simulations.nn.backends import get_backend
from simulations.nn.data import Dataset
from simulations.nn.model import Mask, MLPSpec, Params, init_params
from simulations.nn.model_backend import backend_for
from simulations.nn.model_spec import ModelSpec
from simulations.nn.optim import SGD
from simulations.nn.train import STEPS_MAX, StopRules, evaluate, train
from simulations.pruning.algorithms.base import full_weight_masks
from simulations.pruning.algorithms.compute import Compute, has_bias, layer_positions
from simulations.pruning.masks import check_mask_list

__all__ = ["MaskUpdate", "SparseTrainResult", "sparse_train", "split_data", "UPDATES_MAX"]

#: largest number of mask updates of one run (each ends a ``train`` segment)
UPDATES_MAX = 100_000


@dataclass
class MaskUpdate:
    """What an update returns when it changes the masks.

    ``masks``: the new boolean masks; ``n_dropped`` / ``n_grown``: per-layer counts the method
    reports (default: the mask difference, ``old ∧ ¬new`` and ``new ∧ ¬old``; RigL and SET
    report their ``k`` even when a dropped weight is regrown at once); ``params``: new θ values
    (None: keep θ), masked by the driver.
    """

    masks: list
    n_dropped: list | None = None
    n_grown: list | None = None
    params: Any = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.masks = check_mask_list(self.masks, "masks")
        for nm in ("n_dropped", "n_grown"):
            v = getattr(self, nm)
            if v is None:
                continue
            if isinstance(v, (str, bytes)) or np.ndim(v) != 1 or len(v) != len(self.masks):
                raise ValueError(f"{nm} must be None or one count per mask ({len(self.masks)}), got {v!r}")
            setattr(self, nm, [check_int(f"{nm}[{i}]", c, 0, m.size) for i, (c, m) in enumerate(zip(v, self.masks))])
        if self.params is not None and not isinstance(self.params, Params):
            raise TypeError(f"params must be a simulations.nn.Params or None, got {type(self.params).__name__}")
        if not isinstance(self.info, dict):
            raise TypeError(f"info must be a dict, got {type(self.info).__name__}")


@dataclass
class SparseTrainResult:
    """Outcome of :func:`sparse_train` (and of GMP, SET, RigL on it).

    ``params``: final θ (masked); ``masks``: final boolean masks; ``history``: one dict per
    update ``{step, sparsity, n_dropped, n_grown, layer_density, layer_dropped, layer_grown,
    ...}``; ``compute``: the :class:`Compute` spent; ``status`` / ``reason``: of the last
    segment (``"completed"`` or ``"diverged"``); ``train``: the last segment's
    :class:`simulations.nn.TrainResult` (its ``history`` spans the run); ``test_loss`` /
    ``test_acc``: on the test split (None without one); ``config``: the settings.
    """

    params: Any
    masks: list
    history: list
    compute: Compute
    status: str
    reason: str
    train: Any
    test_loss: float | None
    test_acc: float | None
    config: dict

    @property
    def sparsity(self) -> float:
        """Fraction of pruned weights over all layers."""
        n = sum(m.size for m in self.masks)
        return 1.0 - sum(int(np.count_nonzero(m)) for m in self.masks) / n


def split_data(data) -> tuple:
    """``(X_train, y_train, X_test, y_test)`` of a :class:`simulations.nn.Dataset` or a 2/4-tuple (test may be None)."""
    if isinstance(data, Dataset):
        return data.X_train, data.y_train, data.X_test, data.y_test
    if isinstance(data, (tuple, list)) and len(data) in (2, 4):
        return (tuple(data) + (None, None))[:4]
    raise TypeError(f"data must be a Dataset or a tuple (X_train, y_train[, X_test, y_test]), got {type(data).__name__}")


def _update_steps(steps: int, update_every, update_at) -> list[int]:
    if update_every is not None and update_at is not None:
        raise ValueError("give update_every or update_at, not both")
    if update_every is not None:
        k = check_int("update_every", update_every, 1, STEPS_MAX)
        if (steps - 1) // k > UPDATES_MAX:
            raise ValueError(f"update_every must leave at most {UPDATES_MAX} updates in {steps} steps, got {k}")
        return list(range(k, steps, k))
    if update_at is None:
        return []
    if isinstance(update_at, (str, bytes)) or np.ndim(update_at) != 1 and not isinstance(update_at, range):
        raise TypeError(f"update_at must be a sequence of steps in [0, steps), got {update_at!r}")
    out = sorted({check_int("update_at", t, 0, steps - 1) for t in update_at})
    if len(out) > UPDATES_MAX:
        raise ValueError(f"update_at must hold at most {UPDATES_MAX} steps, got {len(out)}")
    return out


def _counts(old: list, new: list) -> tuple[list[int], list[int]]:
    drop = [int(np.count_nonzero(o & ~n)) for o, n in zip(old, new)]
    grow = [int(np.count_nonzero(n & ~o)) for o, n in zip(old, new)]
    return drop, grow


def _same_architecture(a, b) -> bool:
    if isinstance(b, MLPSpec):
        return isinstance(a, MLPSpec) and a.sizes == b.sizes and a.bias == b.bias
    return b.same_architecture(a)


def loss_gradient(spec, flat: np.ndarray, X, y) -> tuple[float, np.ndarray]:
    """(mean loss, flat gradient) of ``spec`` at the parameters ``flat`` on a batch, by the CPU training backend
    (an :class:`simulations.nn.MLPSpec`'s or a :class:`simulations.nn.ModelSpec`'s); ``X`` may be flat
    ``(n, features)``, as data sets store images."""
    X = np.ascontiguousarray(np.asarray(X), dtype=spec.np_dtype)
    if isinstance(spec, ModelSpec):
        X = X.reshape((X.shape[0],) + tuple(spec.input_shape))
    return backend_for(spec, get_backend("cpu")).gradient(spec, flat, X, np.ascontiguousarray(y))


def sparse_train(
    spec: MLPSpec,
    data,
    update: Callable,
    *,
    steps: int,
    update_every: int | None = None,
    update_at: Sequence[int] | None = None,
    masks=None,
    params: Params | None = None,
    optimizer: SGD | None = None,
    batch_size: int = 128,
    seed: Any = 0,
    eval_every: int | None = None,
    threads: int | None = None,
    compute: Compute | None = None,
    max_loss: float | None = 1e6,
    max_weight: float | None = 1e6,
) -> SparseTrainResult:
    """Train ``steps`` SGD steps, calling ``update`` at the update steps (see the module docstring).

    Parameters
    ----------
    spec, data : an :class:`simulations.nn.MLPSpec` or :class:`simulations.nn.ModelSpec` (convolutions
        included: a layer's MACs are counted at its output positions, :func:`.compute.layer_positions`) and a :class:`simulations.nn.Dataset` or a
        tuple ``(X_train, y_train[, X_test, y_test])``; segments train on the training split, the
        test split (if any) is evaluated once at the end.
    update : callable ``(step, params, velocity, masks, grad_fn)`` returning None (no change),
        a list of boolean masks or a :class:`MaskUpdate`.
    steps : total SGD steps, in [1, 2^53].
    update_every / update_at : updates at ``k, 2k, … < steps``, or at the listed steps in
        ``[0, steps)`` (step 0: before any training); at most ``UPDATES_MAX`` updates.
    masks : initial boolean weight masks (None: all kept).
    params : θ₀ (default ``init_params(spec, child(seed, "init"))``, as :func:`simulations.nn.train`).
    optimizer, batch_size, seed, eval_every, threads : as :func:`simulations.nn.train` (``seed``
        is passed to every segment; it fixes θ₀ and the data order).
    compute : a :class:`Compute` to fill (default: a new one).
    max_loss, max_weight : the divergence guard of :class:`simulations.nn.StopRules`.
    """
    if not isinstance(spec, (MLPSpec, ModelSpec)):
        raise TypeError(f"spec must be an MLPSpec or a ModelSpec, got {type(spec).__name__}")
    if not callable(update):
        raise TypeError(f"update must be callable (step, params, velocity, masks, grad_fn), got {type(update).__name__}")
    T = check_int("steps", steps, 1, STEPS_MAX)
    ups = _update_steps(T, update_every, update_at)
    if compute is not None and not isinstance(compute, Compute):
        raise TypeError(f"compute must be a Compute or None, got {type(compute).__name__}")
    compute = Compute() if compute is None else compute
    optimizer = SGD(lr=0.1) if optimizer is None else optimizer
    if not isinstance(optimizer, SGD):
        raise TypeError(f"optimizer must be an SGD, got {type(optimizer).__name__}")
    if params is not None and not isinstance(params, Params):
        raise TypeError(f"params must be a Params or None, got {type(params).__name__}")
    if params is not None and not _same_architecture(params.spec, spec):
        raise ValueError(f"params must match the architecture of spec, got params of {params.spec!r}")
    shapes = spec.weight_shapes
    positions = layer_positions(spec)
    bias = has_bias(spec)
    masks = full_weight_masks(shapes) if masks is None else [m.copy() for m in check_mask_list(masks, shapes=shapes)]
    Xtr, ytr, Xte, yte = split_data(data)
    stop_kw = dict(max_loss=max_loss, max_weight=max_weight)
    StopRules(max_steps=T, **stop_kw)  # validates the guard before any work
    ss = seed_sequence(seed)  # once: a Generator seed is consumed here
    common = dict(optimizer=optimizer, batch_size=batch_size, seed=ss, eval_every=eval_every, threads=threads)

    def mask_of(ms):
        return Mask.from_layers(spec, ms)

    state = None
    p0 = None if params is None else params.copy()
    perm0 = None
    t = 0
    history: list[dict] = []
    res = None

    def batch_rows(st) -> np.ndarray:
        nonlocal perm0
        B = int(batch_size)
        if st is None:  # the first epoch's order, as simulations.nn.runner draws it
            if perm0 is None:
                perm0 = generator(ss, "shuffle").permutation(np.shape(Xtr)[0]).astype(np.int64)
            return perm0[:B]
        return st.perm[st.pos * B:(st.pos + 1) * B]

    def do_update(step: int, cur_params: Params, velocity: np.ndarray, st) -> None:
        nonlocal masks
        calls = [0]

        def grad_fn():
            rows = batch_rows(st)
            _, g = loss_gradient(spec, cur_params.flat, np.asarray(Xtr)[rows], np.asarray(ytr)[rows])
            compute.passes(shapes, masks, len(rows), forward=2, bias=bias, part="dense_grad", positions=positions)
            compute.passes(shapes, None, len(rows), forward=1, bias=bias, part="dense_grad", positions=positions)
            calls[0] += 1
            gp = Params(spec, g)
            return [np.array(gp.weights[i], copy=True) for i in range(spec.n_layers)]

        out = update(step, cur_params.copy(), np.array(velocity, copy=True), [m.copy() for m in masks], grad_fn)
        if out is None:
            return
        if isinstance(out, MaskUpdate):
            new, new_params = out.masks, out.params
        else:
            new, new_params, out = out, None, MaskUpdate(out)
        new = check_mask_list(new, "update's masks", shapes=shapes)
        drop, grow = _counts(masks, new)
        if new_params is not None:
            if not isinstance(new_params, Params) or not _same_architecture(new_params.spec, spec):
                raise TypeError("update's MaskUpdate.params must be a Params of the run's architecture")
            cur_params.flat[...] = new_params.flat
        vel = Params(spec, velocity) if velocity.size else None
        for i in range(spec.n_layers):
            born = new[i] & ~masks[i]
            if new_params is None:
                cur_params.weights[i][born] = 0
            if vel is not None:
                vel.weights[i][born] = 0
        mask_of(new).apply(cur_params)
        if vel is not None:
            mask_of(new).apply(vel)
        masks = [m.copy() for m in new]
        kept = [int(np.count_nonzero(m)) for m in masks]
        n_all = sum(m.size for m in masks)
        rd = drop if out.n_dropped is None else [int(v) for v in out.n_dropped]
        rg = grow if out.n_grown is None else [int(v) for v in out.n_grown]
        entry = {"step": step, "sparsity": 1.0 - sum(kept) / n_all, "n_dropped": sum(rd), "n_grown": sum(rg),
                 "layer_density": [k / m.size for k, m in zip(kept, masks)], "layer_dropped": rd,
                 "layer_grown": rg, "grad_passes": calls[0]}
        entry.update(out.info)
        history.append(entry)

    if ups and ups[0] == 0:
        p0 = init_params(spec, child(ss, "init")) if p0 is None else p0
        mask_of(masks).apply(p0)
        do_update(0, p0, np.zeros(0, dtype=spec.np_dtype), None)
    ends = [u for u in ups if u > 0] + [T]
    for end in ends:
        res = train(spec, (Xtr, ytr), params=p0 if state is None else None, mask=mask_of(masks),
                    stop=StopRules(max_steps=end, **stop_kw), resume=state, **common)
        compute.train(shapes, masks, int(batch_size), res.steps - t, bias, positions=positions)
        t = res.steps
        state = res.state
        if res.status != "completed" or end == T:
            break
        do_update(t, state.params, state.velocity, state)
    final = res.params
    mask_of(masks).apply(final)
    test_loss = test_acc = None
    if Xte is not None and yte is not None and np.shape(Xte)[0] > 0:
        test_loss, test_acc = (float(v) for v in evaluate(final, Xte, yte, threads=threads))
    cfg = dict(steps=T, update_steps=ups, batch_size=int(batch_size), optimizer=optimizer.to_dict())
    return SparseTrainResult(final, masks, history, compute, res.status, res.reason, res, test_loss, test_acc, cfg)

