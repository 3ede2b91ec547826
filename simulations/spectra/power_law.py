"""Continuous power-law fit of a positive sample's upper tail (Clauset, Shalizi & Newman 2009).

Model: p(x) = ((α − 1)/x_min) (x/x_min)^{−α} for x ≥ x_min, i.e. the tail CDF
F(x) = 1 − (x/x_min)^{1−α}.

* **Exponent** (fixed x_min): the maximum-likelihood estimate of Clauset, Shalizi & Newman
  (SIAM Review 51, 2009, eq. 3.1) on the n_tail points x_i ≥ x_min,
  α̂ = 1 + n_tail / Σ_i ln(x_i / x_min),
  with standard error (α̂ − 1)/√n_tail (their eq. 3.2). For an exact Pareto tail,
  2 n_tail (α − 1)/(α̂ − 1) ~ χ²_{2 n_tail}, so α̂ is slightly biased upward by a factor
  n_tail/(n_tail − 1).
* **Lower cut-off** (their §3.3): x_min minimises the Kolmogorov–Smirnov distance between the
  empirical CDF of the tail and the fitted F, over candidate values. The distance is computed as
  in Clauset's reference code ``plfit``, the ``powerlaw`` package (Alstott, Bullmore & Plenz 2014)
  and WeightWatcher (Martin & Mahoney):
  D = max_{k} |S_k − F(x_(k))| over the sorted tail x_(1) ≤ … ≤ x_(n_tail), with
  S_k = (number of tail points < x_(k))/n_tail, the empirical CDF just left of each point. (The
  exact supremum distance also compares the right limits S_k + 1/n_tail; the two differ by at most
  1/n_tail.) Ties (equal values) share the empirical CDF of their first occurrence.

Candidates for x_min (default): the distinct data values that leave at least :data:`MIN_TAIL`
points at or above them and a non-constant tail — all of them, or :data:`CANDIDATES_MAX`
of them evenly spaced in rank when there are more (for n ≤ CANDIDATES_MAX + MIN_TAIL
eigenvalues every candidate is tried, as ``powerlaw`` does, apart from the minimum tail size).
The scan is vectorised: each block of candidates is one 2-D array operation over the tail,
O(n × candidates) work and bounded memory.

Differences from the two reference implementations, stated so results can be compared:
``powerlaw`` 2.0 scans every distinct value but the largest (tails down to 2 points), restricts
α to (0, 3) by default (candidates with α̂ ≥ 3 are marked invalid and skipped) and refines α̂
numerically outside (1.5, 3]; WeightWatcher's own fit (``WW_powerlaw.WWFit``) scans every data
point but the largest with the closed form above and no range on α. Here: the closed form, no
range on α, tails of at least MIN_TAIL points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_positive

__all__ = ["PowerLawFit", "power_law_fit", "MIN_TAIL", "CANDIDATES_MAX", "N_MAX"]

#: fewest points a fitted tail may hold: α̂'s standard error is (α − 1)/√n_tail (a third of α − 1 at
#: 10 points) and a KS distance on fewer points is mostly noise (typically ≈ 0.87/√n_tail); it is
#: also WeightWatcher's minimum number of eigenvalues for a layer (``min_evals`` = 10)
MIN_TAIL = 10
#: most x_min candidates tried; beyond this many distinct values they are thinned evenly in rank
CANDIDATES_MAX = 1000
#: largest sample accepted: the scan costs about n × CANDIDATES_MAX / 2 operations (a few seconds
#: at 10⁶; a layer's ESD has min(out, in) values, far fewer)
N_MAX = 10**6
_BLOCK = 1 << 20   # elements of one block of the vectorised scan (8 MB per float64 temporary)


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted power-law tail p(x) ∝ x^{−α}, x ≥ xmin.

    Attributes
    ----------
    alpha : float > 1
        MLE exponent of the density, α̂ = 1 + n_tail / Σ ln(x_i/xmin).
    xmin : float > 0
        Lower cut-off of the tail (chosen by minimum KS distance unless fixed).
    ks_distance : float in [0, 1]
        Kolmogorov–Smirnov distance D between the tail's empirical CDF and the fit.
    n_tail : int
        Number of points x_i ≥ xmin.
    n : int
        Size of the whole sample.
    """

    alpha: float
    xmin: float
    ks_distance: float
    n_tail: int
    n: int

    @property
    def standard_error(self) -> float:
        """(α̂ − 1)/√n_tail, the MLE's asymptotic standard error (Clauset et al. 2009, eq. 3.2)."""
        return (self.alpha - 1.0) / math.sqrt(self.n_tail)


def _sample(x: Any) -> np.ndarray:
    arr = check_array("x", x, ndim=1, dtype=np.float64)
    if arr.size < MIN_TAIL:
        raise ValueError(f"x must have at least MIN_TAIL={MIN_TAIL} values for a power-law fit, got {arr.size}")
    if arr.size > N_MAX:
        raise ValueError(f"x must have at most N_MAX={N_MAX} values, got {arr.size}")
    if np.any(arr <= 0.0):
        raise ValueError("x must hold only values > 0 (a power law lives on (0, inf)); drop the zeros first")
    return np.sort(arr)


def _scan(logx: np.ndarray, first: np.ndarray, starts: np.ndarray, logc: np.ndarray):
    """α̂ and KS distance for each candidate (tail start index ``starts[i]``, log cut-off ``logc[i]``).

    ``first[k]`` is the index of the first occurrence of the k-th sorted value. Candidates are
    processed in blocks sorted by start so that one block is one 2-D array computation.
    """
    n = logx.size
    m = starts.size
    alphas = np.empty(m)
    dists = np.empty(m)
    i0 = 0
    while i0 < m:
        j0 = int(starts[i0])
        width = n - j0
        i1 = min(m, i0 + max(1, _BLOCK // width))
        J = starts[i0:i1, None]
        K = np.arange(j0, n)[None, :]
        inside = K >= J
        d = np.where(inside, logx[None, j0:] - logc[i0:i1, None], 0.0)   # ln(x_k / x_min)
        nt = (n - starts[i0:i1]).astype(np.float64)
        a = 1.0 + nt / d.sum(axis=1)
        theo = -np.expm1((1.0 - a)[:, None] * d)                          # 1 − (x_k/x_min)^{1−α}
        emp = (first[None, j0:] - J) / nt[:, None]
        dists[i0:i1] = np.max(np.where(inside, np.abs(theo - emp), 0.0), axis=1)
        alphas[i0:i1] = a
        i0 = i1
    return alphas, dists


def _candidates(xs: np.ndarray, first: np.ndarray, xmin_candidates: Any):
    n = xs.size
    if xmin_candidates is None:
        starts = np.flatnonzero(first == np.arange(n))            # first occurrence of each distinct value
        starts = starts[(n - starts >= MIN_TAIL) & (xs[starts] < xs[-1])]
        if starts.size > CANDIDATES_MAX:
            starts = starts[np.unique(np.round(np.linspace(0, starts.size - 1, CANDIDATES_MAX)).astype(np.int64))]
        if starts.size == 0:
            raise ValueError(f"x must have a non-constant upper tail of at least MIN_TAIL={MIN_TAIL} values "
                             "(too many ties at the top)")
        return starts, xs[starts]
    c = check_array("xmin_candidates", xmin_candidates, ndim=1, min_size=1, dtype=np.float64)
    if c.size > N_MAX:
        raise ValueError(f"xmin_candidates must have at most N_MAX={N_MAX} values, got {c.size}")
    if np.any(c <= 0.0):
        raise ValueError("xmin_candidates must hold only values > 0")
    c = np.unique(c)
    starts = np.searchsorted(xs, c, side="left")
    keep = (n - starts >= MIN_TAIL) & (c < xs[-1])
    if not np.any(keep):
        raise ValueError(f"xmin_candidates: none leaves at least MIN_TAIL={MIN_TAIL} values of x at or above it "
                         f"(and a non-constant tail); the {MIN_TAIL}-th largest x is {xs[n - MIN_TAIL]:g}")
    return starts[keep], c[keep]


def power_law_fit(x: Any, *, xmin: float | None = None, xmin_candidates: Any = None) -> PowerLawFit:
    """Fit a continuous power law p(x) ∝ x^{−α}, x ≥ xmin, to the upper tail of ``x``.

    Parameters
    ----------
    x : 1-D array of finite values > 0, MIN_TAIL to N_MAX of them
        The sample (e.g. the eigenvalues of a layer's correlation matrix).
    xmin : float > 0, optional
        A fixed lower cut-off: α̂ is the closed-form MLE on the points ≥ xmin, which must number at
        least MIN_TAIL and not all equal xmin. Default: chosen by minimum KS distance.
    xmin_candidates : 1-D array of values > 0, optional
        The cut-offs to scan instead of the default (the distinct values of x, thinned to
        CANDIDATES_MAX); candidates leaving fewer than MIN_TAIL points (or a constant tail) are
        ignored, and at least one must remain. Not allowed together with ``xmin``.

    Returns
    -------
    PowerLawFit
        α̂, xmin, the KS distance, n_tail and n. The smallest candidate wins ties in D.

    Raises
    ------
    ValueError
        Non-finite or non-positive x, too few values, a cut-off leaving too small a tail.
    """
    xs = _sample(x)
    n = xs.size
    first = np.searchsorted(xs, xs, side="left")
    logx = np.log(xs)
    if xmin is not None:
        if xmin_candidates is not None:
            raise ValueError("xmin and xmin_candidates are exclusive: give a fixed xmin or candidates to scan")
        xmin = check_positive("xmin", xmin)
        j = int(np.searchsorted(xs, xmin, side="left"))
        if n - j < MIN_TAIL:
            raise ValueError(f"xmin={xmin:g} leaves {n - j} values of x at or above it; at least MIN_TAIL={MIN_TAIL} "
                             f"are needed (the {MIN_TAIL}-th largest x is {xs[n - MIN_TAIL]:g})")
        if xs[-1] <= xmin:
            raise ValueError(f"xmin={xmin:g}: every value of x at or above it equals it (no tail to fit)")
        starts, cuts = np.array([j]), np.array([xmin])
    else:
        starts, cuts = _candidates(xs, first, xmin_candidates)
    alphas, dists = _scan(logx, first, starts, np.log(cuts))
    i = int(np.argmin(dists))
    return PowerLawFit(alpha=float(alphas[i]), xmin=float(cuts[i]),
                       ks_distance=float(dists[i]), n_tail=int(n - starts[i]), n=int(n))
