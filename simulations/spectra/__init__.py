"""Layer spectra: the empirical spectral density (ESD) of weight matrices and its power-law tail.

The heavy-tailed self-regularization diagnostics of Martin & Mahoney (JMLR 22(165), 2021;
Nature Communications 12, 4122, 2021), the metrics their WeightWatcher tool reports:

* :func:`esd` — eigenvalues of X = WᵀW/N (N rows of W as stored, (out, in); conv kernels
  (out, in, kh, kw) reshaped to (out·in, kh·kw) as in Barsbey et al. 2021), from the singular values;
* :func:`power_law_fit` — the continuous power-law MLE α̂ = 1 + n_tail / Σ ln(x_i/xmin) with xmin
  chosen by minimum Kolmogorov–Smirnov distance (Clauset, Shalizi & Newman 2009, eq. 3.1, §3.3);
* :func:`layer_spectrum` — one layer's ESD with α, xmin, KS distance, λ_max (spectral norm),
  stable rank, weighted α = α log₁₀ λ_max, log norm and log α-norm; :func:`spectral_alpha` its α;
* :func:`network_spectra` / :func:`network_summary` — every layer of a network and the layer
  averages (mean α, mean weighted α, ...).

Normalisation, conventions and the differences from WeightWatcher and the ``powerlaw`` package are
stated in :mod:`simulations.spectra.layers` and :mod:`simulations.spectra.power_law`; the log-log
ESD plot with its fitted tail is :func:`simulations.spectra.plots.plot_esd`.

Example::

    from simulations import spectra
    s = spectra.layer_spectrum(W)            # W: (out, in)
    s.alpha, s.xmin, s.weighted_alpha, s.stable_rank
"""
from simulations.spectra.layers import (
    MIN_EIGENVALUES,
    SIZE_MAX,
    LayerSpectrum,
    NetworkSummary,
    esd,
    layer_spectrum,
    network_spectra,
    network_summary,
    spectral_alpha,
)
from simulations.spectra.power_law import CANDIDATES_MAX, MIN_TAIL, N_MAX, PowerLawFit, power_law_fit

__all__ = ["esd", "power_law_fit", "PowerLawFit", "layer_spectrum", "LayerSpectrum", "spectral_alpha",
           "network_spectra", "network_summary", "NetworkSummary", "MIN_TAIL", "MIN_EIGENVALUES",
           "CANDIDATES_MAX", "N_MAX", "SIZE_MAX"]
