"""The block-sum tail-index estimator computed in one streaming pass over a scalar sample.

Mohammadi, Mohammadpour & Ogata (2015, Metrika 78, "On estimating the tail index and the
spectral measure of multivariate α-stable distributions"), Corollary 2.4: if X₁, …, X_N are iid
strictly α-stable and N = m·K, the block sums Y_i = Σ_{j=(i−1)m+1}^{im} X_j (i = 1..K) satisfy
Y_i =ᵈ m^{1/α} X₁, hence E ln|Y| − E ln|X| = (1/α) ln m and

    1/α̂ = [ (1/K) Σ_i ln|Y_i| − (1/N) Σ_j ln|X_j| ] / ln m.

Şimşekli, Sagun & Gürbüzbalaban (2019, ICML, "A tail-index analysis of stochastic gradient
noise in deep neural networks") apply it to the pooled coordinates of the gradient noise with
m = the largest divisor of N that is ≤ √N (:func:`block_size`; their code, ``alpha_estimator``
in ``umutsimsekli/sgd_tail_index``). Both means are sums, so the estimate needs only four
running totals — Σ ln|X_j|, its count, Σ ln|Y_i|, its count — and the partial sum of the block
in progress: :class:`StreamingBlockSum` takes the sample in pieces of any length (a block may
straddle two pieces) and never stores it. It equals
:func:`simulations.tail_index.block_sum` ``(x, block_sizes=[m], center=None)`` on the
concatenated sample, to rounding: only samples in complete blocks enter the mean of ln|X|, and
exact zeros (ln 0 = −∞) are left out of both means. With ``eps > 0`` every term is
ln(|·| + eps) instead, as in the paper's code (eps = ``np.spacing(1)`` ≈ 2.2·10⁻¹⁶ there),
zeros included.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_int, check_real
from simulations.tail_index import N_MAX

__all__ = ["block_size", "StreamingBlockSum", "EPS_MAX", "N_MAX"]

#: largest ``eps`` of ln(|x| + eps): above it the shift dominates any gradient-noise magnitude
EPS_MAX = 1.0


def block_size(n: int) -> int:
    """m = the largest divisor of n that is at most √n (1 when n is prime or 1).

    The block size of Şimşekli et al. (2019): K = n/m ≥ m blocks, no sample dropped.
    ``n`` is an integer in [1, :data:`N_MAX` = 10¹²] (the search takes √n ≤ 10⁶ steps, vectorised).
    """
    n = check_int("n", n, 1, N_MAX)
    r = math.isqrt(n)
    d = np.arange(1, r + 1, dtype=np.int64)
    return int(d[n % d == 0][-1])


def log_abs(x: np.ndarray, eps: float, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(ln(|x| + eps), zeros) in x's float dtype (written into ``out`` when given). With eps = 0 an exact
    zero's log is written as 0 (it adds nothing to a sum) and ``zeros`` holds the sorted indices of the
    zeros (None when there is none); with eps > 0 ``zeros`` is None."""
    a = np.abs(x, out=out)
    zeros = None
    if eps > 0.0:
        a += a.dtype.type(eps)
    elif a.size and not a.min() > 0.0:
        zeros = np.flatnonzero(a == 0.0)
        a[zeros] = 1.0
    return np.log(a, out=a), zeros


def zeros_in(zeros: np.ndarray | None, lo: int, hi: int) -> np.ndarray | None:
    """The zero indices of :func:`log_abs` that fall in [lo, hi), relative to lo (None stays None)."""
    if zeros is None:
        return None
    a, b = np.searchsorted(zeros, (lo, hi))
    return zeros[a:b] - lo


class StreamingBlockSum:
    """Running totals of the Cor. 2.4 estimator over a scalar sample fed in pieces (module docstring).

    Parameters
    ----------
    m : int in [2, :data:`N_MAX`]
        Block size: consecutive samples 1..m, m+1..2m, … of the whole stream form the blocks.
    eps : float in [0, :data:`EPS_MAX`]
        0: exact zeros are left out of both means (as :func:`simulations.tail_index.block_sum`);
        > 0: ln(|·| + eps) for every sample and block sum (the paper's code).

    :meth:`update` appends a piece; :attr:`alpha` is the estimate over the complete blocks so far.
    Memory is O(1) beyond the piece being processed; arithmetic in float64 (a float32 piece keeps
    float32 logarithms, summed in float64).
    """

    def __init__(self, m: int, eps: float = 0.0):
        self.m = check_int("m", m, 2, N_MAX)
        self.eps = check_real("eps", eps, 0.0, EPS_MAX)
        self._log_m = math.log(self.m)
        self.n = 0            # samples seen
        self.n_blocks = 0     # complete blocks
        self._slx = 0.0       # Σ ln|x| over the samples of complete blocks (zeros left out unless eps > 0)
        self._nx = 0
        self._sly = 0.0       # Σ ln|y| over complete blocks
        self._ny = 0
        self._carry = 0.0     # the block in progress: partial sum, length, Σ ln|x| and its count
        self._carry_len = 0
        self._carry_slx = 0.0
        self._carry_nx = 0

    @staticmethod
    def _count(zeros: np.ndarray | None, lo: int, hi: int) -> int:
        """Samples in [lo, hi) that enter the mean of ln|x|: all but the exact zeros (eps = 0)."""
        if zeros is None:
            return hi - lo
        a, b = np.searchsorted(zeros, (lo, hi))
        return hi - lo - int(b - a)

    def _close_carry(self) -> None:
        y = abs(self._carry)
        if self.eps > 0.0:
            self._sly += math.log(y + self.eps)
            self._ny += 1
        elif y > 0.0:
            self._sly += math.log(y)
            self._ny += 1
        self._slx += self._carry_slx
        self._nx += self._carry_nx
        self.n_blocks += 1
        self._carry, self._carry_len, self._carry_slx, self._carry_nx = 0.0, 0, 0.0, 0

    def update(self, x: Any) -> None:
        """Append the samples of ``x`` (a 1-D array of finite reals, any length) to the stream."""
        x = check_array("x", x, ndim=1)
        self._push(x, *log_abs(x, self.eps))

    def _push(self, x: np.ndarray, lx: np.ndarray, zeros: np.ndarray | None) -> None:
        """Append ``x`` with its precomputed ``log_abs(x, eps)`` (callers that share the logs; ``zeros``
        relative to x's start, :func:`zeros_in`).

        Each piece's sums are pairwise sums in x's dtype (relative rounding ~ log₂(n)·ε of that dtype),
        accumulated in float64.
        """
        m, n, i = self.m, x.size, 0
        if self._carry_len:
            take = min(m - self._carry_len, n)
            self._carry += float(np.sum(x[:take], dtype=np.float64))
            self._carry_slx += float(np.sum(lx[:take], dtype=np.float64))
            self._carry_nx += self._count(zeros, 0, take)
            self._carry_len += take
            i = take
            if self._carry_len == m:
                self._close_carry()
        k = (n - i) // m
        if k:
            y = np.abs(x[i:i + k * m].reshape(k, m).sum(axis=1).astype(np.float64))
            self._slx += float(np.sum(lx[i:i + k * m]))
            self._nx += self._count(zeros, i, i + k * m)
            if self.eps > 0.0:
                self._sly += float(np.sum(np.log(y + self.eps)))
                self._ny += k
            else:
                nz = y[y > 0.0]
                self._sly += float(np.sum(np.log(nz)))
                self._ny += nz.size
            self.n_blocks += k
            i += k * m
        if i < n:  # start the next block (nothing is in progress here)
            self._carry = float(np.sum(x[i:], dtype=np.float64))
            self._carry_slx = float(np.sum(lx[i:], dtype=np.float64))
            self._carry_nx = self._count(zeros, i, n)
            self._carry_len = n - i
        self.n += n

    @property
    def alpha(self) -> float:
        """α̂ over the complete blocks so far: ``inf`` when the block means do not exceed the sample means
        (no detectable tail), ``nan`` before a complete block with a non-zero sum."""
        if self._nx == 0 or self._ny == 0:
            return math.nan
        diff = (self._sly / self._ny - self._slx / self._nx) / self._log_m
        return math.inf if diff <= 0.0 else 1.0 / diff

    @property
    def pending(self) -> int:
        """Samples of the incomplete block at the end of the stream (left out of the estimate)."""
        return self._carry_len
