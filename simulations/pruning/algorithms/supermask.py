"""Supermasks: masks learned over frozen weights (edge-popup top-k, or Bernoulli masks), straight-through.

The weights θ never change; each weight has a real score s, a mask m(s) ∈ {0, 1} is drawn from
the scores at every step, and the network computes with the effective weights ``W ⊙ m``.

* ``sampling="topk"`` — edge-popup (Ramanujan, Wortsman, Kembhavi, Farhadi & Rastegari, CVPR
  2020, "What's hidden in a randomly weighted neural network?", §3): in each layer l keep the
  ``k_l = n_l − ⌊s·n_l⌋`` entries of largest ``|s|`` (exact per-layer sparsity s; ties: the
  lower flat index). Straight-through estimator: the top-k is treated as the identity in the
  backward pass, so with ``g_W = ∂L/∂W̃`` at ``W̃ = W ⊙ m``

      ∂L/∂s ≈ (g_W ⊙ W) ⊙ sign(s),

  ``g_W ⊙ W`` being the exact gradient of the surrogate ``u ↦ L(W ⊙ u)`` at ``u = m``
  (the "pre-threshold" scores), and sign(s) the derivative of ``|s|``, the quantity ranked
  (Ramanujan et al.'s code ranks ``scores.abs()`` and differentiates through the absolute
  value; without the sign, a negative score of a useful weight would be pushed out).
* ``sampling="bernoulli"`` — Zhou, Lan, Liu & Yosinski (NeurIPS 2019, "Deconstructing lottery
  tickets: zeros, signs, and the supermask", §5): ``m ~ Bernoulli(σ(s))`` afresh at every step;
  the straight-through estimator passes the gradient through the sample (∂m/∂σ(s) := 1) and
  the sigmoid: ``∂L/∂s ≈ g_W ⊙ W ⊙ σ(s)(1 − σ(s))``. The sparsity is learned; ``sparsity``
  only sets the initial keep probability ``σ(s₀) ≈ 1 − sparsity``. The returned masks are one
  Bernoulli draw from the final scores.

Weights: ``weight_init="init"`` keeps θ₀; ``"signed_constant"`` (Zhou et al. §5; Ramanujan et
al. §4, "signed Kaiming constant") replaces each weight by ``sign(θ₀)·σ_l``, σ_l the standard
deviation of layer l's initialisation distribution (:func:`init_std`, from ``spec.init``). The
biases are frozen at θ₀'s values and never masked (in both papers the networks are bias-free or
the biases are not learned; here they stay as initialised).

Training (Python loop, one dense gradient per minibatch from ``get_backend("cpu").gradient``):
minibatches of ``batch_size`` rows from a fresh permutation every epoch (child ``"shuffle"`` of
``seed``), scores initialised ``U(−1/√fan_in, 1/√fan_in)`` (the Kaiming-uniform initialisation
of the scores in Ramanujan et al.'s code; child ``"scores"``), shifted by ``logit(1 − sparsity)``
for Bernoulli masks, and SGD with momentum on the scores, PyTorch semantics:
``v ← μv + ∂L/∂s + λs``, ``s ← s − ηv`` at a constant rate η. Compute (:class:`~.compute.Compute`):
each step is a sparse forward and backward-through-activations pass (``2·B·f(m)``) plus the
dense weight gradient (``B·f(dense)``), the count of a dense-gradient step of Evci et al. 2020.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulations._core.seeding import generator
from simulations._core.validation import check_array, check_choice, check_int, check_real
from simulations.pruning.algorithms.base import check_params
from simulations.pruning.masks import check_layers, check_ratio

__all__ = ["SAMPLINGS", "WEIGHT_INITS", "STEPS_MAX", "SupermaskResult", "init_std", "signed_constant",
           "topk_masks", "score_gradient", "supermask_train"]

SAMPLINGS = ("topk", "bernoulli")
WEIGHT_INITS = ("signed_constant", "init")
#: most training steps of one :func:`supermask_train` call
STEPS_MAX = 10**7


@dataclass
class SupermaskResult:
    """A trained supermask: effective ``params`` (= ``weights`` ⊙ ``masks``), the frozen ``weights``, the scores."""

    params: Any
    masks: list
    scores: list
    weights: Any
    history: list = field(default_factory=list)
    test_acc: float | None = None
    compute: Any = None
    config: dict = field(default_factory=dict)


def _check_spec(spec):
    from simulations.nn import MLPSpec

    if not isinstance(spec, MLPSpec):
        raise TypeError(f"spec must be an MLPSpec, got {type(spec).__name__}")
    return spec


def init_std(spec: Any, layer: int) -> float:
    """Standard deviation of the weights of ``layer`` under ``spec.init`` (see :mod:`simulations.nn.model`).

    ``U(−a, a)`` has std ``a/√3``: kaiming_uniform_torch ``1/√(3·fan_in)``, kaiming_uniform
    ``√(2/fan_in)``, xavier ``√(2/(fan_in+fan_out))``; normal laws: kaiming_normal ``√(2/fan_in)``,
    xavier_normal ``√(2/(fan_in+fan_out))``, normal ``1/√fan_in``.
    """
    spec = _check_spec(spec)
    L = spec.n_layers
    layer = check_int("layer", layer, -L, L - 1) % L
    fo, fi = spec.weight_shapes[layer]
    return {
        "kaiming_uniform_torch": 1.0 / math.sqrt(3.0 * fi),
        "kaiming_normal": math.sqrt(2.0 / fi),
        "kaiming_uniform": math.sqrt(2.0 / fi),
        "xavier": math.sqrt(2.0 / (fi + fo)),
        "xavier_normal": math.sqrt(2.0 / (fi + fo)),
        "normal": 1.0 / math.sqrt(fi),
    }[spec.init]


def signed_constant(params: Any) -> Any:
    """A copy of ``params`` with every weight replaced by ``sign(θ)·σ_l`` (:func:`init_std`); biases kept.

    A weight exactly 0 gets ``+σ_l`` (sign taken as +1).
    """
    out = check_params(params).copy()
    for l, w in enumerate(out.weights):
        w[...] = np.where(w < 0, -1.0, 1.0) * init_std(params.spec, l)
    return out


def _topk_layer(s: np.ndarray, k: int) -> np.ndarray:
    """Boolean: the k entries of largest |s| (ties: the lower flat index)."""
    a = np.abs(s).ravel()
    n = a.size
    keep = np.zeros(n, dtype=bool)
    if k <= 0:
        return keep.reshape(s.shape)
    if k >= n:
        return np.ones(s.shape, dtype=bool)
    v = np.partition(a, n - k)[n - k]
    keep = a > v
    need = k - int(keep.sum())
    if need > 0:
        keep[np.flatnonzero(a == v)[:need]] = True
    return keep.reshape(s.shape)


def topk_masks(scores: Any, sparsity: float, layers: Any = None) -> list[np.ndarray]:
    """Per-layer top-k masks: in each layer of ``layers`` (None = all) keep the ``n_l − ⌊s·n_l⌋`` largest ``|score|``.

    ``scores``: a list of finite 2-D arrays (one per weight matrix); ``sparsity`` in [0, 1);
    layers not listed get all-True masks. Ties: the lower flat index is kept.
    """
    if isinstance(scores, np.ndarray) or not isinstance(scores, (list, tuple)) or not scores:
        raise TypeError("scores must be a non-empty list of 2-D arrays (one per weight matrix)")
    sc = [check_array(f"scores[{i}]", s, ndim=2, min_size=1) for i, s in enumerate(scores)]
    s = check_ratio(sparsity, "sparsity")
    L = len(sc)
    chosen = list(range(L)) if layers is None else check_layers("layers", layers, L)
    return [_topk_layer(a, a.size - int(math.floor(s * a.size + 1e-9))) if i in chosen else np.ones(a.shape, bool)
            for i, a in enumerate(sc)]


class _Layout:
    """Flat indices of the weights of each layer in the params layout, and their shapes."""

    def __init__(self, spec):
        self.spec = spec
        off = spec.offsets
        self.slices = [slice(int(off[l, 0]), int(off[l, 1])) for l in range(spec.n_layers)]
        self.shapes = spec.weight_shapes


def _grad_scores(backend, lay, base, mask_flat, scores, sampling, X, y):
    """(loss, [∂L/∂s_l]) at effective weights base ⊙ mask (``scores``: None, or the scores of every layer)."""
    loss, g = backend.gradient(lay.spec, base * mask_flat, X, y)
    out = []
    for l, sl in enumerate(lay.slices):
        gs = (g[sl] * base[sl]).astype(np.float64).reshape(lay.shapes[l])
        if sampling == "bernoulli":
            p = _sigmoid(scores[l])
            gs = gs * p * (1.0 - p)
        elif scores is not None:
            gs = gs * np.where(scores[l] < 0, -1.0, 1.0)
        out.append(gs)
    return loss, out


def score_gradient(params: Any, masks: Any, X: Any, y: Any, scores: Any = None, sampling: str = "topk"
                   ) -> tuple[float, list[np.ndarray]]:
    """Straight-through score gradient at the mask ``masks`` over the frozen weights ``params``.

    Returns ``(mean loss at W ⊙ m, [∂L/∂s per layer])`` with ``g_W = ∂L/∂W̃`` at ``W̃ = W ⊙ m``:
    ``sampling="topk"``: ``g_W ⊙ W`` (``scores=None``) or, given the scores, ``g_W ⊙ W ⊙ sign(s)``
    (the top-k ranks ``|s|``; Ramanujan et al.'s code differentiates through the absolute value);
    ``"bernoulli"``: ``g_W ⊙ W ⊙ σ(s)(1 − σ(s))`` (scores required). ``masks``: one boolean array
    per weight matrix; ``scores``: None or one finite array per weight matrix of its shape;
    ``X`` (n, d_0), ``y`` (n,) labels. Biases are not masked.
    """
    from simulations.nn import get_backend
    from simulations.nn.data import check_labels
    from simulations.pruning.masks import check_mask_list

    spec = check_params(params).spec
    masks = check_mask_list(masks, shapes=spec.weight_shapes)
    X, y = _check_xy(spec, X, y, check_labels)
    check_choice("sampling", sampling, SAMPLINGS)
    sc = None
    if scores is not None:
        if isinstance(scores, np.ndarray) or not isinstance(scores, (list, tuple)) or len(scores) != spec.n_layers:
            raise TypeError(f"scores must be None or a list of {spec.n_layers} arrays (one per weight matrix)")
        sc = []
        for i, (s, sh) in enumerate(zip(scores, spec.weight_shapes)):
            a = check_array(f"scores[{i}]", s, ndim=2).astype(np.float64)
            if a.shape != sh:
                raise ValueError(f"scores[{i}] must have shape {sh}, got {a.shape}")
            sc.append(a)
    elif sampling == "bernoulli":
        raise ValueError("scores are required with sampling='bernoulli' (the gradient has the factor σ'(s))")
    lay = _Layout(spec)
    mflat = np.ones(spec.n_params, dtype=spec.np_dtype)
    for sl, m in zip(lay.slices, masks):
        mflat[sl] = m.ravel()
    return _grad_scores(get_backend("cpu"), lay, params.flat.copy(), mflat, sc, sampling, X, y)


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _check_xy(spec, X, y, check_labels):
    X = check_array("X", X, ndim=2, min_size=1)
    if X.shape[1] != spec.sizes[0]:
        raise ValueError(f"X must have {spec.sizes[0]} columns (spec.sizes[0]), got shape {X.shape}")
    y = check_labels("y", y, X.shape[0], spec.n_classes)
    return np.ascontiguousarray(X, dtype=spec.np_dtype), np.ascontiguousarray(y, dtype=np.int32)


def supermask_train(spec: Any, data: Any, *, sparsity: float = 0.5, steps: int = 1000, batch_size: int = 128,
                    lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 0.0,
                    weight_init: str = "signed_constant", sampling: str = "topk", layers: Any = None,
                    eval_every: int | None = None, seed: Any = 0, params: Any = None,
                    compute: Any = None) -> SupermaskResult:
    """Learn a supermask over frozen weights (module docstring); returns a :class:`SupermaskResult`.

    ``spec``: :class:`simulations.nn.MLPSpec`; ``data``: a :class:`simulations.nn.Dataset` or
    ``(X, y[, X_test, y_test])``; ``sparsity`` in [0, 1) (top-k: the exact per-layer sparsity;
    Bernoulli: the initial one); ``steps`` in [1, :data:`STEPS_MAX`]; ``batch_size`` in [1, n];
    ``lr`` > 0 (≤ 1e6); ``momentum`` in [0, 1); ``weight_decay`` ≥ 0 on the scores; ``weight_init``
    in :data:`WEIGHT_INITS`; ``sampling`` in :data:`SAMPLINGS`; ``layers``: None (all) or the
    layers that get masks (the others are dense and frozen too); ``eval_every``: steps between
    history entries (None: ``max(1, steps // 10)``), each ``{step, train_loss (mean of the
    minibatch losses since the last entry), density}``; ``seed``: children ``"init"`` (θ₀ when
    ``params`` is None), ``"scores"``, ``"shuffle"``, ``"bernoulli"``; ``params``: θ₀ (copied);
    ``compute``: None or a :class:`~.compute.Compute` to fill. ``test_acc`` is measured at the
    end when the data has a test set. Deterministic for a given seed.
    """
    from simulations.nn import Params, evaluate, get_backend, init_params
    from simulations.nn.data import check_labels, dataset_parts
    from simulations.pruning.algorithms.compute import Compute

    spec = _check_spec(spec)
    X, y, X_te, y_te = dataset_parts(data)
    X, y = _check_xy(spec, X, y, check_labels)
    if X_te is not None:
        X_te, y_te = _check_xy(spec, X_te, y_te, check_labels)
    n = X.shape[0]
    s = check_ratio(sparsity, "sparsity")
    steps = check_int("steps", steps, 1, STEPS_MAX)
    B = check_int("batch_size", batch_size, 1, n)
    lr = check_real("lr", lr, 0.0, 1e6, low_open=True)
    mu = check_real("momentum", momentum, 0.0, 1.0, high_open=True)
    wd = check_real("weight_decay", weight_decay, 0.0, 1e6)
    check_choice("weight_init", weight_init, WEIGHT_INITS)
    check_choice("sampling", sampling, SAMPLINGS)
    L = spec.n_layers
    chosen = list(range(L)) if layers is None else check_layers("layers", layers, L)
    if not chosen:
        raise ValueError("layers must name at least one layer to mask")
    every = max(1, steps // 10) if eval_every is None else check_int("eval_every", eval_every, 1)
    if compute is not None and not isinstance(compute, Compute):
        raise TypeError(f"compute must be None or a Compute, got {type(compute).__name__}")
    if params is None:
        theta0 = init_params(spec, generator(seed, "init"))
    elif not isinstance(params, Params) or params.spec != spec:
        raise TypeError("params must be None or a simulations.nn.Params of spec")
    else:
        theta0 = params.copy()
    base_p = signed_constant(theta0) if weight_init == "signed_constant" else theta0.copy()
    base = base_p.flat.copy()

    lay = _Layout(spec)
    g_sc = generator(seed, "scores")
    scores, vel = [], []
    shift = 0.0
    if sampling == "bernoulli":
        keep0 = min(max(1.0 - s, 1e-3), 1.0 - 1e-3)
        shift = math.log(keep0 / (1.0 - keep0))
    for l in chosen:
        fo, fi = lay.shapes[l]
        bound = 1.0 / math.sqrt(fi)
        scores.append(g_sc.uniform(-bound, bound, size=(fo, fi)) + shift)
        vel.append(np.zeros((fo, fi)))
    k_keep = {l: lay.shapes[l][0] * lay.shapes[l][1] - int(math.floor(s * lay.shapes[l][0] * lay.shapes[l][1] + 1e-9))
              for l in chosen}
    g_shuffle = generator(seed, "shuffle")
    g_bern = generator(seed, "bernoulli")
    backend = get_backend("cpu")
    mflat = np.ones(spec.n_params, dtype=spec.np_dtype)

    def draw_masks(rng):
        ms, sig = [], []
        for i, l in enumerate(chosen):
            if sampling == "topk":
                m = _topk_layer(scores[i], k_keep[l])
            else:
                p = _sigmoid(scores[i])
                sig.append(p)
                m = rng.random(p.shape) < p
            ms.append(m)
        return ms, (sig if sampling == "bernoulli" else None)

    history = []
    perm = g_shuffle.permutation(n)
    pos = 0
    loss_sum, loss_n = 0.0, 0
    for t in range(steps):
        if pos + B > n:
            perm = g_shuffle.permutation(n)
            pos = 0
        idx = perm[pos:pos + B]
        pos += B
        ms, sig = draw_masks(g_bern)
        for i, l in enumerate(chosen):
            mflat[lay.slices[l]] = ms[i].ravel()
        loss, g = backend.gradient(spec, base * mflat, X[idx], y[idx])
        for i, l in enumerate(chosen):
            sl = lay.slices[l]
            gs = (g[sl] * base[sl]).reshape(lay.shapes[l]).astype(np.float64)
            if sig is not None:
                gs *= sig[i] * (1.0 - sig[i])
            else:
                gs *= np.where(scores[i] < 0, -1.0, 1.0)
            if wd:
                gs += wd * scores[i]
            vel[i] *= mu
            vel[i] += gs
            scores[i] -= lr * vel[i]
        loss_sum += loss
        loss_n += 1
        if (t + 1) % every == 0 or t + 1 == steps:
            dens = sum(int(m.sum()) for m in ms) / sum(m.size for m in ms)
            history.append({"step": t + 1, "train_loss": loss_sum / loss_n, "density": dens})
            loss_sum, loss_n = 0.0, 0
    ms, _ = draw_masks(generator(seed, "final_mask"))
    masks = [np.ones(sh, dtype=bool) for sh in lay.shapes]
    for i, l in enumerate(chosen):
        masks[l] = ms[i]
    eff = base_p.copy()
    for l in range(L):
        eff.weights[l][~masks[l]] = 0.0
    test_acc = None
    if X_te is not None:
        test_acc = float(evaluate(eff, X_te, y_te)[1])
    if compute is not None:
        compute.steps += steps
        compute.examples += steps * B
        compute.passes(lay.shapes, masks, steps * B, forward=2, bias=spec.bias, part="train")
        compute.passes(lay.shapes, None, steps * B, forward=1, bias=False, part="dense_grad")
    all_scores = [np.zeros(sh) for sh in lay.shapes]
    for i, l in enumerate(chosen):
        all_scores[l] = scores[i]
    config = {"sparsity": s, "steps": steps, "batch_size": B, "lr": lr, "momentum": mu, "weight_decay": wd,
              "weight_init": weight_init, "sampling": sampling, "layers": chosen, "eval_every": every}
    return SupermaskResult(eff, masks, all_scores, base_p, history, test_acc, compute, config)
