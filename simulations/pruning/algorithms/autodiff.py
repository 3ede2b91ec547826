"""Reference float64 forward/backward of an :class:`simulations.nn.MLPSpec` network in numpy.

The network of :mod:`simulations.nn.model` (L layers, ``W_l`` of shape ``(out, in)``): for
``l = 1..L``

    z_l = a_{l-1} (W_l ⊙ M_l)ᵀ + b_l,      a_l = φ(z_l)  (l < L),      a_0 = x,      logits = z_L,

with masks ``M_l`` (all ones when ``masks`` is None), φ ∈ {relu, tanh, softplus log(1+eᶻ),
identity}, and the mean loss over a batch of ``n`` examples

    ℓ = (1/n) Σ_i ℓ_i,   ℓ_i = −log softmax(z_{L,i})[y_i]   (cross_entropy)
                         ℓ_i = ½ ‖z_{L,i} − e_{y_i}‖²       (squared).

Everything is computed in float64 (float32 :class:`Params` are promoted), by backpropagation

    δ_L = ∂ℓ_i/∂z_L = softmax(z_L) − e_y  (cross_entropy),  z_L − e_y  (squared),
    δ_{l-1} = (δ_l W̃_l) ⊙ φ'(z_{l-1}),     ∂ℓ/∂W̃_l = (1/n) δ_lᵀ a_{l-1},     ∂ℓ/∂b_l = (1/n) Σ_i δ_{l,i},

where ``W̃_l = W_l ⊙ M_l`` is the *effective* weight: every derivative here is taken with respect
to ``W̃`` (so a pruned entry has its own, generally non-zero, gradient — what SNIP, GraSP and
RigL's regrowth read). ReLU's derivative at 0 is taken as 0, as in the training backends.

:func:`hvp` is the weight block of the Hessian of the mean loss times a direction ``V`` (biases
held fixed), computed exactly by Pearlmutter's R-operator (Pearlmutter 1994, "Fast exact
multiplication by the Hessian", Neural Computation 6(1), §4): with ``R{·}`` the directional
derivative along ``V`` in weight space,

    R{a_0} = 0,   R{z_l} = R{a_{l-1}} W̃_lᵀ + a_{l-1} V_lᵀ,   R{a_l} = φ'(z_l) ⊙ R{z_l},
    R{δ_L} = (diag p − p pᵀ) R{z_L}  (cross_entropy, p = softmax z_L),   R{z_L}  (squared),
    R{δ_{l-1}} = (R{δ_l} W̃_l + δ_l V_l) ⊙ φ'(z_{l-1}) + (δ_l W̃_l) ⊙ φ''(z_{l-1}) ⊙ R{z_{l-1}},
    (H V)_l = R{∂ℓ/∂W̃_l} = (1/n) (R{δ_l}ᵀ a_{l-1} + δ_lᵀ R{a_{l-1}}).

φ'' is 0 for identity and, almost everywhere, for ReLU (the R-operator then gives the Hessian of
the piecewise-linear network away from its kinks); −2 tanh(z)(1 − tanh²(z)) for tanh and
σ(z)(1 − σ(z)) for softplus. The cost of an H·v is one more forward and backward pass
(:mod:`.compute` counts it as such). Batches are processed in chunks of ``chunk`` rows so
memory stays bounded on a full training set.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_int
from simulations.pruning.masks import check_mask_list

__all__ = ["gradients", "per_example_terms", "hvp", "CHUNK_DEFAULT"]

#: default number of rows processed at once (bounds the memory of the activations on a large batch)
CHUNK_DEFAULT = 4096


class _Net:
    """Validated float64 effective weights ``W ⊙ M``, biases and the architecture of a Params."""

    def __init__(self, params: Any, masks: Any):
        from simulations.pruning.algorithms.base import check_params

        spec = check_params(params).spec
        shapes = spec.weight_shapes
        self.spec = spec
        if masks is None:
            self.masks = None
            self.W = [np.asarray(w, dtype=np.float64) for w in params.weights]
        else:
            self.masks = check_mask_list(masks, "masks", shapes=shapes)
            self.W = [np.where(m, np.asarray(w, dtype=np.float64), 0.0) for w, m in zip(params.weights, self.masks)]
        self.b = [None if b is None else np.asarray(b, dtype=np.float64) for b in params.biases]
        self.act = spec.activation
        self.loss = spec.loss
        self.L = spec.n_layers
        self.K = spec.n_classes


def _check_data(net: _Net, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    from simulations.nn.data import check_labels

    X = check_array("X", X, ndim=2, min_size=1)
    d0 = net.spec.sizes[0]
    if X.shape[1] != d0:
        raise ValueError(f"X must have {d0} columns (spec.sizes[0]), got shape {X.shape}")
    y = check_labels("y", y, X.shape[0], net.K)
    return X, y


def _check_chunk(chunk: Any) -> int:
    return check_int("chunk", chunk, 1)


def _phi(z: np.ndarray, act: str) -> np.ndarray:
    if act == "relu":
        return np.maximum(z, 0.0)
    if act == "tanh":
        return np.tanh(z)
    if act == "softplus":
        return np.logaddexp(0.0, z)
    return z


def _dphi(z: np.ndarray, a: np.ndarray, act: str) -> np.ndarray:
    """φ'(z) (``a`` = φ(z)); ReLU'(0) = 0."""
    if act == "relu":
        return (z > 0.0).astype(np.float64)
    if act == "tanh":
        return 1.0 - a * a
    if act == "softplus":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z), without overflow
    return np.ones_like(z)


def _d2phi(z: np.ndarray, a: np.ndarray, act: str) -> np.ndarray | None:
    """φ''(z), or None where it is 0 (identity; ReLU almost everywhere)."""
    if act == "tanh":
        return -2.0 * a * (1.0 - a * a)
    if act == "softplus":
        s = 0.5 * (1.0 + np.tanh(0.5 * z))
        return s * (1.0 - s)
    return None


def _forward(net: _Net, X: np.ndarray):
    """Layer inputs ``acts[l] = a_{l-1}`` and pre-activations ``zs[l] = z_l`` (float64)."""
    a = np.asarray(X, dtype=np.float64)
    acts, zs = [], []
    for l in range(net.L):
        acts.append(a)
        z = a @ net.W[l].T
        if net.b[l] is not None:
            z += net.b[l]
        zs.append(z)
        if l < net.L - 1:
            a = _phi(z, net.act)
    return acts, zs


def _loss_delta(net: _Net, z: np.ndarray, y: np.ndarray):
    """Per-example losses ℓ_i, δ_L = ∂ℓ_i/∂z_L and (cross-entropy) the softmax p."""
    n = z.shape[0]
    rows = np.arange(n)
    if net.loss == "cross_entropy":
        zmax = z.max(axis=1, keepdims=True)
        e = np.exp(z - zmax)
        s = e.sum(axis=1, keepdims=True)
        lse = np.log(s)[:, 0] + zmax[:, 0]
        p = e / s
        d = p.copy()
        d[rows, y] -= 1.0
        return lse - z[rows, y], d, p
    d = z.copy()
    d[rows, y] -= 1.0
    return 0.5 * np.einsum("ij,ij->i", d, d), d, None


def _backward(net: _Net, acts, zs, delta_L):
    """Per-example deltas ``δ_l = ∂ℓ_i/∂z_l`` for every layer (list over l)."""
    deltas = [None] * net.L
    d = delta_L
    deltas[-1] = d
    for l in range(net.L - 1, 0, -1):
        a_prev = acts[l]  # = φ(z_{l-1})
        d = (d @ net.W[l]) * _dphi(zs[l - 1], a_prev, net.act)
        deltas[l - 1] = d
    return deltas


def _chunks(n: int, chunk: int):
    for s in range(0, n, chunk):
        yield slice(s, min(n, s + chunk))


def gradients(params: Any, X: Any, y: Any, masks: Sequence[np.ndarray] | None = None, *,
              chunk: int = CHUNK_DEFAULT) -> tuple[float, list[np.ndarray], list[np.ndarray] | None]:
    """Mean loss and its gradients with respect to the effective weights ``W ⊙ M`` and the biases.

    ``params``: :class:`simulations.nn.Params` (float32 or float64; computed in float64);
    ``X``: (n, d_0) finite reals, n ≥ 1; ``y``: (n,) integer labels in [0, n_classes);
    ``masks``: None or one boolean (or 0/1) array (out, in) per weight matrix; ``chunk``: rows
    per pass (integer ≥ 1). Returns ``(loss, dW, db)``: ``dW[l]`` float64 (out, in),
    ``db[l]`` (out,) or ``db = None`` for a bias-free spec.
    """
    net = _Net(params, masks)
    X, y = _check_data(net, X, y)
    chunk = _check_chunk(chunk)
    n = X.shape[0]
    loss = 0.0
    dW = [np.zeros_like(w) for w in net.W]
    db = None if not net.spec.bias else [np.zeros(w.shape[0]) for w in net.W]
    for sl in _chunks(n, chunk):
        acts, zs = _forward(net, X[sl])
        li, dL, _ = _loss_delta(net, zs[-1], y[sl])
        loss += float(li.sum())
        for l, d in enumerate(_backward(net, acts, zs, dL)):
            dW[l] += d.T @ acts[l]
            if db is not None:
                db[l] += d.sum(axis=0)
    for l in range(net.L):
        dW[l] /= n
        if db is not None:
            db[l] /= n
    return loss / n, dW, db


def per_example_terms(params: Any, X: Any, y: Any, masks: Sequence[np.ndarray] | None = None
                      ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The factors of the per-example weight gradients: layer inputs and output deltas.

    Returns ``(acts, deltas)``, lists over the layers ``l = 0..L−1`` (float64):

    * ``acts[l]`` of shape (n, in_l): the layer's input ``a_{l-1}`` for every example
      (``acts[0]`` is ``X``);
    * ``deltas[l]`` of shape (n, out_l): ``∂ℓ_i/∂z_l`` of example i's OWN loss ``ℓ_i`` (not
      divided by n).

    So example i's gradient with respect to the effective weight ``W_l ⊙ M_l`` is
    ``np.outer(deltas[l][i], acts[l][i])``, its bias gradient ``deltas[l][i]``, and the gradient
    of the mean loss is ``deltas[l].T @ acts[l] / n`` (what :func:`gradients` returns). Arguments
    as for :func:`gradients`; memory is ``n·Σ_l (in_l + out_l)`` floats (no chunking).
    """
    net = _Net(params, masks)
    X, y = _check_data(net, X, y)
    acts, zs = _forward(net, X)
    _, dL, _ = _loss_delta(net, zs[-1], y)
    return acts, _backward(net, acts, zs, dL)


def _check_direction(net: _Net, v: Any) -> list[np.ndarray]:
    if not isinstance(v, (list, tuple)):
        raise TypeError(f"v must be a list of {net.L} weight-shaped arrays (out, in), got {type(v).__name__}")
    if len(v) != net.L:
        raise ValueError(f"v must hold {net.L} arrays (one per weight matrix), got {len(v)}")
    out = []
    for l, (vl, w) in enumerate(zip(v, net.W)):
        a = check_array(f"v[{l}]", vl, ndim=2).astype(np.float64, copy=False)
        if a.shape != w.shape:
            raise ValueError(f"v[{l}] must have shape {w.shape}, got {a.shape}")
        out.append(a)
    return out


def hvp(params: Any, X: Any, y: Any, v: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None, *,
        chunk: int = CHUNK_DEFAULT) -> list[np.ndarray]:
    """``H·v``: the weight block of the Hessian of the mean loss times ``v`` (Pearlmutter's R-operator).

    ``H = ∂²ℓ/∂W̃²`` with ``W̃ = W ⊙ M`` the effective weights and the biases held fixed; ``v``: a
    list of finite arrays, one per weight matrix, of its shape (used as given — mask it yourself
    to restrict to the kept weights). Other arguments as for :func:`gradients`. Exact up to
    rounding (no finite differences); returns one float64 array (out, in) per layer.
    """
    net = _Net(params, masks)
    X, y = _check_data(net, X, y)
    V = _check_direction(net, v)
    chunk = _check_chunk(chunk)
    n = X.shape[0]
    out = [np.zeros_like(w) for w in net.W]
    for sl in _chunks(n, chunk):
        acts, zs = _forward(net, X[sl])
        _, dL, p = _loss_delta(net, zs[-1], y[sl])
        deltas = _backward(net, acts, zs, dL)
        # forward R-pass: R{a_{l-1}} (None = 0 for the input) and R{z_l}
        r_acts: list[np.ndarray | None] = [None]
        r_zs = []
        for l in range(net.L):
            rz = acts[l] @ V[l].T
            if r_acts[l] is not None:
                rz += r_acts[l] @ net.W[l].T
            r_zs.append(rz)
            if l < net.L - 1:
                r_acts.append(_dphi(zs[l], acts[l + 1], net.act) * rz)
        # backward R-pass
        rz = r_zs[-1]
        rd = p * rz - p * np.einsum("ij,ij->i", p, rz)[:, None] if p is not None else rz
        for l in range(net.L - 1, -1, -1):
            out[l] += rd.T @ acts[l]
            if r_acts[l] is not None:
                out[l] += deltas[l].T @ r_acts[l]
            if l == 0:
                break
            back = deltas[l] @ net.W[l]
            rd_new = (rd @ net.W[l] + deltas[l] @ V[l]) * _dphi(zs[l - 1], acts[l], net.act)
            d2 = _d2phi(zs[l - 1], acts[l], net.act)
            if d2 is not None:
                rd_new += back * d2 * r_zs[l - 1]
            rd = rd_new
    return [o / n for o in out]
