"""Scalar arithmetic shared by every kernel family, as plain Python, compiled where it is used.

The neural core (:mod:`simulations.nn.backends.pointwise`) and the two-layer ensembles
(:mod:`simulations.noise_injection.pointwise`) compile these functions with their own numba
options (``numba.njit`` for the CPU, ``cuda.jit(device=True)`` of the same source for the
device), so that one formula serves four kernels. Leaves: they call only :mod:`math`; codes
come from :mod:`simulations._core.codes`.

* :func:`activation` φ(z): identity z; ReLU max(z, 0); tanh; softplus log(1 + e^z), computed as
  max(z, 0) + log1p(e^{−|z|}) so that it neither overflows nor loses precision.
* :func:`noise_amplitude` σ η^{1/α}, the scale of the α-stable noise added after an SGD step of
  size η (Wan, Barsbey, Zaidi & Şimşekli 2024, ICML); 0 when σ = 0 (no noise is drawn).
"""
from __future__ import annotations

import math

from simulations._core.codes import ACT_RELU, ACT_SOFTPLUS, ACT_TANH

__all__ = ["activation", "noise_amplitude"]


def activation(z, act):
    """φ(z) for the activation code ``act``."""
    if act == ACT_RELU:
        return z if z > 0.0 else 0.0
    if act == ACT_TANH:
        return math.tanh(z)
    if act == ACT_SOFTPLUS:
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    return z


def noise_amplitude(sigma, lr, alpha):
    """σ η^{1/α} (0 when σ = 0)."""
    return sigma * lr ** (1.0 / alpha) if sigma > 0.0 else 0.0
