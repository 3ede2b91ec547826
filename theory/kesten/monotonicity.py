"""Monotonicity of the tail index α of SGD on linear regression in η, σ², b and d.

Source: M. Gürbüzbalaban, U. Şimşekli & L. Zhu, "The Heavy-Tail Phenomenon in SGD", ICML 2021.
The paper's Theorems 3 and 4 as we read them:
(i) α is strictly decreasing in the step size η and in σ², provided α ≥ 1;
(ii) α is strictly increasing in the batch size b at fixed η, provided α ≥ 1;
(iii) α is strictly decreasing in d.
Each ``check_monotone_*`` compares α (:func:`theory.kesten.tail_index`) at two parameter values
and says whether the side condition applies and whether the direction holds. α is *not* a
function of η/b alone: at fixed η/b it changes with b (in our scans it decreases, the opposite
direction of (ii)); see :func:`alpha_at_fixed_ratio`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.kesten.numeric import BATCH_SIZE_MAX, D_MAX, S_MAX, KestenResult, _check_lr_sigma2, _params, tail_index
from theory.kesten.symbolic import h2
from theory.validation import check_int, check_positive

__all__ = ["MonotonicityCheck", "monotonicity_statements", "check_monotone_lr", "check_monotone_sigma",
           "check_monotone_batch_size", "check_monotone_d", "alpha_at_fixed_ratio"]


@dataclass(frozen=True)
class MonotonicityCheck:
    """A comparison of α at two parameter values.

    ``applies``: the paper's side condition holds at both points (and both
    have a stationary law); ``holds``: the stated direction is observed.
    A statement is violated only if ``applies and not holds``.
    """

    statement: str
    condition: str
    applies: bool
    holds: bool
    alpha_1: float | None
    alpha_2: float | None


def monotonicity_statements() -> dict[str, dict[str, str]]:
    """The paper's monotonicity claims with their exact side conditions (as encoded here)."""
    return {
        "lr": {"claim": "alpha strictly decreasing in the step size eta", "condition": "alpha >= 1",
               "source": "Thm 3 (ICML 2021)"},
        "sigma": {"claim": "alpha strictly decreasing in sigma^2", "condition": "alpha >= 1", "source": "Thm 3"},
        "batch_size": {"claim": "alpha strictly increasing in the batch size b at fixed eta", "condition": "alpha >= 1",
                       "source": "Thm 3"},
        "d": {"claim": "alpha strictly decreasing in d", "condition": "rho < 0 (stationary law exists)", "source": "Thm 4"},
    }


def _cmp(name, r1: KestenResult, r2: KestenResult, direction: int, need_alpha_ge_1: bool) -> MonotonicityCheck:
    both = r1.ok and r2.ok
    applies = both and (not need_alpha_ge_1 or (r1.alpha >= 1.0 and r2.alpha >= 1.0))
    holds = both and ((r2.alpha < r1.alpha) if direction < 0 else (r2.alpha > r1.alpha))
    st = monotonicity_statements()[name]
    return MonotonicityCheck(st["claim"], st["condition"], bool(applies), bool(holds), r1.alpha, r2.alpha)


def _ordered(n1: str, v1, n2: str, v2) -> None:
    if not v1 < v2:
        raise ValueError(f"{n1} must be less than {n2}, got {n1}={v1}, {n2}={v2}")


# Each check validates both points under its own parameter names (the domain of
# theory.kesten.tail_index: lr·sigma² at most LR_SIGMA2_MAX, batch sizes and d up to their maxima).
def check_monotone_lr(lr1, lr2, batch_size, d, sigma=1.0) -> MonotonicityCheck:
    """Step sizes η1 = lr1 < η2 = lr2 ⇒ α(η2) < α(η1), when α ≥ 1 at both."""
    lr1, batch_size, d, sigma = _params(lr1, batch_size, d, sigma, ("lr1", "batch_size", "d", "sigma"))
    lr2 = _params(lr2, batch_size, d, sigma, ("lr2", "batch_size", "d", "sigma"))[0]
    _ordered("lr1", lr1, "lr2", lr2)
    return _cmp("lr", tail_index(lr1, batch_size, d, sigma), tail_index(lr2, batch_size, d, sigma), -1, True)


def check_monotone_sigma(sigma1, sigma2, lr, batch_size, d) -> MonotonicityCheck:
    """σ1 < σ2 ⇒ α(σ2) < α(σ1), when α ≥ 1 at both."""
    lr, batch_size, d, sigma1 = _params(lr, batch_size, d, sigma1, ("lr", "batch_size", "d", "sigma1"))
    sigma2 = _params(lr, batch_size, d, sigma2, ("lr", "batch_size", "d", "sigma2"))[3]
    _ordered("sigma1", sigma1, "sigma2", sigma2)
    return _cmp("sigma", tail_index(lr, batch_size, d, sigma1), tail_index(lr, batch_size, d, sigma2), -1, True)


def check_monotone_batch_size(b1, b2, lr, d, sigma=1.0) -> MonotonicityCheck:
    """Batch sizes b1 < b2 at a fixed step size η ⇒ α(b2) > α(b1), when α ≥ 1 at both."""
    lr, b1, d, sigma = _params(lr, b1, d, sigma, ("lr", "b1", "d", "sigma"))
    b2 = _params(lr, b2, d, sigma, ("lr", "b2", "d", "sigma"))[1]
    _ordered("b1", b1, "b2", b2)
    return _cmp("batch_size", tail_index(lr, b1, d, sigma), tail_index(lr, b2, d, sigma), +1, True)


def check_monotone_d(d1, d2, lr, batch_size, sigma=1.0) -> MonotonicityCheck:
    """d1 < d2 ⇒ α(d2) < α(d1), when a stationary law exists at both."""
    lr, batch_size, d1, sigma = _params(lr, batch_size, d1, sigma, ("lr", "batch_size", "d1", "sigma"))
    d2 = _params(lr, batch_size, d2, sigma, ("lr", "batch_size", "d2", "sigma"))[2]
    _ordered("d1", d1, "d2", d2)
    return _cmp("d", tail_index(lr, batch_size, d1, sigma), tail_index(lr, batch_size, d2, sigma), -1, False)


def alpha_at_fixed_ratio(ratio: float = 0.05, d: int = 1, batch_sizes=(1, 2, 5, 10, 20, 30, 40), sigma: float = 1.0):
    """α for several batch sizes b at a fixed ratio η/b (η = ratio·b).

    α is *not* a function of η/b alone: at fixed η/b it changes with b. In
    every setting we scanned (d ∈ {1, 2, 3, 5, 10, 20, 100}, ratios up to the
    divergence boundary) it *decreases* in b at fixed η/b, the opposite
    direction of the paper's statement at fixed η (α increasing in b), so
    "α is monotone in b" depends on what is held fixed. h(2) at fixed
    g = ησ²/b is (1 − gb)² + g²b(d+1), minimal at b = 1/g − (d+1)/2; it is
    not monotone in b, but α > 2 ⟺ b < 2/g − (d + 1) is an interval, so
    α's crossing of 2 is monotone. Returns a dict of arrays
    ``batch_size, lr, alpha, h2, status`` (α nan where status is not "ok"); ``ratio`` is η/b, and
    ratio·max(batch_sizes)·sigma² is at most :data:`theory.kesten.LR_SIGMA2_MAX`.
    """
    ratio = check_positive("ratio", ratio)
    d = check_int("d", d, 1, D_MAX)
    sigma = check_positive("sigma", sigma)
    if isinstance(batch_sizes, (str, bytes)) or not hasattr(batch_sizes, "__iter__"):
        raise TypeError(f"batch_sizes must be a sequence of ints, got {type(batch_sizes).__name__}")
    bs = np.asarray([check_int("batch_sizes", x, 1, BATCH_SIZE_MAX) for x in batch_sizes], dtype=np.int64)
    if bs.size == 0:
        raise ValueError("batch_sizes must contain at least one batch size")
    _check_lr_sigma2(ratio * float(bs.max()), sigma, "ratio * max(batch_sizes) * sigma**2")
    etas = ratio * bs
    res = [tail_index(float(e), int(bb), d, sigma, s_max=S_MAX) for e, bb in zip(etas, bs)]
    alpha = np.array([r.alpha if r.ok else np.nan for r in res])
    h2v = np.array([h2(float(e), int(bb), d, sigma) for e, bb in zip(etas, bs)])
    return {"batch_size": bs, "lr": etas, "alpha": alpha, "h2": h2v, "status": np.array([r.status for r in res])}
