"""Quadrature for h(s) = E‖M e₁‖^s and ρ = E log‖M e₁‖ (SGD on least squares, Gaussian data).

Source: M. Gürbüzbalaban, U. Şimşekli & L. Zhu, "The Heavy-Tail Phenomenon in SGD", ICML 2021.
With g = ησ²/b, U ~ χ²_b and W ~ χ²_{d−1} independent, ‖M e₁‖² =ᵈ (1 − gU)² + g²UW
(see :mod:`theory.kesten`). Here, all in log space so that h(s) does not overflow for large s:

* inner expectation over W (k = (d−1)/2, p = s/2): E[(A + BW)^p] = (2B)^p E[(z + G)^p],
  z = A/(2B), G ~ Gamma(k, 1) (= (2B)^p U(−p, 1 − k − p, z), U Tricomi's function;
  ``scipy.special.hyperu`` was found inaccurate (1e-4) near integer p, so it is not used), by
  generalized Gauss–Laguerre where z ≥ ½ and a composite Gauss–Legendre rule graded toward t = 0
  where z is small;
* outer expectation over U = r², r ∈ (0, ∞) with density ∝ r^{b−1}e^{−r²/2}, by composite
  Gauss–Legendre panels graded geometrically towards r* = g^{−1/2} (where 1 − gU = 0: a kink for
  d = 1, a log singularity of ρ);
* ρ = (d/ds) log h(s) at s = 0, by a 4th-order central difference (h(−s) is finite for 0 < s < 1).

The functions take g = ησ²/b directly (everything depends on (η, σ²) only through g·b = ησ²).
Domain (checked by :func:`log_h_g` and :func:`rho_g`): batch size b in [1, :data:`BATCH_SIZE_MAX`],
dimension d in [1, :data:`D_MAX`], 0 ≤ g·b = ησ² ≤ :data:`LR_SIGMA2_MAX` = 10¹⁰⁰ (the quadrature
agrees with Monte Carlo up to g·b = 10¹⁵⁰; beyond, (1 − gU)² overflows float64), moment order s in
(−1, 4·:data:`S_MAX`].
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.special as sps

from theory.validation import check_int, check_real

__all__ = ["log_h_g", "rho_g", "S_MAX", "BATCH_SIZE_MAX", "D_MAX", "LR_SIGMA2_MAX"]

S_MAX = 400.0  # largest tail index searched for; above it the status says so
BATCH_SIZE_MAX = 10**4  # the χ_b quadrature has O(√b) nodes; larger b is rejected up front
D_MAX = 10**4  # ρ by quadrature agrees with Monte Carlo up to here (at d = 10⁶ it is off by 20 %)
#: largest ησ² = g·b: far past the divergence step size (ρ > 0 from ησ² of order 1–10 on), and
#: (1 − gU)², g²UW stay far from float64's overflow
LR_SIGMA2_MAX = 1e100

_GL_N = 12
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_GL_N)


def _graded_panels(a: float, c: float, toward: str, levels: int = 34, max_width: float = 0.75) -> np.ndarray:
    """Panel edges on [a, c], geometrically graded (ratio 1/2) toward one end."""
    L = c - a
    if L <= 0:
        return np.array([a, c])
    frac = 0.5 ** np.arange(levels)  # 1, 1/2, ..., tiny
    if toward == "right":
        edges = c - L * frac
        edges = np.concatenate([[a], edges[1:], [c]])
    else:
        edges = a + L * frac[::-1]
        edges = np.concatenate([[a], edges[:-1], [c]])
    edges = np.unique(edges)
    # split long panels further so that each covers at most ~1 unit of r
    out = [edges[0]]
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = max(1, int(math.ceil((hi - lo) / max_width)))
        out.extend(list(lo + (hi - lo) * np.arange(1, m + 1) / m))
    return np.asarray(out)


def _nodes(lo: float, hi: float, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo_e = edges[:-1][:, None]
    hi_e = edges[1:][:, None]
    half = 0.5 * (hi_e - lo_e)
    x = (lo_e + hi_e) * 0.5 + half * _GL_X[None, :]
    w = half * _GL_W[None, :]
    return x.ravel(), w.ravel()


@lru_cache(maxsize=4096)
def _outer_rule(g: float, b: int, r_max: float, levels: int = 34) -> tuple[np.ndarray, np.ndarray]:
    """Nodes r_i and log-weights log(w_i f_R(r_i)) for E[F(U)], U = R², R ~ chi_b.

    ``r_max`` is where the (tilted) χ_b mass has ended. The panels are graded toward the kink
    r* = g^{−1/2} only when r* ≤ 2·r_max + 8; beyond that (small g) the integrand is smooth on
    [0, 2·r_max + 8] and what lies further out is below e^{−2 r_max²}, so the rule stops there:
    the number of nodes never depends on g (a tiny g once meant ~1/√g panels).
    """
    cap = 2.0 * r_max + 8.0
    rstar = 1.0 / math.sqrt(g) if g > 0.0 else math.inf
    if rstar <= cap:
        r_max = max(r_max, rstar + 8.0)
        left = _graded_panels(0.0, rstar, "right", levels=levels)
        right = _graded_panels(rstar, r_max, "left", levels=levels)
        r1, w1 = _nodes(0.0, rstar, left)
        r2, w2 = _nodes(rstar, r_max, right)
        r = np.concatenate([r1, r2])
        w = np.concatenate([w1, w2])
    else:
        r, w = _nodes(0.0, cap, np.linspace(0.0, cap, int(math.ceil(cap / 0.75)) + 1))
    keep = (w > 0) & (r > 0)
    r, w = r[keep], w[keep]
    # chi_b density: r^{b-1} e^{-r^2/2} / (2^{b/2-1} Γ(b/2))
    logf = (b - 1) * np.log(r) - 0.5 * r * r - (0.5 * b - 1.0) * math.log(2.0) - sps.gammaln(0.5 * b)
    lw = np.log(w) + logf
    lw.setflags(write=False)
    r.setflags(write=False)
    return r, lw


@lru_cache(maxsize=256)
def _gamma_rule(k: float, p_round: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t and log(w · Gamma(k) density) for E f(G), G ~ Gamma(k, 1), graded at 0.

    Covers the mass of G tilted by (1 + t)^p up to ~40 standard deviations.
    """
    kp = k + max(p_round, 0.0)
    sd = math.sqrt(kp + 1.0)
    top = kp + 30.0 * sd + 40.0
    lo = max(0.0, k - 30.0 * math.sqrt(k + 1.0))
    if lo == 0.0:  # density ∝ t^{k−1}, not analytic at 0 (unless k is an integer): grade toward 0
        edges = _graded_panels(0.0, top, "left", levels=90 if k < 1.0 else 50, max_width=1.5 * sd)
    else:  # smooth over the bulk: uniform panels
        edges = np.linspace(lo, top, int(math.ceil((top - lo) / (1.5 * sd))) + 1)
    t, w = _nodes(lo, top, edges)
    keep = (w > 0) & (t > 0)
    t, w = t[keep], w[keep]
    lw = np.log(w) + (k - 1.0) * np.log(t) - t - sps.gammaln(k)
    return t, lw


def _lse(x: np.ndarray, axis=None):
    """log Σ exp(x) (stable; faster than scipy's for our plain float arrays)."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out.item() if axis is None else np.squeeze(out, axis=axis)


def _r_max(b: int, s: float) -> float:
    return math.sqrt(b + 2.0 * max(s, 0.0) + 1.0) + 14.0


@lru_cache(maxsize=64)
def _laguerre(k: float, n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Generalized Gauss–Laguerre for E f(G), G ~ Gamma(k, 1): nodes and log-weights."""
    t, w = sps.roots_genlaguerre(n, k - 1.0)
    return t, np.log(w) - sps.gammaln(k)


def _log_inner(A: np.ndarray, B: np.ndarray, d: int, p: float) -> np.ndarray:
    """log E[(A + B W)^p], W ~ χ²_{d−1} (W ≡ 0 when d = 1).

    E[(A + BW)^p] = (2B)^p E[(z + G)^p], z = A/(2B), G ~ Gamma(k = (d−1)/2).
    Generalized Gauss–Laguerre (48 nodes) where (z + t)^p is smooth on the
    scale of G (z ≥ ½, k ≤ 60, p ≤ 40: agrees with the graded rule to ~1e-13),
    the graded composite rule :func:`_gamma_rule` elsewhere, and the first-order expansion in
    B/A where z ≥ 10⁸(|p| + 1)(k + 1) (small g).
    """
    if d == 1:
        return p * np.log(A)
    k = 0.5 * (d - 1)
    with np.errstate(divide="ignore"):
        z = A / (2.0 * B)
    out = np.empty_like(A)
    # z ≫ p·k (small g): log E[(1 + (B/A)W)^p] = 2kp·B/A + O((pk/z)²), (pk/z)² < 1e-16; no B underflow
    flat = z >= 1e8 * (abs(p) + 1.0) * (k + 1.0)
    if np.any(flat):
        out[flat] = p * np.log(A[flat]) + np.log1p(2.0 * k * p * (B[flat] / A[flat]))
    smooth = (z >= 0.5) & ~flat if (k <= 60.0 and p <= 40.0) else np.zeros(A.shape, dtype=bool)
    if np.any(smooth):
        t, lw = _laguerre(k)
        out[smooth] = p * np.log(2.0 * B[smooth]) + _lse(lw[None, :] + p * np.log(z[smooth][:, None] + t[None, :]), axis=1)
    rest = ~smooth & ~flat
    if np.any(rest):
        t, lw = _gamma_rule(k, float(math.ceil(p)))
        out[rest] = p * np.log(2.0 * B[rest]) + _lse(lw[None, :] + p * np.log(z[rest][:, None] + t[None, :]), axis=1)
    return out


def _check_g(s, g, b, d) -> tuple[float, float, int, int]:
    b = check_int("b", b, 1, BATCH_SIZE_MAX)
    d = check_int("d", d, 1, D_MAX)
    g = check_real("g", g, 0.0, LR_SIGMA2_MAX / b)
    s = check_real("s", s, -1.0, 4.0 * S_MAX, low_open=True)
    return s, g, b, d


def log_h_g(s: float, g: float, b: int, d: int) -> float:
    """log h(s) with g = ησ²/b (g = 0, e.g. an underflowed ησ²/b, is M = I: log h = 0).

    ``s`` in (−1, 4·S_MAX] (h(s) is finite for s > −1), ``b`` in [1, BATCH_SIZE_MAX], ``d`` in
    [1, D_MAX], ``g`` in [0, LR_SIGMA2_MAX / b].

    When g(b + d + 2)(1 + |s|) ≤ 10⁻⁶ the quadrature's round-off (~10⁻¹⁶) would swamp
    log h ≈ −sgb, and the cumulant expansion of log E(1 + x)^{s/2}, x = −2gU + g²U(U + W)
    (E x = −2gb + g²b(b+d+1), E x² = 4g²b(b+2) + O(g³)), is used instead:
    log h(s) = −sgb + (s/2) g²b(d − b − 3 + 2s) + O((g(b+d)(1+s))³) (relative error below 10⁻¹¹).
    """
    return _log_h_g(*_check_g(s, g, b, d))


def _log_h_g(s: float, g: float, b: int, d: int) -> float:
    """:func:`log_h_g` without the checks (the root searches call it many times)."""
    if s == 0.0 or g == 0.0:
        return 0.0
    if g * (b + d + 2.0) * (1.0 + abs(s)) <= 1e-6:
        return float(-s * g * b + 0.5 * s * g * g * b * (d - b - 3.0 + 2.0 * s))
    r, lw = _outer_rule(g, b, round(_r_max(b, s), 1), 34 if d == 1 else 12)
    u = r * r
    A = (1.0 - g * u) ** 2
    B = g * g * u
    return float(_lse(lw + _log_inner(A, B, d, 0.5 * s)))


def rho_g(g: float, b: int, d: int) -> float:
    """ρ = ½ E log((1 − gU)² + g²UW) = (d/ds) log h(s) at s = 0.

    Computed as a 4th-order central difference of log h at s = ±δ, ±2δ
    (δ = 10⁻³; h(−s) = E‖Me₁‖^{−s} is finite for 0 < s < 1), which reuses the
    closed-form inner expectation for every d (truncation error ~δ⁴, round-off
    ~1e-13). Cross-checked against a direct double integral of the logarithm
    in the tests.

    When g(b + d + 2) ≤ 10⁻⁵ the difference would drown ρ ≈ −gb in round-off, and the series
    ½E log(1 + x), x = −2gU + g²U(U + W), to third order is used instead:
    ρ = −gb + ½g²b(d − b − 3) + g³b(b + 2)(d − 1 − (b + 4)/3) + O(g⁴(b + d)³b)
    (relative error below 10⁻¹⁴ there). ``b`` in [1, BATCH_SIZE_MAX], ``d`` in [1, D_MAX],
    ``g`` in [0, LR_SIGMA2_MAX / b].
    """
    _, g, b, d = _check_g(0.0, g, b, d)
    return _rho_g(g, b, d)


def _rho_g(g: float, b: int, d: int) -> float:
    """:func:`rho_g` without the checks."""
    if g * (b + d + 2.0) <= 1e-5:
        return float(-g * b + 0.5 * g * g * b * (d - b - 3.0) + g**3 * b * (b + 2.0) * (d - 1.0 - (b + 4.0) / 3.0))
    dl = 1e-3
    f1 = _log_h_g(dl, g, b, d) - _log_h_g(-dl, g, b, d)
    f2 = _log_h_g(2 * dl, g, b, d) - _log_h_g(-2 * dl, g, b, d)
    return float((8.0 * f1 - f2) / (12.0 * dl))
