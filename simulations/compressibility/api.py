"""Best k-term approximation errors and compressibility measures of vectors.

Notation (Foucart & Rauhut 2013, *A Mathematical Introduction to Compressive
Sensing*, §2.1; Gribonval, Cevher & Davies 2012, IEEE Trans. Inf. Theory 58(8)):
for x ∈ R^n and p > 0 the best k-term approximation error is

    σ_k(x)_p = min_{‖y‖₀ ≤ k} ‖x − y‖_p = ( Σ_{i>k} |x|_(i)^p )^{1/p},

where |x|_(1) ≥ |x|_(2) ≥ … are the magnitudes sorted in decreasing order: the
minimum is attained by keeping the k largest magnitudes. The *relative* error
σ̄_k(x)_p = σ_k(x)_p / ‖x‖_p lies in [0, 1], equals 1 at k = 0 and 0 at k = n,
is non-increasing in k and invariant to scaling, permutation and sign flips.

All quantities are computed from one sort of |x|^p followed by a cumulative
sum *from the small end*: the tail sums σ_k^p are then partial sums of the
smallest terms, so they carry a relative (not absolute) rounding error even
when they are tiny compared with ‖x‖_p^p. Magnitudes are divided by max|x|
before the power is taken, so no overflow occurs and the result is exactly
invariant to scaling by powers of two.

Conventions: κ = k/n is the fraction of entries KEPT; a fraction 1 − κ is
pruned. For the zero vector every relative error is defined as 0 (the empty
approximation is exact), and everything is prunable.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_int, check_probability, check_real
from simulations.compressibility import cpu as _k

__all__ = [
    "relative_errors",
    "best_k_term_error",
    "relative_error_at",
    "prunable_fraction",
    "is_compressible",
    "kept_count",
]

# From this many entries per vector on, the compiled radix-sort path is used (measured
# 2–4× faster than numpy's sort for 10^4 … 10^7 float64 entries; see bench/compressibility.py).
_RADIX_MIN = 1 << 12


def _check_p(p: Any) -> float:
    return check_real("p", p, 0.0, None, low_open=True)


def _check_x(x: Any) -> np.ndarray:
    arr = check_array("x", x, min_size=1)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    return arr


def _powered_sorted(a: np.ndarray, p: float) -> np.ndarray:
    """Rows of (|a| / max|a|)^p sorted ascending (float64), shape (m, n); a is (m, n) float."""
    m, n = a.shape
    out = np.empty((m, n), dtype=np.float64)
    if n >= _RADIX_MIN:
        _k.powered_sorted_rows(np.ascontiguousarray(a), p, out)
        return out
    mags = np.abs(a, dtype=np.float64) if a.dtype != np.float64 else np.abs(a)
    mx = mags.max(axis=1, keepdims=True)
    mx[mx == 0.0] = 1.0
    np.divide(mags, mx, out=out)
    if p == 2.0:
        np.square(out, out=out)
    elif p != 1.0:
        np.power(out, p, out=out)
    out.sort(axis=1)
    return out


def relative_errors(x: Any, p: float = 2.0, axis: int | None = None) -> np.ndarray:
    """Relative best k-term errors σ_k(x)_p / ‖x‖_p for every k = 0, …, n at once.

    Parameters
    ----------
    x : array_like of finite reals, at least one entry
        The vector (``axis=None``: ``x`` is flattened) or a stack of vectors
        laid along ``axis``.
    p : float > 0
        Exponent of the ℓ_p (quasi-)norm; p = 2 is the Frobenius/ℓ₂ error.
    axis : int or None
        Axis holding the vectors. The result has length n + 1 along that axis
        (entry k is the error after keeping the k largest magnitudes), the
        other axes unchanged.

    Returns
    -------
    ndarray of float64 in [0, 1], non-increasing along ``axis``; entry 0 is 1
    (0 for a zero vector) and entry n is 0.

    Notes
    -----
    σ_k(x)_p^p = Σ_{i>k} |x|_(i)^p (Foucart & Rauhut 2013, Thm 2.5 and the
    remark before it). With c_j the sum of the j smallest values of |x|^p
    (c_0 = 0), σ_k^p = c_{n−k}, so r[k] = (c_{n−k}/c_n)^{1/p}: one sort and one
    cumulative sum from the small end. For n ≥ 2^12 a compiled LSD radix sort
    on the IEEE bit patterns and a compensated (Kahan) cumulative sum are used;
    below that, numpy's sort and cumsum.
    """
    arr = _check_x(x)
    p = _check_p(p)
    if axis is None:
        a2 = arr.reshape(1, -1)
        moved = False
    else:
        axis = check_int("axis", axis, -arr.ndim, arr.ndim - 1)
        if arr.shape[axis] == 0:
            raise ValueError("x must have at least one entry along axis")
        a2 = np.moveaxis(arr, axis, -1)
        lead_shape = a2.shape[:-1]
        a2 = a2.reshape(-1, a2.shape[-1])
        moved = True
    m, n = a2.shape
    s = _powered_sorted(a2, p)
    out = np.empty((m, n + 1), dtype=np.float64)
    _k.relative_from_sorted(s, p, out)
    if not moved:
        return out[0]
    out = out.reshape(lead_shape + (n + 1,))
    return np.moveaxis(out, -1, axis)


def kept_count(kappa: float, n: int) -> int:
    """k = ⌈κ n⌉, with κ n within a few ulps of an integer rounded to it (so 0.7·10 keeps 7)."""
    v = kappa * n
    r = round(v)
    if abs(v - r) <= 8.0 * np.finfo(float).eps * max(1.0, abs(v)):
        return int(r)
    return int(math.ceil(v))


def _tail_power_sum(mags: np.ndarray, k: int, p: float) -> tuple[float, float, float]:
    """(σ_k^p / mx^p, ‖x‖_p^p / mx^p, mx) with mags = |x| flattened (float64)."""
    n = mags.size
    mx = float(mags.max())
    if mx == 0.0:
        return 0.0, 0.0, 0.0
    y = mags / mx
    if p == 2.0:
        np.square(y, out=y)
    elif p != 1.0:
        np.power(y, p, out=y)
    # Kahan summation: error ≤ 2u·Σ|y| whatever the order, so no sort is needed
    total = float(_k.kahan_sum(y))
    if k >= n:
        return 0.0, total, mx
    if k == 0:
        return total, total, mx
    # the n − k smallest values (a partial sort), compensated sum: relative accuracy
    # on the tail itself, however small it is compared with the total
    part = np.partition(y, n - k - 1)[: n - k]
    tail = float(_k.kahan_sum(part))
    return tail, total, mx


def best_k_term_error(x: Any, k: int, p: float = 2.0) -> float:
    """Absolute best k-term error σ_k(x)_p = (Σ_{i>k} |x|_(i)^p)^{1/p} of the flattened x.

    ``k`` is an integer in [0, n]; k = 0 gives ‖x‖_p and k = n gives 0.
    One partial sort (``numpy.partition``) and a compensated sum instead of a full sort.
    """
    arr = _check_x(x)
    p = _check_p(p)
    n = arr.size
    k = check_int("k", k, 0, n)
    mags = np.abs(arr.ravel()).astype(np.float64, copy=False)
    tail, _total, mx = _tail_power_sum(mags, k, p)
    return mx * tail ** (1.0 / p) if tail > 0.0 else 0.0


def relative_error_at(x: Any, kappa: float, p: float = 2.0) -> float:
    """σ_{⌈κn⌉}(x)_p / ‖x‖_p of the flattened x: the relative error after keeping a fraction κ ∈ [0, 1].

    This is the statistic whose almost-sure limit for iid entries is G_p[F](κ)
    (Gribonval, Cevher & Davies 2012, Prop. 1); see :mod:`theory.compressibility`.
    """
    arr = _check_x(x)
    p = _check_p(p)
    kappa = check_probability("kappa", kappa)
    n = arr.size
    k = kept_count(kappa, n)
    mags = np.abs(arr.ravel()).astype(np.float64, copy=False)
    tail, total, _mx = _tail_power_sum(mags, k, p)
    if total == 0.0:
        return 0.0
    return (tail / total) ** (1.0 / p)


def prunable_fraction(x: Any, eps: float, p: float = 2.0) -> float:
    """Largest fraction m/n of entries that can be set to 0 with relative ℓ_p error ≤ ε.

    Removing the m smallest magnitudes is optimal, so the answer is
    max{m/n : c_m ≤ ε^p c_n} with c_m the sum of the m smallest |x_i|^p
    (Barsbey et al. 2021, NeurIPS, prune "at fixed relative L2 error").
    ``eps`` must be in (0, 1); x is flattened. A zero vector is fully prunable.
    """
    arr = _check_x(x)
    eps = check_probability("eps", eps, open_low=True, open_high=True)
    p = _check_p(p)
    a2 = arr.reshape(1, -1)
    n = a2.shape[1]
    s = _powered_sorted(a2, p)[0]
    m = _k.count_prunable(s, eps**p)
    return m / n


def is_compressible(x: Any, kappa: float, eps: float, p: float = 2.0) -> bool:
    """(κ, ε)-compressibility: keeping the ⌈κn⌉ largest magnitudes leaves relative ℓ_p error ≤ ε.

    ``kappa`` in [0, 1] (fraction kept), ``eps`` in (0, 1); x is flattened.
    """
    arr = _check_x(x)
    kappa = check_probability("kappa", kappa)
    eps = check_probability("eps", eps, open_low=True, open_high=True)
    p = _check_p(p)
    n = arr.size
    k = kept_count(kappa, n)
    mags = np.abs(arr.ravel()).astype(np.float64, copy=False)
    tail, total, _mx = _tail_power_sum(mags, k, p)
    return bool(tail <= eps**p * total)
