"""Closed forms of h(2m) = E‖M e₁‖^{2m} for SGD on linear regression (sympy).

Source: M. Gürbüzbalaban, U. Şimşekli & L. Zhu, "The Heavy-Tail Phenomenon in SGD", ICML 2021.
‖M e₁‖² =ᵈ (1 − gU)² + g²UW with g = ησ²/b, U ~ χ²_b, W ~ χ²_{d−1} (see :mod:`theory.kesten`);
expanding ((1 − gU)² + g²UW)^m and replacing U^i, W^j by the χ² moments
E χ²_k^n = k(k+2)⋯(k+2n−2) gives h(2m) as a polynomial in η, σ, b, d. In particular
h(2) = 1 − 2ησ² + η²σ⁴(b+d+1)/b, so that (log-convexity) α > 2 ⟺ h(2) < 1 ⟺ ησ² < 2b/(b+d+1).
The sympy symbols are η (``eta``), σ, b, d; the numeric twins take ``lr`` and ``batch_size``.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import sympy as sp

from theory.kesten.numeric import _params
from theory.validation import check_int

__all__ = ["h_even_symbolic", "h2_symbolic", "h4_symbolic", "h2", "h4", "variance_boundary_symbolic"]

M_MAX = 5  # largest m of h_even_symbolic (under a second there; m = 10 would take ~15 s)

_eta, _sigma, _b, _d = sp.symbols("eta sigma b d", positive=True)


def _chi2_moment(n: int, k) -> sp.Expr:
    """E[χ²_k^n] = k(k+2)⋯(k+2n−2)."""
    return sp.prod([k + 2 * i for i in range(n)]) if n > 0 else sp.Integer(1)


@lru_cache(maxsize=16)
def h_even_symbolic(m: int) -> sp.Expr:
    """h(2m) as a polynomial in η, σ, b, d (sympy), from the χ² moments.

    ‖Me₁‖^{2m} = ((1 − gU)² + g²UW)^m with g = ησ²/b; expand in U and W and
    replace U^i, W^j by E χ²_b^i, E χ²_{d−1}^j. ``m`` is an integer in [0, :data:`M_MAX` = 5]
    (under a second at m = 5; the expansion grows quickly with m, ~15 s at m = 10). h(2) and h(4)
    (m ≤ 2, the forms the paper prints) are simplified; larger m are put over the common
    denominator b^m only (a full ``simplify`` took seconds at m = 5 and minutes at m = 12).
    """
    m = check_int("m", m, 0, M_MAX)
    U, W = sp.symbols("U W", positive=True)
    g = _eta * _sigma**2 / _b
    poly = sp.Poly(sp.expand(((1 - g * U) ** 2 + g**2 * U * W) ** m), U, W)
    expr = sp.Integer(0)
    for (i, j), coeff in poly.terms():
        expr += coeff * _chi2_moment(i, _b) * _chi2_moment(j, _d - 1)
    expr = sp.expand(expr)
    return sp.factor_terms(sp.simplify(expr) if m <= 2 else sp.together(expr))


def h2_symbolic() -> sp.Expr:
    """h(2) = 1 − 2ησ² + η²σ⁴(b+d+1)/b."""
    return h_even_symbolic(1)


def h4_symbolic() -> sp.Expr:
    """h(4): a polynomial of degree 4 in ησ² (see :func:`h_even_symbolic`)."""
    return h_even_symbolic(2)


@lru_cache(maxsize=16)
def _h_even_numeric(m: int):
    return sp.lambdify((_eta, _b, _d, _sigma), h_even_symbolic(m), "numpy")


def _h_even(m: int, lr: Any, batch_size: Any, d: Any, sigma: Any) -> float:
    lr, batch_size, d, sigma = _params(lr, batch_size, d, sigma)
    try:
        v = float(_h_even_numeric(m)(lr, batch_size, d, sigma))
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise ValueError(f"h({2 * m}) overflows float64 at lr={lr:g}, sigma={sigma:g} (lr * sigma**2 = "
                         f"{lr * sigma * sigma:g}); theory.kesten.log_h({2 * m}, ...) gives its logarithm")
    return v


def h2(lr: Any, batch_size: Any, d: Any, sigma: Any = 1.0) -> float:
    """Closed form h(2) at step size η = ``lr``, batch size b = ``batch_size`` (from :func:`h2_symbolic`).

    Domain of :func:`theory.kesten.log_h` (lr·sigma² at most LR_SIGMA2_MAX); a value beyond float64's
    range (h(2) ~ (ησ²)²(b+d+1)/b) raises ``ValueError``.
    """
    return _h_even(1, lr, batch_size, d, sigma)


def h4(lr: Any, batch_size: Any, d: Any, sigma: Any = 1.0) -> float:
    """Closed form h(4) at step size η = ``lr``, batch size b = ``batch_size`` (from :func:`h4_symbolic`).

    Domain of :func:`theory.kesten.log_h`; h(4) ~ (ησ²)⁴ exceeds float64's range from ησ² ≈ 10⁷⁶
    on, which raises ``ValueError``.
    """
    return _h_even(2, lr, batch_size, d, sigma)


def variance_boundary_symbolic() -> sp.Expr:
    """The η solving h(2) = 1 besides η = 0: 2b/(σ²(b+d+1))."""
    sols = sp.solve(sp.Eq(h2_symbolic(), 1), _eta)
    sols = [s for s in sols if s != 0]
    return sp.simplify(sols[0])
