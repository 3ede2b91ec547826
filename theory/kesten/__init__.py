"""Kesten tail index of SGD on linear regression with isotropic Gaussian data.

Source: M. Gürbüzbalaban, U. Şimşekli & L. Zhu, "The Heavy-Tail Phenomenon in
SGD", ICML 2021 (PMLR 139:3964–3975; arXiv:2006.04740). The theorem numbers
quoted below (Thm 2: the Gaussian reduction; Thm 3: η, σ², b; Thm 4: d) are our
reading of the ICML version and could not be checked against the paper's full
text with the search tools available when this was written (the arXiv versions
number them differently); the *statements* are what this module encodes and tests.

Setting
-------
SGD on the least-squares loss with batch size ``b`` and step ``η`` is the random
linear (affine) recursion

    x_k = M_k x_{k−1} + q_k,   M_k = I − (η/b) Σ_{i∈Ω_k} a_i a_iᵀ,   q_k = (η/b) Σ_{i∈Ω_k} a_i y_i,

with a_i ~ N(0, σ² I_d) iid. Following the paper, let

    h(s) = lim_k (E‖M_k ⋯ M_1‖^s)^{1/k},     ρ = lim_k (1/k) E log‖M_k ⋯ M_1‖.

If ρ < 0 and h(α) = 1 for some α > 0, the Kesten–Goldie theory for random
affine recursions (Buraczewski, Damek & Mikosch 2016, Thm 4.4.15, as quoted in
the paper) gives a stationary law x_∞ with power-law tails of index α:
t^α P(uᵀx_∞ > t) → e_α(u) > 0 for every unit u, and E‖x_∞‖^p < ∞ iff p < α.

Reduction to two chi-square variables (derived here, checked by simulation in
``tests/test_kesten_theory.py``)
------------------------------------------------------------------------------
Let c = η/b, g = cσ² = ησ²/b, A the b×d matrix with rows a_i and z = A e₁ ~
N(0, σ² I_b). Then M e₁ = e₁ − c Aᵀ z. Its first coordinate is 1 − c‖z‖²; given
z, the other d−1 coordinates −c A_jᵀ z (j ≥ 2) are iid N(0, c²σ²‖z‖²) because
the columns A_j are independent of z. With U = ‖z‖²/σ² ~ χ²_b and
W ~ χ²_{d−1} independent,

    ‖M e₁‖²  =ᵈ  (1 − cσ²U)² + c²σ⁴ U W  =  (1 − gU)² + g² U W.

Rotation invariance of the Gaussian law gives ‖M v‖ =ᵈ ‖M e₁‖ for every unit v,
and, conditionally on M_1 e₁, ‖M_k⋯M_2 (M_1e₁/‖M_1e₁‖)‖ has the law of
‖M_k⋯M_2 e₁‖; hence E‖M_k⋯M_1 e₁‖^s = h₁(s)^k with h₁(s) = E‖M e₁‖^s. Since
‖Π e₁‖ ≤ ‖Π‖ ≤ (Σ_j ‖Π e_j‖²)^{1/2} and every ‖Π e_j‖ has the law of ‖Π e₁‖,
E‖Π‖^s lies between h₁(s)^k and C_{d,s} h₁(s)^k, so the k-th root limit is h₁(s).
The same argument gives ρ = E log‖M e₁‖. (This is the paper's Theorem 2 for
Gaussian data.) Everything depends on (η, σ²) only through g·b = ησ².

Numerics
--------
* Inner expectation over W ~ χ²_{d−1} (k = (d−1)/2), p = s/2:
  E[(A + BW)^p] = (2B)^p E[(z + G)^p], z = A/(2B), G ~ Gamma(k, 1)
  (= (2B)^p U(−p, 1 − k − p, z), U Tricomi's function; ``scipy.special.hyperu``
  was found inaccurate (1e-4) near integer p, so it is not used), by
  generalized Gauss–Laguerre where z ≥ ½ and a composite Gauss–Legendre rule
  graded toward t = 0 where z is small.
* ρ = (d/ds) log h(s) at s = 0, by a 4th-order central difference (h(−s) is
  finite for 0 < s < 1).
* Outer expectation over U = r², r ∈ (0, ∞) with density ∝ r^{b−1}e^{−r²/2},
  by composite Gauss–Legendre panels graded geometrically towards
  r* = g^{−1/2} (where 1 − gU = 0: a kink for d = 1, a log singularity of ρ),
  summed in log space so that h(s) does not overflow for large s.
* h is log-convex (Hölder) with h(0) = 1 and h'(0) = ρ, so when ρ < 0 the root
  α of h(α) = 1 is unique; it is found by Brent's method on log h.

Closed forms (sympy, from the χ² moments E U^n = b(b+2)⋯(b+2n−2)):
h(2) = 1 − 2ησ² + η²σ⁴(b+d+1)/b, so that (log-convexity) α > 2 ⟺ h(2) < 1 ⟺
ησ² < 2b/(b+d+1). h(2m) for integer m is a polynomial; see :func:`h_even_symbolic`.

Monotonicity (the paper's Theorems 3 and 4 as we read them; encoded in
:func:`monotonicity_statements` and the ``check_monotone_*`` functions):
(i) α is strictly decreasing in η and in σ², provided α ≥ 1;
(ii) α is strictly increasing in b at fixed η, provided α ≥ 1;
(iii) α is strictly decreasing in d.
α is *not* a function of η/b alone: at fixed η/b it changes with b (in our
scans it decreases, the opposite direction of (ii)); see :func:`alpha_at_fixed_ratio`.

Modules: :mod:`theory.kesten.quadrature` (log h and ρ by quadrature), :mod:`theory.kesten.numeric`
(h, ρ, α, the critical step sizes), :mod:`theory.kesten.symbolic` (the closed forms h(2m)),
:mod:`theory.kesten.monotonicity` (the paper's monotonicity statements). The public functions
take ``lr`` for the step size η and ``batch_size`` for the batch size b.
:mod:`theory.kesten.goldie`: Goldie's tail constant C = lim x^α P(|X| > x) of the 1-D recursion
X = AX + B, C = E[|AX+B|^α − |AX|^α]/(α E|A|^α ln|A|) (Goldie 1991), by Monte Carlo.
"""
from __future__ import annotations

from theory.kesten.goldie import (
    GOLDIE_ALPHA_MAX,
    GOLDIE_ALPHA_MIN,
    GOLDIE_N_MAX,
    GOLDIE_STEPS_MAX,
    GOLDIE_WORK_MAX,
    GoldieResult,
    goldie_constant,
    goldie_constant_mc,
    lomax_perpetuity_exact,
    lomax_perpetuity_rvs,
    lomax_perpetuity_sampler,
    sgd_1d_sampler,
    stationary_samples,
)
from theory.kesten.monotonicity import (
    MonotonicityCheck,
    alpha_at_fixed_ratio,
    check_monotone_batch_size,
    check_monotone_d,
    check_monotone_lr,
    check_monotone_sigma,
    monotonicity_statements,
)
from theory.kesten.numeric import (
    BATCH_SIZE_MAX,
    D_MAX,
    LR_SIGMA2_MAX,
    S_MAX,
    KestenResult,
    h,
    log_h,
    lr_critical_divergence,
    lr_critical_variance,
    rho,
    tail_index,
    tail_index_curve,
)
from theory.kesten.symbolic import h2, h2_symbolic, h4, h4_symbolic, h_even_symbolic, variance_boundary_symbolic

__all__ = [
    "S_MAX",
    "BATCH_SIZE_MAX",
    "D_MAX",
    "LR_SIGMA2_MAX",
    "KestenResult",
    "MonotonicityCheck",
    "log_h",
    "h",
    "rho",
    "tail_index",
    "tail_index_curve",
    "h2",
    "h4",
    "h_even_symbolic",
    "h2_symbolic",
    "h4_symbolic",
    "lr_critical_variance",
    "lr_critical_divergence",
    "monotonicity_statements",
    "check_monotone_lr",
    "check_monotone_sigma",
    "check_monotone_batch_size",
    "check_monotone_d",
    "alpha_at_fixed_ratio",
    "variance_boundary_symbolic",
    "latex_equations",
    "GoldieResult",
    "goldie_constant",
    "goldie_constant_mc",
    "stationary_samples",
    "lomax_perpetuity_sampler",
    "lomax_perpetuity_exact",
    "lomax_perpetuity_rvs",
    "sgd_1d_sampler",
    "GOLDIE_ALPHA_MIN",
    "GOLDIE_ALPHA_MAX",
    "GOLDIE_N_MAX",
    "GOLDIE_STEPS_MAX",
    "GOLDIE_WORK_MAX",
]


def latex_equations() -> list[tuple[str, str]]:
    """(title, LaTeX) of the closed forms, for the paper's theory section: h(2), h(4), the α = 2 boundary."""
    import sympy as sp

    return [(name, sp.latex(fn())) for name, fn in (("h2_symbolic", h2_symbolic), ("h4_symbolic", h4_symbolic),
                                                    ("variance_boundary_symbolic", variance_boundary_symbolic))]
