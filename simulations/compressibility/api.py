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

The scalar measures (:func:`best_k_term_error`, :func:`relative_error_at`,
:func:`is_compressible`) work for every p > 0: each power sum is written
Σ v_i^p = a^p·e^L with a = max v_i, and L = log Σ (v_i/a)^p is computed as
log1p of the sum of the other terms, or, when the terms are all close to 1
(p → 0), as log m + log1p(Σ expm1(p log(v_i/a))/m); the 1/p-th power is then
taken in log space. No intermediate under- or overflows, whatever p and the
magnitudes.

The vectorised measures (:func:`relative_errors`, :func:`prunable_fraction`)
share one sort of (|x|/max|x|)^p; a term below the smallest normal double
2^-1022 is flushed. With p ≤ :data:`P_MAX_VECTOR` = 16 this changes each
relative error by less than (n·2^-1022)^{1/p} ≤ 2^-60 (n ≤ 2^60), below an ulp
of 1; :func:`prunable_fraction` also requires ε^p ≥ :data:`EPS_POWER_MIN`
= 2^-900, so that its threshold ε^p·‖x‖_p^p stays far above the flushed terms.

Conventions: κ = k/n is the fraction of entries KEPT; a fraction 1 − κ is
pruned. For the zero vector every relative error is defined as 0 (the empty
approximation is exact), and everything is prunable.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_bool, check_int, check_probability, check_real
from simulations.compressibility import cpu as _k

__all__ = [
    "P_MAX_VECTOR",
    "EPS_POWER_MIN",
    "KEPT_N_MAX",
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

#: largest exponent p of the vectorised measures (relative_errors, prunable_fraction): with
#: p ≤ 16 the flushing of terms (|x_i|/max|x|)^p < 2^-1022 moves no relative error by 2^-60
P_MAX_VECTOR = 16.0
#: smallest ε^p accepted by prunable_fraction (its threshold ε^p·‖x‖_p^p stays above the flushed terms)
EPS_POWER_MIN = 2.0**-900
#: largest n of kept_count (κ·n is then computed exactly enough in double precision)
KEPT_N_MAX = 2**53


def _check_p(p: Any, vector: bool = False) -> float:
    if vector:
        return check_real("p", p, 0.0, P_MAX_VECTOR, low_open=True)
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
    p : float in (0, P_MAX_VECTOR] = (0, 16]
        Exponent of the ℓ_p (quasi-)norm; p = 2 is the Frobenius/ℓ₂ error. (Above 16 the
        flushing of tiny terms would be visible: use :func:`relative_error_at`, which has no
        upper limit on p.)
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
    p = _check_p(p, vector=True)
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
    """k = ⌈κ n⌉, the number of entries kept when keeping a fraction κ of n.

    ``kappa`` is a fraction in [0, 1] and ``n`` an integer in [0, KEPT_N_MAX] = [0, 2^53]; the
    result is in [0, n]. A product κ n within a few ulps of an integer is rounded to it (so
    0.7·10 keeps 7, not 8).
    """
    kappa = check_probability("kappa", kappa)
    n = check_int("n", n, 0, KEPT_N_MAX)
    v = kappa * n
    r = round(v)
    if abs(v - r) <= 8.0 * np.finfo(float).eps * max(1.0, abs(v)):
        return min(n, int(r))
    return min(n, int(math.ceil(v)))


def _log_power_sum(v: np.ndarray, p: float) -> tuple[float, float]:
    """(a, L) with Σ v_i^p = a^p · e^L, a = max v (v ≥ 0 float64, 1-D); (0, −inf) when v = 0.

    L = log Σ (v_i/a)^p ∈ [0, log m] (m = number of nonzero v_i) is computed without
    cancellation: when the mean of (v_i/a)^p is at least 1/4 and p < 1 (terms near 1, the
    regime p → 0), as log m + log1p(S/m) with S = Σ expm1(p log(v_i/a)) (each term relatively
    accurate); otherwise as log1p(R) with R the compensated sum of the terms other than one
    maximal entry.
    """
    a = float(v.max()) if v.size else 0.0
    if a == 0.0:
        return 0.0, -math.inf
    z = v[v > 0.0] / a
    np.minimum(z, 1.0, out=z)
    m = z.size
    if p == 2.0:
        zp = np.square(z)
    elif p == 1.0:
        zp = z.copy()
    else:
        zp = np.power(z, p)
    total = float(_k.kahan_sum(zp))
    if p < 1.0 and total >= 0.25 * m:
        s = float(_k.kahan_sum(np.expm1(p * np.log(z))))
        return a, math.log(m) + math.log1p(max(s / m, -1.0 + 1.0 / m))
    zp[int(np.argmax(z))] = 0.0
    return a, math.log1p(float(_k.kahan_sum(zp)))


def _split(x: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(the k largest, the n − k smallest) magnitudes of the flattened x, float64 (a partial sort)."""
    mags = np.abs(np.asarray(x, dtype=np.float64).ravel())
    n = mags.size
    if k <= 0:
        return mags[:0], mags
    if k >= n:
        return mags, mags[:0]
    part = np.partition(mags, n - k - 1)
    return part[n - k :], part[: n - k]


def _exp_scaled(a: float, e: float) -> float:
    """a · exp(e) for a > 0, without overflow of exp(e) when the product is representable (+inf if not)."""
    if e < 700.0:
        return a * math.exp(e)
    le = math.log(a) + e
    return math.exp(le) if le < 709.78 else math.inf


def best_k_term_error(x: Any, k: int, p: float = 2.0, *, log: bool = False) -> float:
    """Absolute best k-term error σ_k(x)_p = (Σ_{i>k} |x|_(i)^p)^{1/p} of the flattened x.

    ``k`` is an integer in [0, n]; k = 0 gives ‖x‖_p and k = n gives 0. Any p > 0.
    One partial sort (``numpy.partition``) and compensated sums instead of a full sort.

    With a = the largest discarded magnitude and m the number of nonzero discarded entries,
    a ≤ σ_k(x)_p ≤ m^{1/p}·a. For small p the upper end exceeds the largest double
    (m = 2 and p < 10⁻³ already give 2^{1000}·a): σ_k(x)_p itself is then not representable
    and ``log=False`` raises ``ValueError`` (naming ``p``) instead of returning ``inf``.
    ``log=True`` returns log σ_k(x)_p, finite for every p > 0 unless σ_k = 0 (then ``-inf``,
    the logarithm of the exact 0), computed as log a + L/p (see :func:`_log_power_sum`), so
    it is accurate to a relative rounding error in log σ.
    """
    arr = _check_x(x)
    p = _check_p(p)
    n = arr.size
    k = check_int("k", k, 0, n)
    log = check_bool("log", log)
    _head, tail = _split(arr, k)
    a, L = _log_power_sum(tail, p)
    if a == 0.0:
        return -math.inf if log else 0.0
    if log:
        return math.log(a) + L / p
    value = _exp_scaled(a, L / p)
    if not math.isfinite(value):
        raise ValueError(
            f"sigma_k(x)_p with k = {k}, p = {p:g} is exp({math.log(a) + L / p:.6g}), beyond the largest double "
            f"{np.finfo(float).max:g}: pass log=True for its logarithm, or use a larger p")
    return value


def _relative_error(arr: np.ndarray, k: int, p: float) -> float:
    """σ_k(x)_p / ‖x‖_p for a validated array, any p > 0, without under- or overflow."""
    n = arr.size
    head, tail = _split(arr, k)
    amax = float(np.max(np.abs(arr)))
    if amax == 0.0 or k >= n:
        return 0.0
    if k == 0:
        return 1.0
    at = float(tail.max())
    if at == 0.0:
        return 0.0
    # power sums in units of max|x| (the head holds the maximum: its sum is ≥ 1, the total ≥ 1)
    yh = np.minimum(head / amax, 1.0)
    yt = tail / amax
    h = float(_k.kahan_sum(yh**p))
    t = float(_k.kahan_sum(yt**p))
    total = h + t
    if t >= 0.5 * total:
        # the kept part is the small one: (1 − h/total)^{1/p}, no cancellation
        return min(1.0, math.exp(math.log1p(-h / total) / p))
    # the tail is the small one: its own scale, so that no term underflows
    _a, lt = _log_power_sum(tail, p)
    return min(1.0, _exp_scaled(at / amax, (lt - math.log(total)) / p) if at / amax > 0.0
               else math.exp(math.log(at) - math.log(amax) + (lt - math.log(total)) / p))


def relative_error_at(x: Any, kappa: float, p: float = 2.0) -> float:
    """σ_{⌈κn⌉}(x)_p / ‖x‖_p of the flattened x: the relative error after keeping a fraction κ ∈ [0, 1].

    This is the statistic whose almost-sure limit for iid entries is G_p[F](κ)
    (Gribonval, Cevher & Davies 2012, Prop. 1); see :mod:`theory.compressibility`.
    Any p > 0: when the discarded part carries at least half of ‖x‖_p^p the result is
    (1 − Σ_kept/Σ_all)^{1/p} through log1p, otherwise the discarded part's power sum is
    taken on its own scale (:func:`_log_power_sum`), so no term underflows.
    """
    arr = _check_x(x)
    p = _check_p(p)
    kappa = check_probability("kappa", kappa)
    return _relative_error(arr, kept_count(kappa, arr.size), p)


def prunable_fraction(x: Any, eps: float, p: float = 2.0) -> float:
    """Largest fraction m/n of entries that can be set to 0 with relative ℓ_p error ≤ ε.

    Removing the m smallest magnitudes is optimal, so the answer is
    max{m/n : c_m ≤ ε^p c_n} with c_m the sum of the m smallest |x_i|^p
    (Barsbey et al. 2021, NeurIPS, prune "at fixed relative L2 error").
    ``eps`` must be in (0, 1), ``p`` in (0, P_MAX_VECTOR] = (0, 16] and ε^p ≥ EPS_POWER_MIN = 2^-900
    (see the module docstring); x is flattened. A zero vector is fully prunable.
    """
    arr = _check_x(x)
    eps = check_probability("eps", eps, open_low=True, open_high=True)
    p = _check_p(p, vector=True)
    thr = eps**p
    if not thr >= EPS_POWER_MIN:
        raise ValueError(f"eps**p must be at least 2**-900 (eps = {eps:g}, p = {p:g} give {thr:g}): "
                         "increase eps or decrease p")
    a2 = arr.reshape(1, -1)
    n = a2.shape[1]
    s = _powered_sorted(a2, p)[0]
    m = _k.count_prunable(s, thr)
    return m / n


def is_compressible(x: Any, kappa: float, eps: float, p: float = 2.0) -> bool:
    """(κ, ε)-compressibility: keeping the ⌈κn⌉ largest magnitudes leaves relative ℓ_p error ≤ ε.

    ``kappa`` in [0, 1] (fraction kept), ``eps`` in (0, 1), any p > 0; x is flattened. The
    relative error is that of :func:`relative_error_at`.
    """
    arr = _check_x(x)
    kappa = check_probability("kappa", kappa)
    eps = check_probability("eps", eps, open_low=True, open_high=True)
    p = _check_p(p)
    return bool(_relative_error(arr, kept_count(kappa, arr.size), p) <= eps)
