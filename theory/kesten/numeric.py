"""h(s), ρ and the tail index α of SGD's stationary law on linear regression (numerics).

Source: M. Gürbüzbalaban, U. Şimşekli & L. Zhu, "The Heavy-Tail Phenomenon in SGD", ICML 2021.
SGD x_k = M_k x_{k−1} + q_k, M_k = I − (η/b) Σ_{i∈Ω_k} a_i a_iᵀ, a_i ~ N(0, σ² I_d): with
h(s) = E‖M e₁‖^s and ρ = E log‖M e₁‖, a stationary law exists iff ρ < 0, and its tail index
α solves h(α) = 1 (Kesten–Goldie; Buraczewski, Damek & Mikosch 2016, Thm 4.4.15). h is
log-convex (Hölder) with h(0) = 1 and h'(0) = ρ, so when ρ < 0 the root is unique; it is found
by Brent's method on log h (:mod:`theory.kesten.quadrature` evaluates log h and ρ). The
public functions take ``lr`` (the step size η) and ``batch_size`` (the batch size b).

Domain: batch_size in [1, :data:`BATCH_SIZE_MAX` = 10⁴], d in [1, :data:`D_MAX` = 10⁴], and
ησ² = lr·sigma² at most :data:`LR_SIGMA2_MAX` = 10¹⁰⁰ (far past the divergence step size; the
quadrature's terms would overflow float64 beyond it). A product lr·sigma² that underflows to 0
is M = I to double precision.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq

from theory.kesten.quadrature import BATCH_SIZE_MAX, D_MAX, LR_SIGMA2_MAX, S_MAX
from theory.kesten.quadrature import _log_h_g as log_h_g
from theory.kesten.quadrature import _rho_g as rho_g
from theory.validation import check_int, check_positive, check_real

__all__ = ["KestenResult", "log_h", "h", "rho", "tail_index", "tail_index_curve", "lr_critical_variance",
           "lr_critical_divergence", "S_MAX", "BATCH_SIZE_MAX", "D_MAX", "LR_SIGMA2_MAX"]

_LOG_FLOAT_MAX = math.log(np.finfo(float).max)
_G_SMALL = 1e-9  # below s·g·b = 1e-9, log h(s) ≈ −sgb is too close to the quadrature's round-off


def _check_1d(name: str, v: Any) -> np.ndarray:
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers, got {type(v).__name__}")
    arr = np.asarray(v)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    arr = np.atleast_1d(arr.astype(np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return arr


def _check_lr_sigma2(lr: float, sigma: float, what: str = "lr * sigma**2") -> float:
    """ησ² = lr·σ·σ (no overflow error), at most :data:`LR_SIGMA2_MAX`."""
    es2 = lr * sigma * sigma
    if not es2 <= LR_SIGMA2_MAX:
        raise ValueError(f"{what} must be at most LR_SIGMA2_MAX = {LR_SIGMA2_MAX:g}, got {es2:g}")
    return es2


def _params(lr: Any, batch_size: Any, d: Any, sigma: Any,
            names: tuple[str, str, str, str] = ("lr", "batch_size", "d", "sigma")) -> tuple[float, int, int, float]:
    """Validated (step size η, batch size b, dimension d, data scale σ); ``names``: the caller's parameter names."""
    lr = check_positive(names[0], lr)
    batch_size = check_int(names[1], batch_size, 1, BATCH_SIZE_MAX)
    d = check_int(names[2], d, 1, D_MAX)
    sigma = check_positive(names[3], sigma)
    _check_lr_sigma2(lr, sigma, f"{names[0]} * {names[3]}**2")
    return lr, batch_size, d, sigma


def _g(lr: float, sigma: float, batch_size: int) -> float:
    return lr * sigma * sigma / batch_size


def log_h(s: Any, lr: Any, batch_size: Any, d: Any, sigma: Any = 1.0) -> float:
    """log h(s), h(s) = E‖M e₁‖^s = E[((1 − gU)² + g²UW)^{s/2}], g = ησ²/b.

    Parameters
    ----------
    s : float >= 0
        Moment order.
    lr : float > 0
        The step size η.
    batch_size : int >= 1
        The batch size b.
    d : int >= 1
        Dimension.
    sigma : float > 0
        Data standard deviation (a_i ~ N(0, σ² I_d)); lr·sigma² is at most :data:`LR_SIGMA2_MAX`.

    Accurate to ~1e-10 relative for moderate s (checked against adaptive
    double quadrature and the sympy polynomials h(2), h(4) in the tests).
    """
    s = check_real("s", s, 0.0, S_MAX * 4)
    lr, batch_size, d, sigma = _params(lr, batch_size, d, sigma)
    return log_h_g(s, _g(lr, sigma, batch_size), batch_size, d)


def h(s: Any, lr: Any, batch_size: Any, d: Any, sigma: Any = 1.0) -> float:
    """h(s) = E‖M e₁‖^s (see :func:`log_h`).

    Raises ``ValueError`` where h(s) exceeds float64's range (log h(s) > log(1.8e308) ≈ 709.8, e.g.
    a large s at a large step size): :func:`log_h` gives its logarithm there.
    """
    lh = log_h(s, lr, batch_size, d, sigma)
    if lh > _LOG_FLOAT_MAX:
        raise ValueError(f"h(s) overflows float64 at s={s}, lr={lr}, batch_size={batch_size}, d={d}, "
                         f"sigma={sigma} (log h = {lh:.6g}); use log_h")
    return float(math.exp(lh))


def rho(lr: Any, batch_size: Any, d: Any, sigma: Any = 1.0) -> float:
    """Top Lyapunov exponent ρ = E log‖M e₁‖ = ½ E log((1 − gU)² + g²UW)."""
    lr, batch_size, d, sigma = _params(lr, batch_size, d, sigma)
    return rho_g(_g(lr, sigma, batch_size), batch_size, d)


@dataclass(frozen=True)
class KestenResult:
    """Outcome of :func:`tail_index`.

    ``status`` is ``"ok"`` (``alpha`` solves h(α) = 1), ``"no_stationary_law"``
    (ρ ≥ 0: SGD does not converge in law; ``alpha`` is None) or
    ``"alpha_above_max"`` (α > ``s_max``: tails lighter than any power of
    practical interest; ``alpha`` is None). A tiny g = ησ²/b (α ≈ C/g) is settled without a
    root search: when h(s_max) < 1 at g₀ = 10⁻⁹/(s_max·b) ≥ g, convexity of h in g gives α > s_max;
    a g that underflows to 0 gives ``"alpha_above_max"`` with ``rho = -0.0``.
    """

    status: str
    alpha: float | None
    rho: float
    lr: float
    batch_size: int
    d: int
    sigma: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def finite_variance(self) -> bool | None:
        """True iff α > 2 (None when no stationary law)."""
        if self.status == "no_stationary_law":
            return None
        return self.status == "alpha_above_max" or bool(self.alpha > 2.0)


def _solve_g(g: float, b: int, d: int, s_max: float, xtol: float) -> tuple[str, float | None, float]:
    if g == 0.0:  # ησ²/b underflowed: M = I to double precision (ρ = −gb rounds to −0), α = ∞
        return "alpha_above_max", None, -0.0
    r = rho_g(g, b, d)
    if not r < 0.0:
        return "no_stationary_law", None, r
    g0 = _G_SMALL / (s_max * b)
    if g < g0 and log_h_g(s_max, g0, b, d) < -0.25 * _G_SMALL:
        # g ↦ h(s; g) is convex for s ≥ 1 (a norm of an affine function of g, to the power s) with
        # h(s; 0) = 1, so h(s_max; g0) < 1 gives h(s_max; g) < 1 for all g ≤ g0: α > s_max
        return "alpha_above_max", None, r
    f = lambda s: log_h_g(s, g, b, d)  # noqa: E731
    # upper bracket: h(s) > 1; start from the closed form h(2)
    h2v = 1.0 - 2.0 * g * b + g * g * b * (b + d + 1)
    hi = 2.0 if h2v > 1.0 else 4.0
    fhi = f(hi)
    while fhi <= 0.0:
        hi *= 2.0
        if hi > s_max:
            if f(s_max) <= 0.0:
                return "alpha_above_max", None, r
            hi = s_max
            fhi = f(hi)
            break
        fhi = f(hi)
    # lower bracket: h(s) < 1 (exists since h'(0) = ρ < 0)
    lo = min(1.0, 0.5 * hi)
    flo = f(lo)
    while flo >= 0.0:
        lo *= 0.25
        if lo < 1e-12:
            return "ok", 0.0, r
        flo = f(lo)
    a = brentq(f, lo, hi, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200)
    return "ok", float(a), r


def tail_index(
    lr: Any, batch_size: Any, d: Any, sigma: Any = 1.0, *, s_max: float = 100.0, xtol: float = 1e-12
) -> KestenResult:
    """Tail index α of the stationary law of SGD: the root of h(α) = 1 when ρ < 0.

    Returns a :class:`KestenResult`; when ρ ≥ 0 its status is
    ``"no_stationary_law"`` (no exception). ``s_max`` bounds the search. ``lr`` is the step
    size η, ``batch_size`` the batch size b.
    """
    lr, batch_size, d, sigma = _params(lr, batch_size, d, sigma)
    s_max = check_real("s_max", s_max, 1.0, S_MAX)
    xtol = check_positive("xtol", xtol)
    status, alpha, r = _solve_g(_g(lr, sigma, batch_size), batch_size, d, s_max, xtol)
    return KestenResult(status=status, alpha=alpha, rho=r, lr=lr, batch_size=batch_size, d=d, sigma=sigma)


def tail_index_curve(
    lrs: Any, batch_size: Any, d: Any, sigma: Any = 1.0, *, s_max: float = 100.0, xtol: float = 1e-8
) -> dict[str, np.ndarray]:
    """α(η) on a grid of step sizes ``lrs`` (for plots): dict of arrays ``lr, alpha, rho, status``.

    ``alpha`` is ``nan`` exactly where ``status`` is not ``"ok"`` (the status
    array says why: ``"no_stationary_law"`` or ``"alpha_above_max"``). max(lrs)·sigma² is at most
    :data:`LR_SIGMA2_MAX`.
    """
    lrs = _check_1d("lrs", lrs)
    if np.any(lrs <= 0):
        raise ValueError("lrs must all be in (0, inf)")
    batch_size = check_int("batch_size", batch_size, 1, BATCH_SIZE_MAX)
    d = check_int("d", d, 1, D_MAX)
    sigma = check_positive("sigma", sigma)
    _check_lr_sigma2(float(np.max(lrs)), sigma, "max(lrs) * sigma**2")
    s_max = check_real("s_max", s_max, 1.0, S_MAX)
    xtol = check_positive("xtol", xtol)
    alpha = np.full(lrs.shape, np.nan)
    rhos = np.empty(lrs.shape)
    status = np.empty(lrs.shape, dtype=object)
    for i, e in enumerate(lrs):
        st, a, r = _solve_g(_g(float(e), sigma, batch_size), batch_size, d, s_max, xtol)
        status[i] = st
        rhos[i] = r
        if a is not None:
            alpha[i] = a
    return {"lr": lrs, "alpha": alpha, "rho": rhos, "status": status.astype(str)}


def _lr_from_product(es2: float, sigma: float, what: str) -> float:
    """η = ησ²/σ², checked to be a positive finite float (σ² alone may overflow or underflow)."""
    lr = es2 / sigma / sigma
    if not (0.0 < lr < math.inf):
        raise ValueError(f"sigma must leave {what} = {es2:g}/sigma**2 a positive finite float64, got sigma={sigma:g}")
    return lr


def lr_critical_variance(batch_size: Any, d: Any, sigma: Any = 1.0) -> float:
    """Largest step size η with α > 2 (finite variance): h(2) < 1 ⟺ η < 2b/(σ²(b+d+1)).

    ``sigma`` must leave 2b/(σ²(b+d+1)) a positive finite float (σ roughly in [1e-154, 1e154]).
    """
    b = check_int("batch_size", batch_size, 1)
    d = check_int("d", d, 1)
    sigma = check_positive("sigma", sigma)
    return _lr_from_product(2.0 * b / (b + d + 1), sigma, "the critical step size")


def lr_critical_divergence(batch_size: Any, d: Any, sigma: Any = 1.0, *, lr_max: float | None = None) -> float:
    """The step size η_c where ρ(η_c) = 0: a stationary law exists iff η < η_c.

    ρ depends on η only through ησ²; ρ is negative for small ησ² and increases to +∞. The root
    c_c of ρ in c = ησ² is found by Brent's method (``lr_max`` > 0: a first upper bracket η,
    doubled until ρ > 0; lr_max·sigma² at most :data:`LR_SIGMA2_MAX`), and η_c = c_c/σ²
    (``sigma`` must leave it a positive finite float).
    """
    b = check_int("batch_size", batch_size, 1, BATCH_SIZE_MAX)
    d = check_int("d", d, 1, D_MAX)
    sigma = check_positive("sigma", sigma)
    lo = 0.999 * 2.0 * b / (b + d + 1)  # ρ < 0 there (h(2) < 1 ⇒ 2ρ ≤ log h(2) < 0)
    hi = 2.0 * lo
    if lr_max is not None:
        lr_max = check_positive("lr_max", lr_max)
        hi = max(hi, _check_lr_sigma2(lr_max, sigma, "lr_max * sigma**2"))
    while rho_g(hi / b, b, d) < 0.0:
        hi *= 2.0
    c = float(brentq(lambda e: rho_g(e / b, b, d), lo, hi, xtol=1e-12, rtol=1e-12))
    return _lr_from_product(c, sigma, "the critical step size")
