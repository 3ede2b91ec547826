r"""Compressible distributions: the limit G_p[F](κ) of the relative best k-term error.

Result encoded (Gribonval, Cevher & Davies 2012, "Compressible distributions
for high-dimensional statistics", IEEE Trans. Inf. Theory 58(8):5016–5034;
the finite-moment limit is their Prop. 1, numbering as cited by Silva &
Derpich 2015, IEEE TSP 63(11); the number of the infinite-moment statement
was not verified. See also Amini, Unser & Marvasti 2011, "Compressibility of
deterministic and random infinite sequences", IEEE TSP 59(11):5193–5201): let
x_n = (X_1, …, X_n) have iid entries with law F, let k_n/n → κ ∈ (0, 1) and
p > 0, and let Q be the quantile function of |X|.

* If E|X|^p < ∞, then almost surely

      σ_{k_n}(x_n)_p / ‖x_n‖_p  →  G_p[F](κ),
      G_p[F](κ)^p = ∫_0^{1−κ} Q(u)^p du / ∫_0^1 Q(u)^p du
                  = E[|X|^p 1{|X| ≤ t_κ}] / E|X|^p,   P(|X| > t_κ) = κ,

  the share of E|X|^p carried by |X| below its (1−κ)-quantile.
* If E|X|^p = ∞, the ratio → 0 almost surely for every κ ∈ (0, 1]
  (the law is "ℓ_p-compressible"); for P(|X| > t) ~ c t^{−α}, p > α, the
  ratio^p decays like n^{1 − p/α} (slowly when α is close to p).

Conventions here: G_p(0) = 1 and G_p(1) = 0 (keeping nothing loses
everything, keeping everything loses nothing); in the infinite-moment case
G_p(κ) = 0 for every κ ∈ (0, 1]. G_p depends on F only through the law of
|X| and is invariant to the scale of X.

Provided:

* :func:`g_numeric` — G_p for any frozen ``scipy.stats`` continuous law
  (adaptive quadrature of x^p f_{|X|}(x) in log x, split at quantiles of |X|
  so heavy tails and narrow peaks are both integrated accurately);
* :func:`g_stable` — symmetric α-stable laws (a cached density grid of |X|
  plus the convergent/asymptotic tail series of the SαS density);
* :func:`closed_form` — sympy-derived closed forms of G_p(κ)^p for the
  Pareto I, Lomax, generalized Pareto, Laplace, generalized Gaussian, normal
  and Student-t laws. Each is derived in sympy (substitution to a Beta or
  Gamma kernel, identification of the kernel exponents, the quantile from
  the survival function); :func:`derivation` returns the steps for display.

Modules: :mod:`~theory.compressibility.quadrature` (g_numeric, moment_is_finite),
:mod:`~theory.compressibility.stable_law` (g_stable),
:mod:`~theory.compressibility.closed_forms` (the sympy derivations, ClosedForm),
:mod:`~theory.compressibility.special_functions` (the incomplete beta/gamma functions they
use) and :mod:`~theory.compressibility.common` (the symbols κ, p, input checks and
:func:`limit_prunable_fraction`).

``theory`` does not import the simulation code; it uses only the shared input
validation helpers.
"""
from __future__ import annotations

import sympy as sp  # noqa: F401  (``compressibility.sp``: the symbols' library, for callers' checks)

from theory.compressibility.closed_forms import ClosedForm, closed_form, closed_form_names, derivation
from theory.compressibility.common import KAPPA, P, limit_prunable_fraction
from theory.compressibility.quadrature import g_numeric, moment_is_finite
from theory.compressibility.stable_law import g_stable

__all__ = [
    "g_numeric",
    "g_stable",
    "closed_form",
    "closed_form_names",
    "derivation",
    "ClosedForm",
    "moment_is_finite",
    "limit_prunable_fraction",
    "KAPPA",
    "P",
]
