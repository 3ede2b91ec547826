"""Empirical spectral densities of weight matrices and their heavy-tail metrics.

Martin & Mahoney (JMLR 22(165), 2021, "Implicit self-regularization in deep neural networks";
Nature Communications 12, 4122, 2021, "Predicting trends in the quality of state-of-the-art neural
networks without access to training or testing data"), the metrics of their WeightWatcher tool.

**Correlation matrix and ESD.** For a layer W with N rows and M columns (the (out, in) layout of
:mod:`simulations.nn`), X = WᵀW / N (M × M), with N the number of rows *as stored* (after the
reshape below), whatever the aspect ratio. Its eigenvalues are λ_i = s_i²/N from the singular
values s_i of W (LAPACK ``gesdd`` through ``scipy.linalg.svdvals``): the min(N, M) eigenvalues
that can be non-zero (the M − N structural zeros of X when M > N are not listed).
Why 1/N: for iid entries of variance σ², the non-zero λ fill the Marchenko–Pastur bulk
[(1 − √q)², (1 + √q)²]·σ² with q = M/N, for either aspect ratio (when M > N, XXᵀ's spectrum
is that of WWᵀ/N, whose edges are q(1 ± 1/√q)² σ² = (√q ± 1)² σ²), so a Gaussian layer's
spectrum does not grow with its size. WeightWatcher's default (``normalize=False``) uses the
unnormalised eigenvalues s_i² of WᵀW, and orients W so that N ≥ M: its ``spectral_norm``,
``log_spectral_norm``, ``alpha_weighted``, ``log_norm`` and ``log_alpha_norm`` are ours plus a
size term (λ·N, +log₁₀ N, +α log₁₀ N, +log₁₀ N, +α log₁₀ N); α and the stable rank are
scale-invariant and identical.

**Convolutions.** A 4-D kernel (out, in, kh, kw) is reshaped to (out·in, kh·kw), the matrix whose
tail index Barsbey et al. (NeurIPS 2021, "Heavy tails in SGD and compressibility of
overparametrized neural networks") estimate. WeightWatcher instead splits the kernel into kh·kw
matrices W[:, :, i, j] of shape (out, in), pools the eigenvalues of all of them into one ESD and
rescales them (``conv2d_norm``); that ESD is not the one computed here.

**Metrics** (:func:`layer_spectrum`), all from the eigenvalues λ_1 ≤ … ≤ λ_max of X:

* α, xmin, KS distance, n_tail: the power-law fit ρ(λ) ∝ λ^{−α}, λ ≥ xmin, of
  :func:`simulations.spectra.power_law.power_law_fit` (Clauset, Shalizi & Newman 2009) on the
  eigenvalues above numerical zero, λ > λ_max·(max(N, M)·ε)² (the ``numpy.linalg.matrix_rank``
  tolerance s > s_max·max(N, M)·ε, ε the float64 epsilon; WeightWatcher uses a fixed λ > 10⁻⁵).
  Martin & Mahoney read μ-classes from α (JMLR 2021, §3): α ≲ 2 very heavy-tailed, 2 ≲ α ≲ 4
  moderately heavy-tailed; WeightWatcher's README calls α near 2 the best-trained layers, α < 2
  over-trained, and α > 8 the spurious fit of a random-like (Marchenko–Pastur) ESD with no
  power-law tail.
* spectral_norm = λ_max = ‖W‖₂²/N and log_spectral_norm = log₁₀ λ_max;
* weighted_alpha = α̂ = α log₁₀ λ_max (Nature Comms 2021, WeightWatcher's ``alpha_weighted``);
* log_norm = log₁₀ Σλ = log₁₀(‖W‖_F²/N);
* log_alpha_norm = log₁₀ Σ λ^α = log₁₀ ‖X‖_α^α, the log Schatten α-norm (Nature Comms 2021),
  computed in log space;
* stable_rank = Σλ / λ_max = ‖W‖_F² / ‖W‖₂².

Random matrices to compare with (Martin & Mahoney 2021, §3 and their Table of universality
classes): iid Gaussian entries give the Marchenko–Pastur bulk and no power-law tail; iid entries
with a symmetric power-law tail P(|w| > t) ∼ t^{−μ}, 0 < μ < 2, give an ESD whose density decays as
λ^{−(1 + μ/2)} (a squared entry has tail index μ/2, and the largest eigenvalues follow the largest
squared entries).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg

from simulations._core.validation import check_array
from simulations.spectra.power_law import MIN_TAIL, power_law_fit

__all__ = ["esd", "LayerSpectrum", "layer_spectrum", "spectral_alpha", "network_spectra", "NetworkSummary",
           "network_summary", "SIZE_MAX", "MIN_EIGENVALUES"]

#: most entries of one weight matrix (2²⁶ ≈ 6.7·10⁷: 512 MB of float64; an SVD of a
#: 8192 × 8192 matrix takes minutes on one core)
SIZE_MAX = 1 << 26
#: fewest non-zero eigenvalues a layer needs for its power-law fit (the minimum tail size)
MIN_EIGENVALUES = MIN_TAIL
#: the eigenvalues must lie in float64's comfortable range (their powers λ^α and sums are formed)
_LAMBDA_RANGE = (1e-250, 1e250)


def _matrix(W: Any, name: str = "W") -> np.ndarray:
    w = check_array(name, W, ndim=(2, 4), dtype=np.float64)
    if w.ndim == 4:
        w = w.reshape(w.shape[0] * w.shape[1], w.shape[2] * w.shape[3])
    if w.shape[0] == 0 or w.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {w.shape}")
    if w.size > SIZE_MAX:
        raise ValueError(f"{name} must have at most SIZE_MAX={SIZE_MAX} entries, got shape {w.shape}")
    return w


def _eigenvalues(w: np.ndarray, name: str) -> np.ndarray:
    scale = float(np.max(np.abs(w)))
    if scale == 0.0:
        return np.zeros(min(w.shape))
    s = scipy.linalg.svdvals(w / scale, check_finite=False)       # scaled: no overflow in the SVD
    with np.errstate(over="ignore", under="ignore"):
        lam_max = (s[0] * scale) ** 2 / w.shape[0]
    if not (_LAMBDA_RANGE[0] <= lam_max <= _LAMBDA_RANGE[1]):
        raise ValueError(f"{name}'s largest eigenvalue ‖{name}‖₂²/N must lie in [1e-250, 1e250] (float64 range for "
                         f"the spectral metrics), got {lam_max:g} (max|{name}| = {scale:g})")
    return np.sort((s * scale) ** 2 / w.shape[0])


def esd(W: Any) -> np.ndarray:
    """Eigenvalues of X = WᵀW / N, ascending, float64 (N = number of rows of W after reshaping).

    Parameters
    ----------
    W : 2-D array (out, in), or 4-D conv kernel (out, in, kh, kw) reshaped to (out·in, kh·kw)
        Finite entries, at most SIZE_MAX of them.

    Returns
    -------
    ndarray of min(N, M) values s_i²/N ≥ 0 (s_i the singular values of W), ascending; all zeros for
    W = 0. See the module docstring for the normalisation and the reshape.
    """
    w = _matrix(W)
    return _eigenvalues(w, "W")


@dataclass(frozen=True)
class LayerSpectrum:
    """The ESD of one layer and its heavy-tail metrics (see the module docstring for the formulas).

    ``eigenvalues`` are all min(N, M) eigenvalues of X = WᵀW/N (read-only, ascending); the fit uses
    those above numerical zero (``n_fit`` of them). ``shape`` is the (N, M) of the matrix after the
    conv reshape.
    """

    eigenvalues: np.ndarray = field(repr=False, compare=False)
    alpha: float
    xmin: float
    ks_distance: float
    n_tail: int
    n_fit: int
    spectral_norm: float
    log_spectral_norm: float
    stable_rank: float
    weighted_alpha: float
    log_norm: float
    log_alpha_norm: float
    shape: tuple[int, int]


def _spectrum(lam: np.ndarray, shape: tuple[int, int], name: str) -> LayerSpectrum:
    lam_max = float(lam[-1]) if lam.size else 0.0
    tol = lam_max * (max(shape) * np.finfo(np.float64).eps) ** 2
    nz = lam[lam > tol]
    if nz.size < MIN_EIGENVALUES:
        raise ValueError(f"{name} must have at least MIN_EIGENVALUES={MIN_EIGENVALUES} non-zero eigenvalues of "
                         f"{name}ᵀ{name}/N for a power-law fit (min(N, M) >= {MIN_EIGENVALUES} and rank >= "
                         f"{MIN_EIGENVALUES}), got {nz.size} from shape {shape}")
    fit = power_law_fit(nz)
    total = float(np.sum(nz))
    log_lam = np.log(nz)
    a = fit.alpha
    m = float(np.max(a * log_lam))
    log_alpha_norm = (m + math.log(float(np.sum(np.exp(a * log_lam - m))))) / math.log(10.0)
    lam = lam.copy()
    lam.setflags(write=False)
    return LayerSpectrum(
        eigenvalues=lam, alpha=a, xmin=fit.xmin, ks_distance=fit.ks_distance, n_tail=fit.n_tail, n_fit=int(nz.size),
        spectral_norm=lam_max, log_spectral_norm=math.log10(lam_max), stable_rank=total / lam_max,
        weighted_alpha=a * math.log10(lam_max), log_norm=math.log10(total), log_alpha_norm=log_alpha_norm,
        shape=(int(shape[0]), int(shape[1])))


def layer_spectrum(W: Any) -> LayerSpectrum:
    """ESD of X = WᵀW/N and its metrics: power-law α (with xmin, KS distance, n_tail), λ_max, stable rank, α̂, norms.

    Parameters
    ----------
    W : 2-D array (out, in) or 4-D conv kernel (out, in, kh, kw) (see :func:`esd`)
        Finite entries; at least MIN_EIGENVALUES non-zero eigenvalues (min(N, M) ≥ 10, rank ≥ 10).

    Returns
    -------
    LayerSpectrum
    """
    w = _matrix(W)
    return _spectrum(_eigenvalues(w, "W"), w.shape, "W")


def spectral_alpha(W: Any) -> float:
    """The power-law exponent α of the ESD of X = WᵀW/N (``layer_spectrum(W).alpha``)."""
    return layer_spectrum(W).alpha


def _weight_list(weights: Any) -> list:
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or isinstance(weights, (str, bytes)):
        raise TypeError(f"weights must be a list of weight matrices (2-D or 4-D arrays), got {type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError("weights must hold at least one weight matrix, got an empty list")
    return list(weights)


def network_spectra(weights: Sequence[np.ndarray]) -> list[LayerSpectrum]:
    """:func:`layer_spectrum` of each matrix in ``weights`` (a list of (out, in) or conv arrays), in order.

    Every matrix must qualify (at least MIN_EIGENVALUES non-zero eigenvalues): pass only the layers
    to analyse (WeightWatcher likewise skips layers with fewer than 10 eigenvalues).
    """
    out = []
    for i, W in enumerate(_weight_list(weights)):
        name = f"weights[{i}]"
        w = _matrix(W, name)
        out.append(_spectrum(_eigenvalues(w, name), w.shape, name))
    return out


@dataclass(frozen=True)
class NetworkSummary:
    """Layer averages of the spectral metrics (Martin & Mahoney, Nature Comms 2021).

    ``mean_weighted_alpha`` is their α̂ = (1/L) Σ_l α_l log₁₀ λ_max,l; ``mean_log_alpha_norm`` the
    average log α-norm; ``n_layers`` = L.
    """

    mean_alpha: float
    mean_weighted_alpha: float
    mean_log_spectral_norm: float
    mean_log_norm: float
    mean_log_alpha_norm: float
    mean_stable_rank: float
    n_layers: int


def network_summary(spectra: Sequence[LayerSpectrum]) -> NetworkSummary:
    """Averages over layers of α, α̂ = α log₁₀ λ_max, log₁₀ λ_max, log norm, log α-norm and stable rank.

    Parameters
    ----------
    spectra : non-empty list of LayerSpectrum (from :func:`network_spectra` or :func:`layer_spectrum`)
    """
    if isinstance(spectra, LayerSpectrum) or not isinstance(spectra, Sequence) or isinstance(spectra, (str, bytes)):
        raise TypeError(f"spectra must be a list of LayerSpectrum, got {type(spectra).__name__}")
    if len(spectra) == 0:
        raise ValueError("spectra must hold at least one LayerSpectrum, got an empty list")
    for i, s in enumerate(spectra):
        if not isinstance(s, LayerSpectrum):
            raise TypeError(f"spectra[{i}] must be a LayerSpectrum (from layer_spectrum), got {type(s).__name__}")

    def mean(attr: str) -> float:
        return float(np.mean([getattr(s, attr) for s in spectra]))

    return NetworkSummary(mean_alpha=mean("alpha"), mean_weighted_alpha=mean("weighted_alpha"),
                          mean_log_spectral_norm=mean("log_spectral_norm"), mean_log_norm=mean("log_norm"),
                          mean_log_alpha_norm=mean("log_alpha_norm"), mean_stable_rank=mean("stable_rank"),
                          n_layers=len(spectra))
