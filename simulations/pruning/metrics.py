"""ShrinkBench-style pruning metrics (Blalock, Gonzalez Ortiz, Frankle & Guttag, MLSys 2020).

* **Remaining parameters** — stored numbers after pruning: nonzero (kept)
  weights, ``k·(out + in)`` for a rank-``k`` layer, plus the biases *if* biases
  are passed (they are then counted dense and never pruned). The networks of
  this project are bias-free, so by default biases do not enter.
* **Compression ratio** — ``total / remaining`` (Blalock et al., §3.1:
  "original size over compressed size"); ``2×`` ⇔ 50 % sparsity, ``32×`` ⇔ 96.875 %.
* **Theoretical FLOPs speedup** — dense over sparse multiply–accumulate counts of
  one forward pass of the MLP for one example: a dense layer costs ``out·in``
  MACs, a masked layer ``nnz(W ⊙ M)``, a rank-``k`` layer ``k·(out + in)``; a bias
  adds ``out``. Element-wise activations are not counted (as in ShrinkBench).
* **Curves** — accuracy vs compression ratio, mean ± standard deviation over seeds
  at each operating point (:func:`aggregate`).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_choice, check_int, check_probability, check_real
from simulations.pruning.masks import check_masks, check_weights

__all__ = [
    "count_parameters",
    "compression_ratio",
    "dense_flops",
    "sparse_flops",
    "flops_speedup",
    "ratios_for_compression",
    "accuracy",
    "aggregate",
    "summary",
]


def _bias_counts(biases, ws: Sequence[np.ndarray]) -> list[int]:
    """Entries of each bias (``None`` entry ⇒ no bias); ``biases[l]`` must have shape ``(out_l,)``."""
    n_layers = len(ws)
    if biases is None:
        return [0] * n_layers
    if not isinstance(biases, (list, tuple)):
        raise TypeError(f"biases must be a list of {n_layers} vectors (one per layer) or None, "
                        f"got {type(biases).__name__}")
    if len(biases) != n_layers:
        raise ValueError(f"biases must hold {n_layers} vectors (one per layer) or be None, got {len(biases)}")
    out = []
    for i, (b, w) in enumerate(zip(biases, ws)):
        if b is None:
            out.append(0)
            continue
        b = check_array(f"biases[{i}]", b)
        if b.shape != (w.shape[0],):
            raise ValueError(f"biases[{i}] must have shape ({w.shape[0]},) (out_features of layer {i}), got {b.shape}")
        out.append(int(b.size))
    return out


def _check_ranks(ranks, n_layers: int):
    if ranks is None:
        return None
    if not isinstance(ranks, (list, tuple)):
        raise TypeError(f"ranks must be a list of {n_layers} ints or None (one per layer), "
                        f"got {type(ranks).__name__}")
    if len(ranks) != n_layers:
        raise ValueError(f"ranks must hold {n_layers} entries (one per layer), got {len(ranks)}")
    return list(ranks)


def count_parameters(weights: Sequence[np.ndarray], masks=None, biases=None, ranks=None) -> tuple[int, int]:
    """``(remaining, total)`` stored parameters.

    ``masks`` (True = kept) default to "all nonzero entries are kept" — i.e. the
    remaining count is ``nnz(W ⊙ M)``, so weights that are exactly 0 for another
    reason are not counted either. ``ranks`` (one int or ``None`` per layer)
    marks low-rank layers, counted ``k·(out + in)``.
    """
    ws = check_weights(weights)
    ms = check_masks(masks, ws) if masks is not None else None
    bc = _bias_counts(biases, ws)
    ranks = _check_ranks(ranks, len(ws))
    remaining = total = 0
    for i, w in enumerate(ws):
        total += w.size + bc[i]
        k = None if ranks is None else ranks[i]
        if k is not None:
            k = check_int(f"ranks[{i}]", k, 0, min(w.shape))
            remaining += k * (w.shape[0] + w.shape[1])
        else:
            nz = w != 0 if ms is None else (ms[i] & (w != 0))
            remaining += int(np.count_nonzero(nz))
        remaining += bc[i]
    return remaining, total


def _nothing_remains(what: str) -> ValueError:
    return ValueError(f"weights, masks and ranks must leave at least one stored parameter: every weight is zero or "
                      f"pruned, so {what} is unbounded")


def compression_ratio(weights: Sequence[np.ndarray], masks=None, biases=None, ranks=None) -> float:
    """``total / remaining``, a finite ratio ≥ 1. See :func:`count_parameters`.

    When nothing remains (every weight zero or masked, no bias, no rank-k layer with k ≥ 1) the
    ratio is unbounded: ``ValueError`` naming ``weights``, ``masks`` and ``ranks``.
    """
    rem, tot = count_parameters(weights, masks, biases, ranks)
    if rem == 0:
        raise _nothing_remains("the compression ratio total / remaining")
    return tot / rem


def dense_flops(weights: Sequence[np.ndarray], biases=None) -> int:
    """MACs of one dense forward pass for one example: ``Σ_l out_l·in_l`` (+ ``out_l`` per bias)."""
    ws = check_weights(weights)
    bc = _bias_counts(biases, ws)
    return int(sum(w.size + b for w, b in zip(ws, bc)))


def sparse_flops(weights: Sequence[np.ndarray], masks=None, biases=None, ranks=None) -> int:
    """MACs of the pruned forward pass: ``Σ_l nnz(W_l ⊙ M_l)`` (or ``k(out+in)``) + biases."""
    rem, _ = count_parameters(weights, masks, biases, ranks)
    return rem


def flops_speedup(weights: Sequence[np.ndarray], masks=None, biases=None, ranks=None) -> float:
    """Theoretical speedup ``dense_flops / sparse_flops``, a finite ratio ≥ 1.

    When no MAC remains the speedup is unbounded: ``ValueError`` as for :func:`compression_ratio`.
    """
    s = sparse_flops(weights, masks, biases, ranks)
    if s == 0:
        raise _nothing_remains("the speedup dense_flops / sparse_flops")
    return dense_flops(weights, biases) / s


def ratios_for_compression(compressions: Iterable[float]) -> list[float]:
    """Pruning ratios ``1 − 1/c`` for target compression ratios ``c ≥ 1`` (2× → 0.5, 32× → 0.96875)."""
    if isinstance(compressions, (str, bytes)) or not isinstance(compressions, Iterable):
        raise TypeError(f"compressions must be an iterable of reals ≥ 1, got {type(compressions).__name__}")
    return [1.0 - 1.0 / check_real("compressions", c, 1.0) for c in compressions]


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of ``argmax(logits, axis=1)`` against integer labels.

    ``logits``: a real ``(n, classes)`` array with n ≥ 1, classes ≥ 1 and no NaN (±inf allowed: the
    argmax is still defined); ``labels``: ``(n,)`` integers in ``[0, classes)`` (integer-valued
    floats are accepted). Ties go to the first maximal class (``numpy.argmax``).
    """
    logits = check_array("logits", logits, ndim=2, finite=False)
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits must have at least one row and one class (shape (n, classes)), got {logits.shape}")
    if np.isnan(logits).any():
        raise ValueError("logits must not contain NaN")
    n, k = logits.shape
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"labels must be an array of integer class labels, got {type(labels).__name__}")
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) (one per row of logits), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_:
        ok = (np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels))
              and np.all(labels == np.round(labels)))
        if not ok:
            raise TypeError(f"labels must hold integer class labels, got dtype {labels.dtype}")
        labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must be in [0, {k - 1}] (the classes of logits), got values in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def aggregate(
    rows: Iterable[Mapping[str, Any]], by: Sequence[str], value: str, spread: str = "std"
) -> list[dict]:
    """Group ``rows`` (dicts) by the keys ``by`` and summarise ``value``: mean, spread, n.

    ``spread`` ∈ {``"std"`` (sample standard deviation, ddof=1; 0 for n=1),
    ``"sem"`` (std/√n), ``"minmax"`` (half the range)}. Groups are returned sorted by key.
    ``rows`` is an iterable (list, tuple, generator) of dicts; a row's ``value`` is a real
    number or None. Rows where ``value`` is missing, None or not finite are skipped.
    """
    check_choice("spread", spread, ("std", "sem", "minmax"))
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise TypeError(f"rows must be an iterable of dicts, got {type(rows).__name__}")
    if isinstance(by, str) or not isinstance(by, (list, tuple)) or not all(isinstance(k, str) for k in by):
        raise TypeError(f"by must be a list of key names (strings), got {by!r}")
    if not isinstance(value, str):
        raise TypeError(f"value must be a key name (a string), got {type(value).__name__} {value!r}")
    groups: dict[tuple, list[float]] = {}
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise TypeError(f"rows[{i}] must be a dict, got {type(r).__name__}")
        v = r.get(value)
        if v is None:
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
            raise TypeError(f"rows[{i}][{value!r}] must be a real number or None (the value), got {type(v).__name__}")
        if not np.isfinite(v):
            continue
        key = tuple(r.get(k) for k in by)
        groups.setdefault(key, []).append(float(v))
    out = []
    for key in sorted(groups, key=lambda t: tuple((x is None, str(type(x)), x) for x in t)):
        v = np.asarray(groups[key])
        n = v.size
        if spread == "std":
            s = float(v.std(ddof=1)) if n > 1 else 0.0
        elif spread == "sem":
            s = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        else:
            s = float(v.max() - v.min()) / 2.0
        d = dict(zip(by, key))
        d.update({"mean": float(v.mean()), "spread": s, "n": n})
        out.append(d)
    return out


def summary(weights_before: Sequence[np.ndarray], result, acc_before: float | None = None, acc_after: float | None = None) -> dict:
    """One ShrinkBench-style row for a :class:`~simulations.pruning.one_shot.PruneResult`.

    ``weights_before``: the dense weights (their shapes must be those of the result's layers);
    ``acc_before``/``acc_after``: accuracies in [0, 1] or None.
    """
    from simulations.pruning.result import PruneResult

    if not isinstance(result, PruneResult):
        raise TypeError(f"result must be a PruneResult, got {type(result).__name__}")
    ws = check_weights(weights_before, "weights_before")
    if [w.size for w in ws] != list(result.total):
        raise ValueError(f"weights_before must have the layers of result (sizes {list(result.total)}), "
                         f"got sizes {[w.size for w in ws]}")
    if acc_before is not None:
        acc_before = check_probability("acc_before", acc_before)
    if acc_after is not None:
        acc_after = check_probability("acc_after", acc_after)
    rem, tot = result.n_remaining, result.n_total
    dense = dense_flops(ws)
    row = {
        "method": result.method,
        "remaining": rem,
        "total": tot,
        "sparsity": 1.0 - rem / tot,
        "compression": tot / rem if rem else math.inf,
        # bias-free: the stored parameters are the MACs (skipped layers dense, rank-k layers k(out+in))
        "flops_speedup": dense / rem if rem else math.inf,
        "rel_error": float(np.sqrt(np.mean(np.square(result.rel_error)))),
    }
    if acc_before is not None:
        row["acc_before"] = float(acc_before)
    if acc_after is not None:
        row["acc_after"] = float(acc_after)
    return row
