"""Plot of a layer's ESD with its fitted power-law tail (:func:`simulations.spectra.layer_spectrum`).

matplotlib is imported only when a plot is drawn.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_esd"]


def plot_esd(ax, spectrum, *, bins: int = 60) -> None:
    """Log-log density of the eigenvalues of X = WᵀW/N with the fitted tail ρ(λ) ∝ λ^{−α}, λ ≥ xmin.

    The histogram uses log-spaced bins over the non-zero eigenvalues, normalised to a density of the
    whole ESD; the fitted line is (n_tail/n_fit)·((α − 1)/xmin)(λ/xmin)^{−α} on [xmin, λ_max], so it
    overlays the histogram's tail; xmin is marked by a dotted vertical line.

    Parameters
    ----------
    ax : matplotlib Axes
    spectrum : LayerSpectrum
    bins : int >= 2, number of log-spaced histogram bins
    """
    from simulations._core.validation import check_int
    from simulations.spectra.layers import LayerSpectrum

    if not isinstance(spectrum, LayerSpectrum):
        raise TypeError(f"spectrum must be a LayerSpectrum (from layer_spectrum), got {type(spectrum).__name__}")
    bins = check_int("bins", bins, 2, 10_000)
    lam = spectrum.eigenvalues
    nz = lam[lam.size - spectrum.n_fit:]          # the eigenvalues above numerical zero (ascending)
    lo, hi = float(nz[0]), float(nz[-1])
    edges = np.geomspace(lo, hi * (1 + 1e-12), bins + 1) if hi > lo else np.array([lo * 0.9, hi * 1.1])
    dens, edges = np.histogram(nz, bins=edges, density=True)
    mids = np.sqrt(edges[:-1] * edges[1:])
    keep = dens > 0
    ax.loglog(mids[keep], dens[keep], "o", ms=3, color="C0", label=f"ESD ({spectrum.n_fit} eigenvalues)")
    a, xmin = spectrum.alpha, spectrum.xmin
    x = np.geomspace(xmin, hi, 100)
    frac = spectrum.n_tail / spectrum.n_fit
    ax.loglog(x, frac * (a - 1) / xmin * (x / xmin) ** (-a), "-", color="C3", lw=1.8,
              label=fr"power law $\alpha$ = {a:.2f} ($n_{{tail}}$ = {spectrum.n_tail})")
    ax.axvline(xmin, color="C3", ls=":", lw=1.2, label=fr"$x_{{min}}$ = {xmin:.3g}")
    ax.set_xlabel(r"eigenvalue $\lambda$ of $X = W^\top W / N$")
    ax.set_ylabel(r"density $\rho(\lambda)$")
    ax.set_title(f"ESD of a {spectrum.shape[0]}×{spectrum.shape[1]} layer", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
