"""Shared pieces of :mod:`theory.compressibility`: the sympy symbols κ and p, input checks, and
the limiting prunable fraction 1 − κ* with G_p(κ*) = ε (any G_p: closed form, quadrature or SαS).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp
from scipy import optimize

from theory.validation import check_array, check_positive, check_real

__all__ = ["KAPPA", "P", "limit_prunable_fraction"]

#: κ, the fraction of entries kept
KAPPA = sp.Symbol("kappa", positive=True)
#: p, the exponent of the ℓ_p (quasi-)norm
P = sp.Symbol("p", positive=True)


# ----------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------
def check_kappa(kappa: Any) -> tuple[np.ndarray, bool]:
    """κ as a float64 array with entries in [0, 1], and whether it was given as a scalar."""
    scalar = np.ndim(kappa) == 0
    if scalar:
        k = np.array([check_real("kappa", kappa, 0.0, 1.0)])
    else:
        k = check_array("kappa", kappa, dtype=np.float64)
        if k.size and (k.min() < 0.0 or k.max() > 1.0):
            bad = k[(k < 0.0) | (k > 1.0)][0]
            raise ValueError(f"kappa must be in [0, 1], got {bad:g}")
    return k, scalar


def check_p(p: Any) -> float:
    """The exponent p > 0."""
    return check_positive("p", p)


def scalar_or_array(vals: np.ndarray, scalar: bool):
    """``float(vals[0])`` when the input κ was a scalar, else the array."""
    return float(vals[0]) if scalar else vals


def g_from_power(k: np.ndarray, p: float, g_pow: Callable[[float], float]) -> np.ndarray:
    """G_p on the κ values ``k``: 1 at κ = 0, 0 at κ = 1, and clip(g_pow(κ), 0, 1)^{1/p} between,
    where ``g_pow(κ)`` computes G_p(κ)^p for one κ ∈ (0, 1)."""
    out = np.empty_like(k)
    for i, kk in enumerate(k):
        if kk == 0.0:
            out[i] = 1.0
        elif kk == 1.0:
            out[i] = 0.0
        else:
            out[i] = min(1.0, max(0.0, g_pow(float(kk)))) ** (1.0 / p)
    return out


def limit_prunable_fraction(g: Callable[[float], float], eps: float) -> float:
    """1 − κ* with G(κ*) = ε: the limiting fraction of iid entries prunable at relative error ε.

    ``g`` is κ ↦ G_p(κ) (non-increasing from G(0) = 1 to G(1) = 0), e.g.
    ``lambda k: closed_form("normal")(k, 2.0)``. If G ≤ ε on (0, 1] (infinite
    moment) the answer is 1.
    """
    eps = check_real("eps", eps, 0.0, 1.0, low_open=True, high_open=True)
    tiny = 1e-15
    if g(tiny) <= eps:
        return 1.0
    kstar = optimize.brentq(lambda k: g(k) - eps, tiny, 1.0, xtol=1e-14, rtol=1e-13)
    return 1.0 - kstar
