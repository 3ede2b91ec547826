"""Evaluation of the two-layer ensembles (numpy, host): losses, neuron norms and pruning metrics.

Both launches train in segments of ``eval_every`` steps and call :func:`record_evaluation` on the
host between segments (the CPU kernel on the weights it trained in place, the CUDA launch on the
weights it copied back), so the metrics have one body, in numpy: matrix products for the
evaluation set and vectorised sorts for the pruning metrics, and nothing here is compiled by
numba (a compiled evaluation inside the training kernel cost ~30 % of its first-call compile time).
No validation here (internal, like the kernels): the API validated the arrays it built.

Recorded per network k and evaluation e:

* the mean minibatch loss since the last evaluation;
* the loss and accuracy on an evaluation set (X_e, Y_e), if given, of
  f(x) = (1/n) Σ_j a_j φ(w_jᵀx); the loss is the mean over the set of ½‖f − y‖² or of
  −Σ_o y_o log softmax(f)_o; accuracy (c > 1) counts argmax f = argmax y (first maximum on ties);
* the mean and largest neuron norm ‖w_j‖;
* the relative Frobenius error of magnitude pruning ‖W − W^{(k)}‖_F/‖W‖_F, where W^{(k)} keeps
  the k = ⌈κn⌉ largest-norm neurons: with s_(1) ≤ … ≤ s_(n) the sorted squared norms it is
  (Σ_{i ≤ n−k} s_(i) / Σ_i s_(i))^{1/2};
* the prunable fraction: the largest m/n such that removing the m smallest-norm neurons leaves
  a squared relative Frobenius error Σ_{i ≤ m} s_(i) / Σ_i s_(i) ≤ ε (the metric of Wan,
  Barsbey, Zaidi & Şimşekli 2024, ICML, with ε = 0.1).

A network whose weights are not finite gets ``STATUS_NONFINITE`` at the evaluation's step (its
mean loss is still written; its other entries stay NaN).

Memory layout (see :mod:`simulations.noise_injection.cpu`): the hidden weights of network k are
the (d, n) row-major block ``W[woff[k] : woff[k] + d·n]`` (column j = neuron j), its output
weights the (n, c) block ``A[aoff[k] : aoff[k] + n·c]``.
"""
from __future__ import annotations

import numpy as np

from simulations._core.codes import ACTIVATION_CODES, LOSS_SQUARED, STATUS_NONFINITE, STATUS_OK
from simulations.noise_injection.data import _activation
from simulations.noise_injection.pointwise import kept_count

__all__ = ["eval_losses", "record_evaluation", "segment_ends", "segments"]

_ACTIVATION_NAMES = {code: name for name, code in ACTIVATION_CODES.items()}

#: most floats of one block of gathered weights or evaluation-set pre-activations (networks × max(d, samples) × width):
#: 256 MiB
_EVAL_BLOCK = 2**25


def segment_ends(steps: int, eval_every: int) -> np.ndarray:
    """The steps after which the networks are evaluated: every ``eval_every`` steps and after the last."""
    return np.minimum(np.arange(1, -(-steps // eval_every) + 1, dtype=np.int64) * eval_every, steps)


def segments(steps: int, eval_every: int):
    """The step ranges [t0, t1) trained between evaluations, in order (a generator: a long run's ranges are not held at once)."""
    t0 = 0
    for t1 in segment_ends(steps, eval_every):
        yield t0, int(t1)
        t0 = int(t1)


def eval_losses(F: np.ndarray, Y: np.ndarray, loss: int) -> np.ndarray:
    """Per-sample losses of outputs F (…, N, c) against targets Y (N, c): ½‖f − y‖² or the
    cross-entropy −Σ_o y_o (f_o − logsumexp f)."""
    if loss == LOSS_SQUARED:
        return 0.5 * np.sum((F - Y) ** 2, axis=-1)
    m = F.max(axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(F - m), axis=-1, keepdims=True))
    return -np.sum(Y * (F - lse), axis=-1)


def _prune_metrics(sq: np.ndarray, kappas: np.ndarray, prune_eps: float):
    """Pruning error (G, Q) and prunable fraction (G,) from squared neuron norms ``sq`` (G, n)."""
    G, n = sq.shape
    # cs[:, m] = Σ_{i<m} s_(i), m = 0..n (a cumulative sum of non-negative terms: non-decreasing)
    cs = np.zeros((G, n + 1))
    np.cumsum(np.sort(sq, axis=1), axis=1, out=cs[:, 1:])
    total = cs[:, n]
    safe = np.where(total > 0.0, total, 1.0)
    drop = np.array([n - kept_count.py_func(float(q), n) for q in kappas], dtype=np.int64)  # plain Python: not compiled
    prune = np.where(total[:, None] > 0.0, np.sqrt(np.maximum(cs[:, drop], 0.0) / safe[:, None]), 0.0)
    thr = prune_eps * total
    prunable = np.where(total <= thr, n, np.sum(cs[:, :n] <= thr[:, None], axis=1) - 1)
    return prune, prunable / n


def record_evaluation(a, e: int, run_loss: np.ndarray, run_count: np.ndarray, t_last: int) -> None:
    """Write evaluation ``e`` (after step ``t_last``) of every running network of the ensemble ``a``.

    ``a`` is the :class:`~simulations.noise_injection.kernel_args.EnsembleArgs` of the run (its
    ``hist_*``, ``status`` and ``fail_step`` are filled in place); ``run_loss`` and ``run_count`` are
    the (K,) sums of minibatch losses and their counts since the last evaluation. Networks of equal
    width are evaluated together, in blocks of at most :data:`_EVAL_BLOCK` weights and pre-activations.
    """
    d, c = a.d, a.c
    running = np.flatnonzero(a.status == STATUS_OK)
    a.hist_loss[running, e] = run_loss[running] / np.maximum(run_count[running], 1)
    Xe, Ye = a.Xe, a.Ye
    ne = Xe.shape[0]
    for n in np.unique(a.widths[running]):
        n = int(n)
        group = running[a.widths[running] == n]
        step = max(1, _EVAL_BLOCK // (max(ne, d) * n))  # caps the gathered W (G, d, n) and Xe W (G, ne, n)
        for g0 in range(0, group.size, step):
            ks = group[g0: g0 + step]
            W = a.W[a.woff[ks, None] + np.arange(d * n)].reshape(ks.size, d, n)
            sq = np.einsum("kij,kij->kj", W, W)
            finite = np.isfinite(sq.sum(axis=1))
            bad = ks[~finite]
            a.status[bad] = STATUS_NONFINITE
            a.fail_step[bad] = t_last
            ks, W, sq = ks[finite], W[finite], sq[finite]
            if ks.size == 0:
                continue
            norms = np.sqrt(sq)
            a.hist_norm_mean[ks, e] = norms.mean(axis=1)
            a.hist_norm_max[ks, e] = norms.max(axis=1)
            a.hist_prune[ks, e], a.hist_prunable[ks, e] = _prune_metrics(sq, a.kappas, a.prune_eps)
            if ne == 0:
                continue
            A = a.A[a.aoff[ks, None] + np.arange(n * c)].reshape(ks.size, n, c)
            F = _activation(_ACTIVATION_NAMES[a.act], Xe @ W) @ A / n   # (G, ne, c)
            a.hist_eval_loss[ks, e] = eval_losses(F, Ye, a.loss).mean(axis=1)
            if c > 1:
                a.hist_eval_acc[ks, e] = np.mean(F.argmax(axis=2) == Ye.argmax(axis=1), axis=1)
