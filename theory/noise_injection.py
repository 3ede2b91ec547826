r"""Compressibility of two-layer networks trained by SGD with injected heavy-tailed noise.

Source: Y. Wan, M. Barsbey, A. Zaidi, U. Şimşekli, "Implicit compressibility of
overparametrized neural networks trained with heavy-tailed SGD", ICML 2024
(PMLR 235; arXiv:2306.08125).

What the paper states (confirmed from its abstract and published summaries; the
full text was not available to us, so theorem numbers and constants are not cited):

* Model: a one-hidden-layer network in the mean-field scaling,
  f_Θ(x) = (1/n) Σ_{j=1}^n a_j φ(θ_jᵀx), the second layer **fixed**; the hidden
  weights θ_j ∈ R^d (the n columns of the first-layer matrix) are trained by SGD.
* Algorithm: after every SGD step, additive heavy-tailed noise σ η^{1/α} ξ_{k+1} is
  injected into the hidden weights (α-stable ξ; three constructions: one SαS scalar per
  neuron, iid per weight, a sub-Gaussian stable vector per neuron).
* (i) Propagation of chaos for the heavy-tailed SDE system: as n → ∞ the neurons
  become iid copies of the solution of an α-stable McKean–Vlasov SDE, at rate O(n^{−1/2});
  (ii) strong error estimates for its Euler discretisation.
* Main result (existence only): for every compression ratio κ ∈ (0, 1), tolerance ε > 0
  and time horizon t there is N such that for n ≥ N and step η ≤ n^{−α/2−1}, with high
  probability the network after ⌊t/η⌋ steps, pruned to its ⌈κn⌉ largest-norm neurons
  Θ̂^{(κn)}, satisfies ‖Θ̂^{(κn)} − Θ̂^n‖_F / ‖Θ̂^n‖_F ≤ ε.

What we could not confirm (treat as assumptions of this encoding): the exact
regularity conditions (we take: φ smooth with bounded derivatives, loss smooth with
bounded derivatives, so that the drift is bounded and Lipschitz in (θ, μ)), the range
of α (we believe α ∈ (1, 2), needed for the first moments used by the Wasserstein-1
chaos estimate), and the constants hidden in O(n^{−1/2}) (they grow with t).

What this module encodes
------------------------
* :func:`step_size_bound` — η_max(n, α) = n^{−α/2−1} (sympy :data:`STEP_SIZE_BOUND`),
  :func:`satisfies_step_size_condition`, :func:`steps_required` (⌈t/η_max⌉: the number
  of steps the theorem's regime needs — 10⁷ at n = 10⁴, α = 1.5, t = 1).
* :func:`chaos_rate` — the O(n^{−1/2}) rate, up to its unknown constant.
* :func:`mckean_vlasov` — the limiting SDE and its drift as sympy expressions.
* The compressibility limit the iid-neuron picture predicts
  (Gribonval, Cevher & Davies 2012, via :mod:`theory.compressibility`): neuron norms iid
  with law F ⇒ the pruning error → G_2[F](κ). For α < 2 the injected Lévy noise gives
  ‖θ_t‖ infinite variance, so G_2 = 0 for every κ (:func:`predicted_limit`); for α = 2
  (Gaussian noise) or σ = 0 the limit is positive (:func:`gaussian_noise_limit` gives it in
  the drift-free picture θ_t = θ_0 + σ L_t).
* The *trend* as a checkable statement (the paper gives no rate for the pruning error):
  :func:`predicted_error_exponent` (1/2 − 1/α for tail index α < 2, derived from
  σ̄² ~ n^{1−2/α}, see :func:`predicted_error_exponent`) and :func:`trend_consistent`, which judges a fitted
  slope of log(error) vs log(width) with its confidence interval.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy import integrate, optimize, stats

from theory.validation import check_alpha, check_array, check_choice, check_int, check_positive, check_real

__all__ = [
    "n_sym",
    "alpha_sym",
    "eta_sym",
    "STEP_SIZE_BOUND",
    "CHAOS_RATE",
    "step_size_bound",
    "satisfies_step_size_condition",
    "steps_required",
    "chaos_rate",
    "mckean_vlasov",
    "predicted_error_exponent",
    "predicted_trend",
    "predicted_limit",
    "gaussian_noise_limit",
    "trend_consistent",
    "ASSUMPTIONS",
    "ALPHA_MIN",
]

n_sym, alpha_sym, eta_sym, t_sym, sigma_sym = sp.symbols("n alpha eta t sigma", positive=True)

#: η ≤ n^{−α/2−1}: the step-size condition of the main theorem.
STEP_SIZE_BOUND: sp.Expr = n_sym ** (-alpha_sym / 2 - 1)
#: Propagation-of-chaos rate (the constant, which depends on t, is not explicit).
CHAOS_RATE: sp.Expr = n_sym ** sp.Rational(-1, 2)

ASSUMPTIONS = (
    "one hidden layer, mean-field scaling f(x) = (1/n) Σ_j a_j φ(θ_jᵀx), second layer fixed",
    "noise σ η^{1/α} ξ added to the hidden weights after every SGD step (output layer untouched)",
    "ξ α-stable: per-neuron scalar, iid per entry, or sub-Gaussian stable vector per neuron",
    "step size η ≤ n^{−α/2−1}, number of steps ⌊t/η⌋ for a fixed horizon t",
    "[not verified in the full text] φ and the loss smooth with bounded derivatives; α ∈ (1, 2)",
    "conclusion: existence of N(κ, ε, t); no explicit rate for the pruning error",
)

#: smallest α of :func:`predicted_error_exponent` (1/α overflows float64 below ~5.6e-309)
ALPHA_MIN = 1e-150

_step_fn = sp.lambdify((n_sym, alpha_sym), STEP_SIZE_BOUND, "numpy")


def _widths(n) -> np.ndarray:
    """n as a float array of finite integer widths >= 1 (a scalar or an array of widths; no bools)."""
    if isinstance(n, (bool, np.bool_)) or (not isinstance(n, (str, bytes)) and np.asarray(n).dtype == np.bool_):
        raise TypeError(f"n must be a width (an integer >= 1) or an array of widths, got {type(n).__name__} {n!r}")
    n_arr = check_array("n", n, dtype=np.float64)
    if np.any(n_arr < 1):
        raise ValueError("n must be >= 1 (finite widths)")
    if np.any(n_arr != np.floor(n_arr)):
        raise ValueError(f"n must hold integer widths >= 1, got {n_arr[n_arr != np.floor(n_arr)][0]:g}")
    return n_arr


def step_size_bound(n, alpha):
    """η_max = n^{−α/2−1} (vectorised over n: integer widths >= 1; α ∈ (0, 2])."""
    alpha = check_alpha(alpha)
    n_arr = _widths(n)
    out = _step_fn(n_arr, alpha)
    return float(out) if np.ndim(out) == 0 else out


def satisfies_step_size_condition(lr: float, n: int, alpha: float) -> bool:
    """Whether η ≤ n^{−α/2−1} (the theorem's condition)."""
    lr = check_positive("lr", lr)
    n = check_int("n", n, 1)
    return bool(lr <= step_size_bound(n, alpha) * (1 + 1e-12))


def steps_required(t: float, n: int, alpha: float) -> int:
    """⌈t / η_max⌉: SGD steps needed to reach time t at the largest step the theorem allows."""
    t = check_positive("t", t)
    n = check_int("n", n, 1)
    return int(math.ceil(t / step_size_bound(n, alpha) - 1e-9))


def chaos_rate(n):
    """n^{−1/2}: the propagation-of-chaos rate (the t-dependent constant is not explicit).

    ``n``: an integer width >= 1 or an array of them.
    """
    n_arr = _widths(n)
    out = n_arr ** -0.5
    return float(out) if np.ndim(out) == 0 else out


def mckean_vlasov() -> dict[str, sp.Basic]:
    r"""The α-stable McKean–Vlasov SDE of the mean-field limit, written for d = 1 (θ, x scalars).

    For a neuron θ_t with law μ_t (all neurons iid in the limit):

        dθ_t = b(θ_t, μ_t) dt + σ dL^α_t,
        b(θ, μ) = −E_{(x,y)}[ ∂_1ℓ( ∫ a φ(ϑx) μ(dϑ), y ) · a φ'(θx) · x ],

    L^α a standard symmetric α-stable Lévy process (L^α_1 ~ SαS(1)). In R^d replace θx by
    θᵀx and the last factor x by the vector x; for the "neuron"/"elliptical" noise kinds L^α
    is the per-neuron scalar times (1,…,1), resp. a sub-Gaussian stable process.
    Its Euler scheme with step η is exactly the noise-injected SGD of
    :mod:`simulations.noise_injection.ensemble` (population gradient replaced by a minibatch):
    θ_{k+1} = θ_k + η b(θ_k, μ^n_k) + σ η^{1/α} ξ_{k+1}, μ^n_k the empirical law of the n neurons.

    Returns a dict of sympy objects: ``drift`` b(θ, μ), ``sde`` (an Eq for dθ), ``euler`` (an Eq
    for θ_{k+1}), ``mean_field_output`` (∫ a φ(ϑx) μ(dϑ)) and ``symbols``.
    """
    theta, vartheta, x, y, a, dt, eta = sp.symbols("theta vartheta x y a dt eta", real=True)
    sigma, alpha = sp.symbols("sigma alpha", positive=True)
    phi = sp.Function("phi")
    dl = sp.Function("partial_1ell")
    mu = sp.Function("mu")
    E = sp.Function("E_xy")
    dL = sp.Symbol("dL^alpha_t")
    xi = sp.Symbol("xi_{k+1}")
    out = sp.Integral(a * phi(vartheta * x) * mu(vartheta), (vartheta, -sp.oo, sp.oo))
    drift = -E(dl(out, y) * a * sp.Derivative(phi(theta * x), theta))
    dtheta = sp.Symbol("dtheta_t")
    sde = sp.Eq(dtheta, drift * dt + sigma * dL)
    theta_next = sp.Symbol("theta_{k+1}")
    euler = sp.Eq(theta_next, theta + eta * drift + sigma * eta ** (1 / alpha) * xi)
    return {"drift": drift, "sde": sde, "euler": euler, "mean_field_output": out,
            "symbols": {"theta": theta, "x": x, "y": y, "a": a, "sigma": sigma, "alpha": alpha, "eta": eta}}


def predicted_error_exponent(alpha: float, p: float = 2.0) -> float:
    """Exponent e in σ̄_{κn} ≈ C n^{e} for iid neuron norms with tail P(‖θ‖ > u) ~ c u^{−α}.

    e = 1/p − 1/α for α < p, 0 otherwise (finite p-th moment: the error tends to G_p(κ) > 0).
    Derivation (ours): the dropped n − ⌈κn⌉ norms are bounded by a quantile of the law, so
    Σ_dropped ‖θ‖^p = O(n), while Σ_all ‖θ‖^p is dominated by the largest norm, of order
    (n^{1/α})^p; hence σ̄^p ~ n^{1−p/α} and σ̄ ~ n^{1/p−1/α}. A heuristic for the *rate*; the
    paper proves only that the error tends to 0 (Wan, Barsbey, Zaidi & Şimşekli 2024, ICML).
    α must be in [:data:`ALPHA_MIN`, 2] (−1/α is not representable below ~5.6e-309).
    """
    alpha = check_alpha(alpha)
    if alpha < ALPHA_MIN:
        raise ValueError(f"alpha must be in [{ALPHA_MIN:g}, 2] (ALPHA_MIN), got {alpha:g}")
    p = check_positive("p", p)
    return 1.0 / p - 1.0 / alpha if alpha < p else 0.0


def predicted_trend(alpha: float, sigma: float) -> str:
    """"decreasing" (pruning error → 0 as n → ∞) if σ > 0 and α < 2; "flat" otherwise."""
    alpha = check_alpha(alpha)
    sigma = check_real("sigma", sigma, 0.0)
    return "decreasing" if (sigma > 0 and alpha < 2) else "flat"


def predicted_limit(alpha: float, sigma: float, kappa: float, *, norm_law=None) -> float:
    """n → ∞ limit of the relative Frobenius error after keeping the ⌈κn⌉ largest neurons.

    For σ > 0 and α < 2 the neuron norms have infinite variance (the stable part σL_t), so by
    Gribonval–Cevher–Davies the limit is 0 for every κ ∈ (0, 1]. Otherwise the limit is
    G_2[F](κ) of the neuron-norm law F, which depends on the dynamics: pass it as ``norm_law``
    (a frozen scipy law, evaluated with :func:`theory.compressibility.g_numeric`), or use
    :func:`gaussian_noise_limit` for the drift-free picture. ``norm_law``, when given, must be a
    frozen ``scipy.stats`` continuous law (TypeError otherwise, even where it is not used).
    """
    alpha = check_alpha(alpha)
    sigma = check_real("sigma", sigma, 0.0)
    kappa = check_real("kappa", kappa, 0.0, 1.0)
    if norm_law is not None and not isinstance(norm_law, stats._distn_infrastructure.rv_continuous_frozen):
        raise TypeError(f"norm_law must be None or a frozen scipy.stats continuous law, got {type(norm_law).__name__}")
    if kappa == 0.0:
        return 1.0
    if sigma > 0 and alpha < 2:
        return 0.0
    if norm_law is None:
        raise ValueError("norm_law is required for alpha = 2 or sigma = 0 (the limit depends on the neuron-norm law)")
    from theory.compressibility import g_numeric

    return float(g_numeric(norm_law, kappa, 2.0))


def _quadform_g2(kappa: float, lam_a: float, lam_b: float, d: int) -> float:
    """G_2(κ) for ‖θ‖ with ‖θ‖² = λ_a U + λ_b V, U ~ χ²_1, V ~ χ²_{d−1} independent."""
    if d == 1 or lam_b == 0.0:  # ‖θ‖² ∝ χ²_1
        q = stats.chi2.ppf(1 - kappa, 1)
        return math.sqrt(stats.chi2.cdf(q, 3))
    if abs(lam_a - lam_b) <= 1e-14 * max(lam_a, lam_b):
        q = stats.chi2.ppf(1 - kappa, d)
        return math.sqrt(stats.chi2.cdf(q, d + 2))  # E[Q 1{Q≤q}] = d F_{d+2}(q) for Q ~ χ²_d
    fu = stats.chi2(1).pdf
    Fv = stats.chi2(d - 1).cdf
    Fv2 = stats.chi2(d + 1).cdf
    mean = lam_a + lam_b * (d - 1)

    def cdf(q):
        return integrate.quad(lambda u: fu(u) * Fv((q - lam_a * u) / lam_b), 0, q / lam_a, limit=200)[0]

    hi = mean
    while cdf(hi) < 1 - kappa:
        hi *= 2
    q = optimize.brentq(lambda s: cdf(s) - (1 - kappa), 0.0, hi, xtol=1e-12 * hi)
    # E[Q 1{Q≤q}] = ∫ f_U(u) [λ_a u F_V(r) + λ_b (d−1) F_{V+2}(r)] du, r = (q − λ_a u)/λ_b
    part = integrate.quad(lambda u: fu(u) * (lam_a * u * Fv((q - lam_a * u) / lam_b)
                                             + lam_b * (d - 1) * Fv2((q - lam_a * u) / lam_b)), 0, q / lam_a,
                          limit=200)[0]
    return math.sqrt(min(max(part / mean, 0.0), 1.0))


_RATIO_MIN = 1e-13   # λ_b/λ_a below which ‖θ_t‖² is taken as λ_a χ²_1


def gaussian_noise_limit(kappa: float, d: int, *, init_var: float, sigma: float, t: float,
                         noise: str = "entry") -> float:
    """Limit G_2(κ) of the pruning error for Gaussian noise (α = 2) in the drift-free picture.

    θ_t = θ_0 + σ L_t with θ_0 ~ N(0, init_var·I_d) and L_t Brownian with SαS(1)-at-α=2
    increments, i.e. N(0, 2t) per coordinate. "entry"/"elliptical": θ_t ~ N(0, (init_var + 2σ²t) I)
    so ‖θ_t‖² ∝ χ²_d and G_2(κ)² = F_{χ²_{d+2}}(F^{-1}_{χ²_d}(1−κ)). "neuron": the common
    scalar adds 2σ²t·11ᵀ, so ‖θ_t‖² = (init_var + 2σ²t d) χ²_1 + init_var χ²_{d−1}.
    Ignores the drift (exact when the gradient is negligible against the noise); σ = 0 gives
    the initial law's value. G_2 depends only on the ratio of the two variances (computed in log
    space, so any finite σ, t, init_var ≥ 0 are accepted).
    """
    kappa = check_real("kappa", kappa, 0.0, 1.0)
    d = check_int("d", d, 1)
    init_var = check_real("init_var", init_var, 0.0)
    sigma = check_real("sigma", sigma, 0.0)
    t = check_real("t", t, 0.0)
    check_choice("noise", noise, ("neuron", "entry", "elliptical"))
    if kappa == 0.0:
        return 1.0
    if kappa == 1.0:
        return 0.0
    moving = sigma > 0.0 and t > 0.0
    if init_var == 0.0 and not moving:
        raise ValueError("init_var and sigma**2 * t cannot both be 0 (all weights are zero)")
    if noise in ("entry", "elliptical"):
        return _quadform_g2(kappa, 1.0, 1.0, d)   # ‖θ_t‖² ∝ χ²_d and G_2 is scale-free
    # "neuron": only the ratio λ_b/λ_a = init_var/(init_var + 2σ²t d) matters; in log space so that
    # a huge σ²t is no overflow, and below _RATIO_MIN the χ²_{d−1} part is dropped (error O(ratio))
    if init_var == 0.0:
        ratio = 0.0
    elif not moving:
        ratio = 1.0
    else:
        log_q = math.log(2.0 * d) + math.log(t) + 2.0 * math.log(sigma) - math.log(init_var)
        ratio = math.exp(-log_q - math.log1p(math.exp(-log_q))) if log_q > 0 else 1.0 / (1.0 + math.exp(log_q))
    return _quadform_g2(kappa, 1.0, 0.0 if ratio < _RATIO_MIN else ratio, d)


def trend_consistent(alpha: float, sigma: float, slope_ci: tuple[float, float], *, flat_margin: float = 0.03) -> bool:
    """Checkable form of the width trend: is a fitted slope CI of log(error) vs log(n) consistent?

    Predicted "decreasing" (σ > 0, α < 2): the CI lies below 0. Predicted "flat": the CI lies
    inside (−flat_margin, flat_margin) (an equivalence test; the O(1/n) finite-width bias makes
    "contains 0" too strict with many seeds).
    """
    if isinstance(slope_ci, (str, bytes)) or np.ndim(slope_ci) != 1 or len(slope_ci) != 2:
        raise ValueError(f"slope_ci must be a pair (low, high), got {slope_ci!r}")
    lo, hi = (check_real("slope_ci[0]", slope_ci[0]), check_real("slope_ci[1]", slope_ci[1]))
    if lo > hi:
        raise ValueError(f"slope_ci must be (low, high) with low <= high, got {slope_ci}")
    flat_margin = check_positive("flat_margin", flat_margin)
    if predicted_trend(alpha, sigma) == "decreasing":
        return hi < 0.0
    return -flat_margin < lo and hi < flat_margin
