"""Pruning at initialisation: SNIP, GraSP and SynFlow scores, and SynFlow's iterative schedule.

Every score is one float64 array per weight matrix (larger = kept), computed on the effective
weights ``θ = W ⊙ M`` of the current masks with :mod:`.autodiff`; :meth:`ScoreBased.prune`
then removes the lowest-scoring survivors. ``g`` is the gradient of the mean loss of the batch.

* **SNIP** (Lee, Ajanthan & Torr, ICLR 2019, "SNIP: single-shot network pruning based on
  connection sensitivity", eq. 6): the connection sensitivity ``s_j = |g_j θ_j| / Σ_k |g_k θ_k|``
  (= |∂ℓ/∂c_j| at the mask c = 1, normalised over all weight matrices; the normalisation is a
  positive constant and does not change the ranking). Data: ``(X, y)``, or a list of such batches,
  whose per-batch gradients are summed (as in the authors' and Tanaka et al.'s code).
* **GraSP** (Wang, Zhang & Grosse, ICLR 2020, "Picking winning tickets before training by
  preserving gradient flow", eq. 8): ``S(−θ) = −θ ⊙ H g``, ``H`` the Hessian of the loss; the
  weights with the HIGHEST ``S`` are removed (the authors' ``pruner/GraSP.py`` removes the top
  ``−θ ⊙ Hg``), so the kept score here is ``θ ⊙ H g`` and the lowest are removed. ``H g`` is exact
  (:func:`.autodiff.hvp`, biases held fixed), with ``g`` and ``H`` on the same data (summed over
  a list of batches, as the authors do over their two half-batches); with masks, ``g`` is
  restricted to the kept weights (``H (g ⊙ M)``, the gradient flow of the subnetwork). The logits
  are divided by a ``temperature`` T (the authors' code uses T = 200; T = 1 is eq. 8 as printed),
  i.e. the loss is ``ℓ(z_L / T)``. The authors' re-initialisation of linear layers (Xavier) and
  class-balanced sampling are left to the caller: the given parameters and batch are used.
* **SynFlow** (Tanaka, Kunin, Yamins & Ganguli, NeurIPS 2020, "Pruning neural networks without
  any data by iteratively conserving synaptic flow", eq. 2 and Alg. 1): data-free. With all
  parameters replaced by their absolute values and the all-ones input, the network is linearised
  (the authors' ``linearize`` takes ``|·|`` of every entry of the state dict, biases included, and
  for a ReLU net on non-negative inputs the ReLUs are the identity):

      a_0 = 1,   a_l = |θ_l| a_{l-1} + |b_l|,   R = 1ᵀ a_L,

  and the score is ``|θ ⊙ ∂R/∂θ|``, i.e. ``(|θ_l| ⊙ (γ_l a_{l-1}ᵀ))`` with ``γ_L = 1``,
  ``γ_{l-1} = |θ_l|ᵀ γ_l``. The same linear network is used for every activation (the paper's
  ``R = 1ᵀ ∏_l |θ_l| 1`` for a bias-free net; exactly the authors' computation for ReLU).
  Bias-free, the per-layer score sums all equal R (Tanaka et al., Thm. 2, layer-wise
  conservation). Computed in float64 with every ``a_l`` and ``γ_l`` rescaled to max 1 and its log
  scale carried, so deep or wide nets do not overflow; the scores are exact when representable,
  and otherwise all multiplied by one common factor (the largest becomes 1), which leaves the
  ranking unchanged (:func:`synflow_scores` returns the factor's log).
  :func:`synflow_prune` is Alg. 1: ``iterations`` rounds, the cumulative sparsity after round k
  being ``s_k = 1 − (1 − s)^{k/n}`` (the density ``(1 − s)^{k/n}``, the exponential schedule),
  rescoring after every round.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations._core.validation import check_choice, check_int, check_positive
from simulations.nn.model import MLPSpec
from simulations.pruning.algorithms import autodiff
from simulations.pruning.algorithms.base import ScoreBased, full_weight_masks, removal_counts
from simulations.pruning.algorithms.base import check_params as _params
from simulations.pruning.algorithms.compute import Compute, has_bias, layer_positions
from simulations.pruning.iterative import prune_step
from simulations.pruning.masks import check_layers, check_mask_list, check_ratio

__all__ = ["SNIP", "GraSP", "SynFlow", "synflow_scores", "synflow_prune", "ITERATIONS_MAX"]

#: most rounds of :func:`synflow_prune` (each is one forward and backward pass of one example)
ITERATIONS_MAX = 10_000
#: float64 exponents kept below this when the SynFlow scores are rescaled (e^709 is the largest)
_LOG_SAFE = 700.0




def _masks(params, masks: Any) -> list[np.ndarray]:
    shapes = params.spec.weight_shapes
    return full_weight_masks(shapes) if masks is None else check_mask_list(masks, "masks", shapes=shapes)


def _compute(compute: Any) -> Compute | None:
    if compute is not None and not isinstance(compute, Compute):
        raise TypeError(f"compute must be None or a Compute, got {type(compute).__name__}")
    return compute


def _batches(name: str, data: Any) -> list[tuple]:
    """``(X, y)`` or a non-empty list of ``(X, y)`` batches (the arrays are checked by autodiff)."""
    if data is None:
        raise ValueError(f"{name} scores need data=(X, y) (or a list of (X, y) batches), got None")
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        return [data]
    if isinstance(data, (list, tuple)) and data and all(isinstance(b, tuple) and len(b) == 2 for b in data):
        return list(data)
    raise TypeError(f"data must be a tuple (X, y) or a non-empty list of (X, y) tuples, got {type(data).__name__}")


def _n_examples(batches) -> int:
    return sum(int(np.shape(X)[0]) for X, _ in batches)


class _Scorer(ScoreBased):
    """Shared constructor: ``scope`` and an optional :class:`Compute` filled by every :meth:`scores`."""

    def __init__(self, scope: str = "global", compute: Compute | None = None):
        super().__init__(scope)
        self.compute = _compute(compute)

    def _count(self, compute, params, masks, n, **passes) -> None:
        c = self.compute if compute is None else _compute(compute)
        if c is not None:
            spec = params.spec
            c.passes(spec.weight_shapes, masks, n, bias=has_bias(spec), positions=layer_positions(spec), **passes)


def _effective_gradients(params, X, y, masks) -> list[np.ndarray]:
    """∂ℓ/∂W̃_l of the mean loss on (X, y) at the effective weights W̃ = W ⊙ M (float64, one array per weight
    tensor): :func:`.autodiff.gradients` for an MLP; for a convolutional :class:`simulations.nn.ModelSpec`
    the training backend's gradient, taken at the masked parameters (the derivative with respect to W̃ at
    W̃ is the derivative with respect to W there)."""
    from simulations.nn import Params

    if isinstance(params.spec, MLPSpec):
        return autodiff.gradients(params, X, y, masks)[1]
    from simulations.pruning.algorithms.sparse_train import loss_gradient

    eff = params.copy()
    for w, m in zip(eff.weights, masks):
        w[~m] = 0
    _, g = loss_gradient(params.spec, eff.flat, X, y)
    return [np.array(w, dtype=np.float64) for w in Params(params.spec, g).weights]


class SNIP(_Scorer):
    """SNIP connection sensitivity ``|g ⊙ θ| / Σ|g ⊙ θ|`` (Lee et al. 2019, eq. 6); see the module docstring.

    ``scope``: ``"global"`` (the paper) or ``"layer"``; ``compute``: None or a :class:`Compute`
    that every :meth:`scores` call fills (one forward and one backward pass over the data).
    """

    name = "snip"
    needs_data = True

    def scores(self, params, data, masks=None, *, compute: Compute | None = None) -> list[np.ndarray]:
        """SNIP scores on ``data`` = ``(X, y)`` or a list of batches; ``compute`` overrides ``self.compute``."""
        params = _params(params)
        masks = _masks(params, masks)
        batches = _batches("SNIP", data)
        g = None
        for X, y in batches:
            dW = _effective_gradients(params, X, y, masks)
            g = dW if g is None else [a + b for a, b in zip(g, dW)]
        s = [np.abs(gl * np.where(m, np.asarray(w, dtype=np.float64), 0.0))
             for gl, w, m in zip(g, params.weights, masks)]
        total = float(sum(a.sum() for a in s))
        if total > 0.0 and math.isfinite(total):
            s = [a / total for a in s]
        self._count(compute, params, masks, _n_examples(batches), forward=1, backward=1)
        return s


class GraSP(_Scorer):
    """GraSP kept score ``θ ⊙ H g`` (the negative of Wang et al.'s eq. 8 removal score); see the module docstring.

    ``temperature``: T > 0 dividing the logits (200 in the authors' code); ``scope`` and
    ``compute`` as for :class:`SNIP` (one gradient pass and one Hessian-vector product).
    """

    name = "grasp"
    needs_data = True

    def __init__(self, scope: str = "global", compute: Compute | None = None, temperature: float = 200.0):
        super().__init__(scope, compute)
        self.temperature = check_positive("temperature", temperature)

    def __repr__(self) -> str:
        return f"GraSP(scope={self.scope!r}, temperature={self.temperature!r})"

    def scores(self, params, data, masks=None, *, compute: Compute | None = None) -> list[np.ndarray]:
        """GraSP scores on ``data`` = ``(X, y)`` or a list of batches; ``compute`` overrides ``self.compute``."""
        from simulations.nn import Params

        params = _params(params)
        masks = _masks(params, masks)
        batches = _batches("GraSP", data)
        T = self.temperature
        L = params.spec.n_layers
        # ℓ(z_L / T) is the loss of the net whose last layer is (W_L, b_L) / T: with D = diag(1, …, 1/T)
        # on the weight blocks, g = D g'(DW) and H = D H'(DW) D.
        scaled = Params(params.spec.with_(dtype="float64"), params.flat.astype(np.float64))
        scaled.weights[-1][...] /= T
        if scaled.biases[-1] is not None:
            scaled.biases[-1][...] /= T
        d = [1.0] * (L - 1) + [1.0 / T]
        g = None
        for X, y in batches:
            _, dW, _ = autodiff.gradients(scaled, X, y, masks)
            g = dW if g is None else [a + b for a, b in zip(g, dW)]
        v = [dl * dl * gl * m for dl, gl, m in zip(d, g, masks)]  # D (g ⊙ M), g = D g'
        hg = None
        for X, y in batches:
            h = autodiff.hvp(scaled, X, y, v, masks)
            hg = h if hg is None else [a + b for a, b in zip(hg, h)]
        n = _n_examples(batches)
        self._count(compute, params, masks, n, forward=1, backward=1, hvp=1)
        return [np.where(m, np.asarray(w, dtype=np.float64), 0.0) * (dl * h)
                for w, m, dl, h in zip(params.weights, masks, d, hg)]


def _rescale(u: np.ndarray, log_scale: float) -> tuple[np.ndarray, float]:
    """``u·e^{log_scale}`` as ``(û, s)`` with ``max û = 1`` (an all-zero ``u`` stays 0, scale 0)."""
    top = float(u.max()) if u.size else 0.0
    if top <= 0.0:
        return np.zeros_like(u), 0.0
    return u / top, log_scale + math.log(top)


def synflow_scores(params: Any, masks: Sequence[np.ndarray] | None = None, compute: Compute | None = None
                   ) -> tuple[list[np.ndarray], float, float]:
    """SynFlow scores ``|θ ⊙ ∂R/∂θ|`` (Tanaka et al. 2020, eq. 2), rescaled: ``(scores, log_factor, log_R)``.

    ``params``: :class:`simulations.nn.Params` (any precision; float64 inside); ``masks``: None or
    one boolean array per weight matrix (``θ = W ⊙ M``); ``compute``: None or a :class:`Compute`
    (one forward and one backward pass of one example). The true scores are
    ``scores[l] · exp(log_factor)`` (``log_factor`` = 0 unless they would overflow or underflow
    float64) and ``log R`` is the log of the synaptic flow R (−inf when R = 0).
    """
    params = _params(params)
    masks = _masks(params, masks)
    compute = _compute(compute)
    A = [np.abs(np.where(m, np.asarray(w, dtype=np.float64), 0.0)) for w, m in zip(params.weights, masks)]
    B = [None if b is None else np.abs(np.asarray(b, dtype=np.float64)) for b in params.biases]
    # forward: a_l = e^{s_l} â_l
    a_hat, s = [np.ones(A[0].shape[1])], [0.0]
    for Al, bl in zip(A, B):
        x = Al @ a_hat[-1]
        if bl is None or not bl.any():
            u, ls = _rescale(x, s[-1])
        else:  # e^{s} x + |b| = e^{c} (e^{s−c} x + e^{−c} |b|), c = the larger log magnitude
            c = max(s[-1] + math.log(x.max()) if x.max() > 0 else -math.inf, math.log(bl.max()))
            u, ls = _rescale(np.exp(s[-1] - c) * x + math.exp(-c) * bl, c)
        a_hat.append(u)
        s.append(ls)
    log_R = s[-1] + math.log(a_hat[-1].sum()) if a_hat[-1].any() else -math.inf
    # backward: γ_l = e^{r_l} γ̂_l
    L = len(A)
    g_hat, r = [None] * L, [0.0] * L
    g_hat[-1] = np.ones(A[-1].shape[0])
    for l in range(L - 1, 0, -1):
        g_hat[l - 1], r[l - 1] = _rescale(A[l].T @ g_hat[l], r[l])
    unit = [A[l] * np.outer(g_hat[l], a_hat[l]) for l in range(L)]
    logs = [s[l] + r[l] for l in range(L)]  # log of the factor of layer l (its input's scale × its γ's)
    tops = [logs[l] + math.log(unit[l].max()) for l in range(L) if unit[l].max() > 0.0]
    shift = 0.0
    if tops and abs(max(tops)) > _LOG_SAFE:  # the largest score would overflow (or all underflow)
        shift = max(tops)
    scores = [unit[l] * math.exp(logs[l] - shift) if unit[l].max() > 0.0 else unit[l] for l in range(L)]
    if compute is not None:
        compute.passes(params.spec.weight_shapes, masks, 1, forward=1, backward=1, bias=params.spec.bias)
    return scores, shift, log_R


class SynFlow(_Scorer):
    """One-shot SynFlow scores (data-free); see :func:`synflow_scores` and :func:`synflow_prune` (Alg. 1)."""

    name = "synflow"
    needs_data = False

    def scores(self, params, data=None, masks=None, *, compute: Compute | None = None) -> list[np.ndarray]:
        """SynFlow scores (``data`` is ignored); ``compute`` overrides ``self.compute``."""
        c = self.compute if compute is None else _compute(compute)
        return synflow_scores(params, masks, c)[0]


def synflow_prune(params: Any, sparsity: float, iterations: int = 100, masks: Sequence[np.ndarray] | None = None,
                  layers: Sequence[int] | None = None, scope: str = "global", compute: Compute | None = None
                  ) -> list[np.ndarray]:
    """Iterative SynFlow (Tanaka et al. 2020, Alg. 1): ``iterations`` rounds of rescoring and pruning.

    Round k = 1..n prunes the survivors of ``layers`` to the cumulative sparsity
    ``s_k = 1 − (1 − sparsity)^{k/n}`` (the last round exactly ``sparsity``), rescoring with
    :func:`synflow_scores` on the current masks before each round; a pruned weight is never revived.
    ``params``: :class:`simulations.nn.Params`; ``sparsity`` in [0, 1); ``iterations``: integer in
    [1, :data:`ITERATIONS_MAX`] (the authors use 100); ``masks``: None (all kept) or boolean masks;
    ``layers``: None (all) or layer indices; ``scope``: ``"global"`` (the paper) or ``"layer"``;
    ``compute``: None or a :class:`Compute` (one forward and backward pass of one example per round).
    Returns the final masks.
    """
    params = _params(params)
    s = check_ratio(sparsity, "sparsity")
    n = check_int("iterations", iterations, 1, ITERATIONS_MAX)
    masks = _masks(params, masks)
    L = params.spec.n_layers
    layers = list(range(L)) if layers is None else check_layers("layers", layers, L)
    if not layers:
        raise ValueError("layers must name at least one layer to prune")
    check_choice("scope", scope, ("global", "layer"))
    compute = _compute(compute)
    masks = [m.copy() for m in masks]
    for k in range(1, n + 1):
        target = s if k == n else 1.0 - (1.0 - s) ** (k / n)
        scores = synflow_scores(params, masks, compute)[0]
        masks = prune_step(scores, masks, removal_counts(masks, target, layers, scope), scope, layers)
    return masks
