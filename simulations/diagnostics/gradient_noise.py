"""Tail index of the stochastic gradient noise of an MLP at its current parameters, streamed.

Şimşekli, Sagun & Gürbüzbalaban (2019, ICML, "A tail-index analysis of stochastic gradient noise
in deep neural networks", §4; code ``umutsimsekli/sgd_tail_index``, ``main.eval``): partition an
evaluation set of n rows into P = n/B minibatches of B rows; with g_p the mean-loss gradient on
minibatch p and ḡ = (1/P) Σ_p g_p the full-batch gradient of the set (the mean of the minibatch
gradients of a partition *is* the full-batch gradient), the noise vectors are
U_p = g_p − ḡ ∈ R^M. All P·M coordinates, in the order (p, then the flat parameter layout
``[W1, b1, W2, …]``), form one scalar sample of size N = P·M, whose tail index is estimated by
Mohammadi et al. (2015) Cor. 2.4 with m = the largest divisor of N not above √N
(:mod:`simulations.diagnostics.streaming`). The per-layer variants take the coordinates of one
layer's weight matrix W_l only (N_l = P·M_l, m_l likewise).

Streaming: the estimate needs running sums of ln|U| and of ln|block sums| only. Pass 1 computes
the P minibatch gradients and their mean ḡ; pass 2 forms U_p one minibatch at a time and feeds the
accumulators (pooled and per layer), sharing the logarithms. When the P gradients fit in
``cache_bytes`` they are kept from pass 1 (P gradient evaluations in all, memory P·M values);
otherwise pass 2 recomputes them (2P gradient evaluations, memory O(M)).

Cost of one call: P (or 2P) backend gradients of B rows — one gradient ≈ one training step of
batch B — plus P passes of O(M) numpy work (a subtraction, a logarithm, the block sums: about
0.4 of a B = 100 gradient for a 784-512-512-10 network, float32), so about 1.4·P training steps
(2.4·P without the cache). The default ``n_eval = 400`` at B = 100 (P = 4) costs about 8 training
steps (7.6–8.6 for 784-512-512-10, 784-128-128-10, 784-1024-10 in ``bench/diagnostics.py``), i.e.
7–8 % of the training time when measured every 100 steps;
the whole MNIST training set (P = 600, the paper's setting) costs about 1400 steps. The cost grows
like n_eval/B · (1 + 0.4 · t_grad(100)/t_grad(B)): smaller batches need a smaller n_eval.
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from simulations._core import seeding
from simulations._core.validation import check_array, check_bool, check_int, check_real
from simulations.diagnostics.streaming import EPS_MAX, StreamingBlockSum, block_size, log_abs, zeros_in
from simulations.nn.backends import get_backend
from simulations.nn.model import Params

__all__ = ["gradient_noise_tail_index", "N_EVAL_DEFAULT", "CACHE_BYTES_DEFAULT", "CACHE_BYTES_MAX", "BATCHES_MAX"]

#: default evaluation-subset size: P = 4 minibatches at B = 100, under 10 % of the training time
#: when evaluated every 100 steps (bench/diagnostics.py)
N_EVAL_DEFAULT = 400
#: default memory for keeping pass 1's minibatch gradients (256 MiB)
CACHE_BYTES_DEFAULT = 2**28
#: largest ``cache_bytes`` (16 GiB, the training core's workspace limit)
CACHE_BYTES_MAX = 2**34
#: most minibatches P of one evaluation (the whole of a 2^24-row set at B = 1)
BATCHES_MAX = 2**24


def _check_data(params: Params, X: Any, y: Any):
    from simulations.nn.data import check_labels

    if not isinstance(params, Params):
        raise TypeError(f"params must be a Params, got {type(params).__name__}")
    spec = params.spec
    X = check_array("X", X, ndim=2)
    if X.shape[1] != spec.sizes[0]:
        raise ValueError(f"X must have {spec.sizes[0]} columns (params.spec.sizes[0]), got shape {X.shape}")
    y = check_labels("y", y, X.shape[0], spec.sizes[-1])
    return spec, X, y


def _subset(n: int, n_eval: int | None, batch_size: int, seed: Any) -> np.ndarray:
    """Rows of the evaluation set, in minibatch order: all rows in data order (n_eval None), else a
    seeded random subset of n_eval rows; the last n_eval mod B rows are left out."""
    if n_eval is None:
        rows = np.arange(n)
    else:
        rows = seeding.generator(seed, "gradient_noise").choice(n, n_eval, replace=False)
    return rows[: (rows.size // batch_size) * batch_size]


def gradient_noise_tail_index(
    params: Params,
    X: Any,
    y: Any,
    *,
    batch_size: int,
    n_eval: int | None = N_EVAL_DEFAULT,
    per_layer: bool = True,
    seed: Any = 0,
    eps: float = 0.0,
    cache_bytes: int = CACHE_BYTES_DEFAULT,
    backend: Any = "cpu",
) -> dict:
    """Tail index α̂ of the gradient noise g_p − ḡ at ``params`` on (X, y) (module docstring).

    Parameters
    ----------
    params : Params
        The network (read only; a live view of a training run is fine).
    X, y : (n, sizes[0]) real array, (n,) labels in [0, K)
        The evaluation set (the training set for "train" noise, the test set for "test").
    batch_size : int ≥ 1
        Minibatch size B of the noise: set it to the training batch size (Şimşekli et al. use 100 for both).
    n_eval : int ≥ 2B or None
        Rows of the evaluation subset, a random subset drawn from ``seed`` (capped at n: then all rows,
        in a random order); None: all n rows in data order, as in the paper. P = ⌊n_eval / B⌋ ≥ 2 minibatches are used (the last n_eval mod B rows
        are left out, so that ḡ is the full-batch gradient of the rows used).
    per_layer : bool
        Also estimate α on each weight matrix's coordinates.
    seed : int / SeedSequence / Generator
        Chooses the subset (child ``"gradient_noise"``); unused when ``n_eval`` is None.
    eps : float in [0, 1]
        0: exact zeros (e.g. dead ReLU units) are left out of the means; > 0: ln(|·| + eps) as the
        paper's code (eps = 2.2·10⁻¹⁶ there), which pulls α̂ down when there are many zeros.
    cache_bytes : int in [0, 16 GiB]
        Keep the P minibatch gradients between the passes when P·M·itemsize fits (P gradients in
        all), else recompute them (2P).
    backend : "cpu", "cuda" or a Backend
        Where the gradients are computed (:meth:`simulations.nn.backends.base.Backend.gradient`).

    Returns
    -------
    dict
        ``alpha`` (pooled α̂), ``N``, ``m``; ``alpha_layers``, ``N_layers``, ``m_layers`` (lists, one
        per layer, or None); ``n_eval`` (rows used = P·B), ``n_batches`` P, ``batch_size``, ``loss``
        (mean loss on the rows used), ``noise_norm`` (mean ‖g_p − ḡ‖₂), ``zero_fraction`` (of the
        pooled coordinates), ``gradient_calls``, ``seconds``, ``status``: "ok" when every α̂ is finite,
        else "undefined" with ``note`` saying which (α̂ = inf: block sums no larger than their terms;
        nan: all coordinates zero, or a 1-entry layer with P prime, whose N has no divisor in [2, √N]).
    """
    t0 = time.perf_counter()
    spec, X, y = _check_data(params, X, y)
    n = X.shape[0]
    batch_size = check_int("batch_size", batch_size, 1, max(1, n // 2))
    if n_eval is not None:
        n_eval = min(check_int("n_eval", n_eval, 2 * batch_size), n)
    if n < 2 * batch_size:
        raise ValueError(f"X must have at least 2·batch_size = {2 * batch_size} rows (P ≥ 2 minibatches), got {n}")
    per_layer = check_bool("per_layer", per_layer)
    eps = check_real("eps", eps, 0.0, EPS_MAX)
    cache_bytes = check_int("cache_bytes", cache_bytes, 0, CACHE_BYTES_MAX)
    ss = seeding.seed_sequence(seed)  # checked even when unused (a Generator is drawn from once)
    be = get_backend(backend)
    rows = _subset(n, n_eval, batch_size, ss)
    return _noise_tail_index(be, params, X, y, rows, batch_size, per_layer, eps, cache_bytes, t0)


def _buffer(bufs: dict | None, name: str, M: int, dtype) -> np.ndarray:
    """A length-M work array, kept in ``bufs`` between calls (a monitor's) so its pages are touched once."""
    if bufs is None:
        return np.empty(M, dtype=dtype)
    a = bufs.get(name)
    if a is None or a.shape[0] != M or a.dtype != dtype:
        a = bufs[name] = np.empty(M, dtype=dtype)
    return a


def _noise_tail_index(be, params: Params, X: np.ndarray, y: np.ndarray, rows: np.ndarray, batch_size: int,
                      per_layer: bool, eps: float, cache_bytes: int, t0: float, bufs: dict | None = None) -> dict:
    """The two passes on checked arguments: ``rows`` (a multiple of batch_size, ≥ 2 minibatches) in minibatch order."""
    spec = params.spec
    B, P, M = batch_size, rows.size // batch_size, spec.n_params
    if P > BATCHES_MAX:
        raise ValueError(f"n_eval / batch_size gives {P} minibatches; at most BATCHES_MAX = {BATCHES_MAX}")
    flat = params.flat

    def grad(p: int) -> tuple[float, np.ndarray]:
        idx = rows[p * B:(p + 1) * B]
        loss, g = be.gradient(spec, flat, np.ascontiguousarray(X[idx], dtype=spec.np_dtype), y[idx])
        return loss, np.asarray(g, dtype=spec.np_dtype)

    keep = P * M * spec.np_dtype.itemsize <= cache_bytes
    cache: list[np.ndarray] = []
    gbar = _buffer(bufs, "gbar", M, spec.np_dtype)
    gbar[...] = 0.0
    loss_sum = 0.0
    for p in range(P):  # pass 1: ḡ, the mean of the minibatch gradients = the full-batch gradient
        loss, g = grad(p)
        loss_sum += loss
        gbar += g  # in the parameters' dtype: relative rounding at most P·ε, far below the noise
        if keep:
            cache.append(g)
    gbar *= gbar.dtype.type(1.0 / P)
    off = spec.offsets
    sizes = [int(hi - lo) for lo, hi in zip(off[:, 0], off[:, 1])]
    m_all = block_size(P * M)
    m_layers = [block_size(P * s) for s in sizes] if per_layer else []
    pooled = StreamingBlockSum(m_all, eps) if m_all >= 2 else None
    layers = [StreamingBlockSum(m_l, eps) if m_l >= 2 else None for m_l in m_layers]
    norm_sum, n_zero = 0.0, 0
    work = _buffer(bufs, "work", M, spec.np_dtype)
    for p in range(P):  # pass 2: the noise vectors, one minibatch at a time
        u = cache[p] if keep else grad(p)[1]  # a fresh array from the backend: the noise overwrites it
        np.subtract(u, gbar, out=u)
        if keep:
            cache[p] = None  # free as we go
        lu, zeros = log_abs(u, eps, out=work)
        norm_sum += float(np.linalg.norm(u))
        n_zero += int(np.count_nonzero(u == 0.0)) if eps > 0.0 else 0 if zeros is None else zeros.size
        if pooled is not None:
            pooled._push(u, lu, zeros)
        for acc, lo, hi in zip(layers, off[:, 0], off[:, 1]):
            if acc is not None:
                acc._push(u[lo:hi], lu[lo:hi], zeros_in(zeros, lo, hi))
    alpha = math.nan if pooled is None else pooled.alpha
    alpha_layers = [math.nan if a is None else a.alpha for a in layers] if per_layer else None
    bad = [] if math.isfinite(alpha) else [f"pooled α̂ = {alpha}"]
    if per_layer:
        bad += [f"layer {l} α̂ = {a}" for l, a in enumerate(alpha_layers) if not math.isfinite(a)]
    out = {
        "alpha": alpha, "N": P * M, "m": m_all, "alpha_layers": alpha_layers,
        "N_layers": [P * s for s in sizes] if per_layer else None, "m_layers": m_layers if per_layer else None,
        "n_eval": P * B, "n_batches": P, "batch_size": B, "loss": loss_sum / P, "noise_norm": norm_sum / P,
        "zero_fraction": n_zero / (P * M), "gradient_calls": P if keep else 2 * P, "eps": eps,
        "seconds": time.perf_counter() - t0, "status": "ok" if not bad else "undefined",
    }
    if bad:
        out["note"] = "; ".join(bad) + " (inf: block sums no larger than their terms; nan: no non-zero coordinate)"
    return out
