"""Compressibility: how well a vector is approximated by keeping its largest entries.

For x ∈ R^n and p > 0 the best k-term approximation error is
σ_k(x)_p = min_{‖y‖₀ ≤ k} ‖x − y‖_p = (Σ_{i>k} |x|_(i)^p)^{1/p}, attained by keeping the k
largest magnitudes (Foucart & Rauhut 2013, *A Mathematical Introduction to Compressive
Sensing*, §2.1). For n iid entries and k/n → κ, the relative error σ_k(x)_p/‖x‖_p tends to
G_p[F](κ) when E|X|^p < ∞ and to 0 when E|X|^p = ∞ (Gribonval, Cevher & Davies 2012, IEEE
Trans. Inf. Theory 58(8)): heavy-tailed laws are compressible. The limits G_p are computed in
:mod:`theory.compressibility`.

Measures (:mod:`~simulations.compressibility.api`): :func:`relative_errors` (every k at once),
:func:`best_k_term_error`, :func:`relative_error_at` (keep a fraction κ),
:func:`prunable_fraction` (largest fraction removable at relative error ε, as in Barsbey et al.
2021, NeurIPS), :func:`is_compressible`, :func:`kept_count`. The studies (convergence in n, the
synthetic experiment of Barsbey et al.) are in :mod:`simulations.compressibility.study`, their
plots in :mod:`simulations.compressibility.plots`.
Predicted against actual pruning error of weight layers (G_p of a fitted or the empirical law):
:mod:`simulations.compressibility.predicted` (:func:`predicted_vs_actual`, :func:`format_predicted_table`),
its figure :mod:`simulations.compressibility.predicted_plots`.

Example::

    from simulations import compressibility
    compressibility.prunable_fraction(w, 0.1)
"""
from simulations.compressibility import api as _api
from simulations.compressibility.api import *  # noqa: F403  (the API's public names, listed in its __all__)

__all__ = list(_api.__all__)
from simulations.compressibility.predicted import fit_law, predicted_vs_actual  # noqa: E402
from simulations.compressibility.predicted import format_table as format_predicted_table  # noqa: E402

__all__ += ["predicted_vs_actual", "format_predicted_table", "fit_law"]
