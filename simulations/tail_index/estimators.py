"""Tail-index estimators used in the heavy-tailed SGD literature.

Given samples with P(|X| > x) ≈ c x^{−α}, estimate α:

* :func:`block_sum` — Mohammadi, Mohammadpour & Ogata (Metrika 78, 2015),
  the estimator of Şimşekli, Sagun & Gürbüzbalaban (ICML 2019) and Barsbey et al.
  (NeurIPS 2021). It uses the stability property: if X is strictly α-stable, the sum
  Y of K₁ iid copies has Y =ᵈ K₁^{1/α} X. Split K = K₁K₂ (centred) samples into
  K₂ blocks of K₁ consecutive samples, Y_i = Σ_{j in block i} X_j, and

  - mean form (their Cor. 2.4; the form in the papers' code):
    1/α̂ = [ (1/K₂) Σ_i ln‖Y_i‖ − (1/K) Σ_j ln‖X_j‖ ] / ln K₁;
  - order-statistic form (their Cor. 2.2), at the median order statistic
    k = ⌈K₂/2⌉: 1/α̂ = [ ln‖Y‖_(k) − ln‖X‖_(K₁k) ] / ln K₁, with ‖·‖_(i) the
    i-th largest (Y's k-th largest and X's K₁k-th largest estimate the same
    quantile level 1 − k/K₂).

  Vectors X_j ∈ R^d (rows of a 2-D array) use the Euclidean norm. The estimate
  is consistent for strictly stable laws of any α ∈ (0, 2] (a Gaussian gives
  α̂ → 2, so the estimator saturates at 2), and **biased for non-stable power
  laws** (Pareto, Student-t, Kesten-type laws), whose block sums are only
  approximately stable. For iid samples the mean form has, by the delta method,
  sd(α̂) ≈ α² √(V (1 + 1/K₁)/(K₂ ln²K₁)) with V = Var ln|X| = (π²/6)(1/α² + 1/2) for
  SαS (theory/REFERENCE.md §3 and §6, derived).

* :func:`hill` — Hill (1975): 1/α̂ = (1/k) Σ_{i≤k} ln|X|_(i) − ln|X|_(k+1);
  √k(α̂ − α) → N(0, α²) under second-order regular variation; exact
  (conditionally on the (k+1)-th order statistic) for Pareto tails; biased upward on
  stable laws near α = 2 (McCulloch 1997, J. Bus. Econ. Stat. 15).

* :func:`pickands` — Pickands (1975): γ̂ = ln[(X_(k) − X_(2k))/(X_(2k) − X_(4k))]/ln 2
  on the order statistics of |X|, α̂ = 1/γ̂ (high variance).

* :func:`weight_tail_index` — apply them to a layer's weight matrix the ways the
  papers do (all entries, rows as multivariate samples, row norms; median-centred,
  clipped at 2 as in Barsbey et al. 2021).

The bias/RMSE comparison on stable, Pareto and Student-t samples lives in
:mod:`simulations.tail_index.study`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_bool, check_choice, check_int, check_positive

__all__ = ["hill", "pickands", "block_sum", "weight_tail_index", "default_block_sizes", "N_MAX"]

#: largest n of :func:`default_block_sizes`: its divisor search takes √n steps (10⁶ here, well
#: under a second; an array of 10¹² float64 samples would be 8 TB)
N_MAX = 10**12

_FORMS = ("mean", "order")
_CENTERS = ("median", "mean", None)
_MODES = ("entries", "rows", "row_norms")
_ESTIMATORS = ("block_sum", "hill", "pickands")
_CONV_SAMPLES = ("filters", "kernels")


def _magnitudes(name: str, x: Any, min_size: int) -> np.ndarray:
    arr = check_array(name, x, dtype=np.float64)
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} samples for this estimator, got {arr.size}")
    return np.abs(arr.ravel())


def _default_k(n: int) -> int:
    return max(1, min(n - 1, math.ceil(math.sqrt(n))))


def hill(x: Any, k: int | None = None) -> float:
    """Hill estimate of the tail index α from the k largest |x| (all entries of ``x``, flattened).

    1/α̂ = (1/k) Σ_{i=1}^{k} ln|x|_(i) − ln|x|_(k+1), |x|_(1) ≥ |x|_(2) ≥ … (Hill 1975).

    Parameters
    ----------
    x : array of finite reals, at least 2 entries
        Samples (any shape; the magnitudes of all entries are used: a two-sided tail).
    k : int in [1, n − 1], optional
        Number of upper order statistics. Default ``ceil(sqrt(n))`` (clipped to
        [1, n−1]): k → ∞ and k/n → 0 as the estimator's consistency requires,
        and for stable laws, whose tail deviates from a pure power at order
        x^{−2α}, a small k keeps the bias down (the table in
        :mod:`simulations.tail_index.study` shows the bias left at this k).

    Returns
    -------
    float
        α̂ > 0; ``inf`` when the k+1 largest magnitudes are equal (no tail).

    Raises
    ------
    ValueError
        Fewer than 2 samples, k out of range, non-finite input, or |x|_(k+1) = 0.
    """
    a = _magnitudes("x", x, 2)
    n = a.size
    k = _default_k(n) if k is None else check_int("k", k, 1, n - 1)
    top = -np.partition(-a, k)[: k + 1]  # k+1 largest (unsorted, but index k is the (k+1)-th largest)
    ref = top[k]
    if ref <= 0.0:
        raise ValueError(f"x must have more than k={k} non-zero entries for the Hill estimator")
    h = float(np.mean(np.log(top[:k])) - math.log(ref))
    return math.inf if h <= 0.0 else 1.0 / h


def pickands(x: Any, k: int | None = None) -> float:
    """Pickands estimate of α from the order statistics of |x| (all entries, flattened).

    γ̂ = ln[(|x|_(k) − |x|_(2k)) / (|x|_(2k) − |x|_(4k))] / ln 2,  α̂ = 1/γ̂ (Pickands 1975,
    Ann. Statist. 3; |x|_(i) the i-th largest). Consistent for any extreme-value
    index γ when k → ∞, k/n → 0, but its variance is large.

    Parameters
    ----------
    x : array of finite reals, at least 4 entries
    k : int in [1, n // 4], optional
        Default ``min(ceil(sqrt(n)), n // 4)``.

    Returns
    -------
    float
        α̂ > 0, or ``inf`` when γ̂ ≤ 0 (no power-law tail detected, e.g. bounded data).
    """
    a = _magnitudes("x", x, 4)
    n = a.size
    kmax = n // 4
    k = min(math.ceil(math.sqrt(n)), kmax) if k is None else check_int("k", k, 1, kmax)
    s = np.sort(-np.partition(-a, 4 * k - 1)[: 4 * k])[::-1]  # the 4k largest, descending
    x1, x2, x4 = s[k - 1], s[2 * k - 1], s[4 * k - 1]
    num, den = x1 - x2, x2 - x4
    if num <= 0.0 or den <= 0.0:
        return math.inf
    g = math.log(num / den) / math.log(2.0)
    return math.inf if g <= 0.0 else 1.0 / g


def default_block_sizes(n: int) -> list[int]:
    """Block sizes K₁ used by :func:`block_sum` when none are given.

    The divisors of n in [2, √n] (so that K₂ = n/K₁ ≥ K₁ and no sample is
    dropped; Şimşekli et al. 2019 use the largest such divisor), at most 8 of
    them, spread geometrically. When n has fewer than 3 such divisors (prime n,
    for example), the geometric grid K₁ = round(n^e), e ∈ {0.25, 0.3, …, 0.5},
    is used instead and :func:`block_sum` drops the last n mod K₁ samples.

    ``n`` is an integer in [4, :data:`N_MAX` = 10¹²] (the divisor search takes √n steps).
    """
    n = check_int("n", n, 4, N_MAX)
    r = math.isqrt(n)
    divs = [d for d in range(2, r + 1) if n % d == 0]
    if len(divs) < 3:
        divs = sorted({max(2, round(n**e)) for e in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)})
        divs = [d for d in divs if n // d >= 2]
    if len(divs) > 8:
        idx = np.unique(np.round(np.geomspace(1, len(divs), 8)).astype(int) - 1)
        divs = [divs[i] for i in idx]
    return divs


def _center(a: np.ndarray, center) -> np.ndarray:
    if center == "median":
        return a - np.median(a, axis=0)
    if center == "mean":
        return a - np.mean(a, axis=0)
    return a


def _block_sum_one(xc: np.ndarray, lognx: np.ndarray, k1: int, form: str) -> float:
    n = xc.shape[0]
    k2 = n // k1
    m = k1 * k2
    y = xc[:m].reshape((k2, k1) + xc.shape[1:]).sum(axis=1)
    ny = np.abs(y) if y.ndim == 1 else np.linalg.norm(y, axis=1)
    lx = lognx[:m]
    if form == "mean":
        ok = ny > 0
        if not ok.any():
            return math.nan
        diff = float(np.mean(np.log(ny[ok])) - np.mean(lx[np.isfinite(lx)]))
    else:
        k = (k2 + 1) // 2
        yk = np.partition(ny, k2 - k)[k2 - k]  # k-th largest of K₂
        xk = np.partition(lx, m - k1 * k)[m - k1 * k]  # (K₁k)-th largest of K
        if yk <= 0 or not np.isfinite(xk):
            return math.nan
        diff = float(math.log(yk) - xk)
    diff /= math.log(k1)
    return math.inf if diff <= 0.0 else 1.0 / diff


def block_sum(
    x: Any,
    block_sizes: Sequence[int] | None = None,
    form: str = "mean",
    center: str | None = "median",
    clip: float | None = None,
) -> float:
    """Block-sum tail-index estimate (Mohammadi, Mohammadpour & Ogata 2015), median over block sizes.

    Parameters
    ----------
    x : array, shape (n,) or (n, d)
        Scalars, or n vectors in R^d (rows; their Euclidean norms enter). Samples
        are summed in blocks of K₁ **consecutive** entries/rows, in the given order.
    block_sizes : sequence of ints in [2, n // 2], optional
        The block sizes K₁. Default :func:`default_block_sizes` (divisors of n in [2, √n]).
        For each K₁ the first K₁·⌊n/K₁⌋ samples are used.
    form : {"mean", "order"}
        "mean": Cor. 2.4 of the paper (mean log-norms, the papers' code);
        "order": Cor. 2.2 at the median order statistic (see the module docstring).
    center : {"median", "mean", None}
        Subtract the (coordinate-wise) median or mean before summing; the
        estimator assumes strictly stable (centred) samples. Use "mean" only for
        α > 1 (the sample mean does not converge otherwise). Exact zeros created
        by centring are left out of the mean log-norm (ln 0 = −∞).
    clip : float > 0 or None
        Return ``min(α̂, clip)``; Barsbey et al. clip at 2 (the estimator
        saturates there). ``None``: no clipping.

    Returns
    -------
    float
        The median over block sizes of α̂(K₁) ∈ (0, ∞] (``inf`` when a block
        sum is not larger than its terms, i.e. no detectable tail).
    """
    check_choice("form", form, _FORMS)
    check_choice("center", center, _CENTERS)
    if clip is not None:
        clip = check_positive("clip", clip)
    arr = check_array("x", x, ndim=(1, 2), dtype=np.float64)
    n = arr.shape[0]
    if n < 4:
        raise ValueError(f"x must have at least 4 samples (rows) for the block-sum estimator, got {n}")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError("x must have at least one column, got shape " + str(arr.shape))
    if block_sizes is None:
        sizes = default_block_sizes(n)
    else:
        if isinstance(block_sizes, (int, np.integer)):
            block_sizes = [block_sizes]
        sizes = [check_int("block_sizes", b, 2, n // 2) for b in block_sizes]
        if not sizes:
            raise ValueError("block_sizes must contain at least one block size in [2, n // 2]")
    xc = _center(arr, center)
    nx = np.abs(xc) if xc.ndim == 1 else np.linalg.norm(xc, axis=1)
    if not np.any(nx > 0):
        raise ValueError("x must not be constant (all samples equal after centring)")
    with np.errstate(divide="ignore"):
        lognx = np.log(nx)
    ests = np.array([_block_sum_one(xc, lognx, k1, form) for k1 in sizes])
    ests = ests[~np.isnan(ests)]
    if ests.size == 0:
        raise ValueError("x has too many zero samples for the block-sum estimator")
    est = float(np.median(ests))
    if clip is not None:
        est = min(est, clip)
    return est


def weight_tail_index(
    W: Any,
    mode: str = "entries",
    estimator: str = "block_sum",
    center: bool = True,
    clip: float | None = 2.0,
    conv_samples: str = "filters",
    **kw,
) -> float:
    """Tail index of a layer's weights, the ways Şimşekli et al. 2019 / Barsbey et al. 2021 measure it.

    Parameters
    ----------
    W : array, shape (out, in); more dims are a convolution kernel (O, C, kh, kw) or the like,
        reshaped as ``conv_samples`` says
    mode : {"entries", "rows", "row_norms"}
        "entries": all out·in weights as scalar samples; "rows": each row (the
        incoming weights of one neuron) is a sample in R^in (block_sum only);
        "row_norms": the Euclidean norms of the rows as scalar samples.
    estimator : {"block_sum", "hill", "pickands"}
    center : bool
        Median-centre the samples first (coordinate-wise for "rows").
    clip : float > 0 or None
        Return ``min(α̂, clip)`` (2.0 by default, as in Barsbey et al.).
    conv_samples : {"filters", "kernels"}
        How a W of more than 2 dims becomes the (rows, columns) sample array: "filters" (default)
        reshapes to (out, −1), a row per output filter — (O, C·kh·kw) for a convolution;
        "kernels" needs a 4-D kernel (O, C, kh, kw) and reshapes it to (O·C, kh·kw), a row per
        2-D kernel slice W[o, c] (row o·C + c), as Barsbey, Sefidgaran, Erdogdu, Richard &
        Şimşekli 2021 (NeurIPS) measure convolution layers in their code. Both keep the entries
        in the same (row-major) order, so only modes "rows" and "row_norms" differ; a 2-D W is
        unchanged by "filters".
    **kw
        Passed to the estimator (``block_sizes``, ``form`` for block_sum; ``k`` for hill/pickands).
    """
    check_choice("mode", mode, _MODES)
    check_choice("estimator", estimator, _ESTIMATORS)
    check_choice("conv_samples", conv_samples, _CONV_SAMPLES)
    center = check_bool("center", center)
    if clip is not None:
        clip = check_positive("clip", clip)
    w = check_array("W", W, dtype=np.float64)
    if w.ndim < 2:
        raise ValueError(f"W must have ndim >= 2 (out, in), got shape {w.shape}")
    if w.size == 0:
        raise ValueError(f"W must have at least one entry, got shape {w.shape}")
    if conv_samples == "kernels":
        if w.ndim != 4:
            raise ValueError(f"conv_samples='kernels' needs a 4-D convolution kernel W (O, C, kh, kw), got shape {w.shape}")
        w = w.reshape(w.shape[0] * w.shape[1], -1)
    w = w.reshape(w.shape[0], -1)
    if (estimator == "block_sum" or center) and np.all(w == w.flat[0]):
        # centred, a constant W is all zeros, and the block-sum estimator needs a non-constant sample
        raise ValueError("W must not be constant (all weights equal) for a centred or block-sum estimate")
    if mode == "rows" and estimator != "block_sum":
        raise ValueError(f"mode='rows' needs estimator='block_sum' (multivariate), got estimator={estimator!r}")
    if mode == "entries":
        samples = w.ravel()
    elif mode == "rows":
        samples = w
    else:
        samples = np.linalg.norm(w, axis=1)
    if estimator == "block_sum":
        est = block_sum(samples, center="median" if center else None, clip=None, **kw)
    else:
        if center:
            samples = samples - np.median(samples)
        est = (hill if estimator == "hill" else pickands)(samples, **kw)
    if clip is not None:
        est = min(est, clip)
    return float(est)
