"""Arithmetic of the two-layer ensembles written once for the CPU and the device.

Each function here is plain Python on scalars and small 1-D arrays, compiled by
``numba.njit`` for the CPU kernel (:mod:`simulations.noise_injection.cpu`); the CUDA kernel compiles the very same
source (``.py_func``) as device functions (:mod:`simulations.noise_injection.cuda`), as
:mod:`simulations.stable.cuda` does for ``cms_transform``. The functions are leaves (they
call only :mod:`math`), so both compilers accept them; codes come from
:mod:`simulations._core.codes`.

* :func:`tanh_fast` — tanh in a branch-free, vectorisable form (the CPU hot loops).
* :func:`activation` φ(z): identity z; ReLU max(z, 0); tanh; softplus log(1 + e^z) =
  max(z, 0) + log1p(e^{−|z|}).
* :func:`activation_derivative` φ'(z) written through h = φ(z): identity 1; ReLU 1[h > 0];
  tanh 1 − h²; softplus 1 − e^{−h} (= logistic(z), since e^h = 1 + e^z).
* :func:`loss_residual` ℓ(f, y) and r = ∂ℓ/∂f for one sample: squared ½‖f − y‖², r = f − y;
  cross-entropy with one-hot y, −Σ_o y_o log softmax(f)_o, r = softmax(f) − y.
* :func:`noise_amplitude` σ η^{1/α}, the scale of the α-stable noise added after an SGD step
  of size η (Wan, Barsbey, Zaidi & Şimşekli 2024, ICML).
* :func:`kept_count` k = ⌈κn⌉, the number of neurons kept by magnitude pruning.
"""
from __future__ import annotations

import math

import numba as nb

from simulations._core import pointwise as _shared
from simulations._core.codes import ACT_RELU, ACT_SOFTPLUS, ACT_TANH, LOSS_SQUARED

__all__ = ["FASTMATH", "tanh_fast", "activation", "activation_derivative", "loss_residual", "noise_amplitude",
           "kept_count"]

#: Fast-math flags without nnan/ninf (the divergence checks rely on isfinite); with numpy's error
#: model (no ZeroDivisionError branch) they let the activation loops of the CPU kernel vectorise.
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


@nb.njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def tanh_fast(z):
    """tanh(z) in a branch-free, vectorisable form (max relative error ~1e-15 against libm).

    tanh|z| = −m/(2+m) with m = expm1(−2|z|), computed as expm1(s) for s = −2|z|/64 by its
    Taylor polynomial (degree 16, |s| ≤ 0.625 after clamping |z| ≤ 20) followed by six
    doublings expm1(2u) = m(2+m) — no cancellation near 0, no division by zero.
    """
    y = max(-2.0 * abs(z), -40.0)
    s = y * (1.0 / 64.0)
    p = 1.0 + s * (1.0 / 16.0)
    p = 1.0 + s * (1.0 / 15.0) * p
    p = 1.0 + s * (1.0 / 14.0) * p
    p = 1.0 + s * (1.0 / 13.0) * p
    p = 1.0 + s * (1.0 / 12.0) * p
    p = 1.0 + s * (1.0 / 11.0) * p
    p = 1.0 + s * (1.0 / 10.0) * p
    p = 1.0 + s * (1.0 / 9.0) * p
    p = 1.0 + s * (1.0 / 8.0) * p
    p = 1.0 + s * (1.0 / 7.0) * p
    p = 1.0 + s * (1.0 / 6.0) * p
    p = 1.0 + s * (1.0 / 5.0) * p
    p = 1.0 + s * (1.0 / 4.0) * p
    p = 1.0 + s * (1.0 / 3.0) * p
    p = 1.0 + s * 0.5 * p
    m = s * p
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    v = -m / (2.0 + m)
    return math.copysign(v, z)


#: φ(z), from :mod:`simulations._core.pointwise` (tanh by libm: the CPU hot loops use :func:`tanh_fast`).
activation = nb.njit(inline="always", fastmath=FASTMATH, error_model="numpy")(_shared.activation)


@nb.njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def activation_derivative(h, act):
    """φ'(z) from the activation h = φ(z)."""
    if act == ACT_RELU:
        return 1.0 if h > 0.0 else 0.0
    if act == ACT_TANH:
        return 1.0 - h * h
    if act == ACT_SOFTPLUS:
        return -math.expm1(-h)
    return 1.0


@nb.njit(inline="always", cache=True)
def loss_residual(f, y, r, loss):
    """Loss ℓ(f, y) of one sample; writes r = ∂ℓ/∂f (``r`` may be ``f`` itself: f is read first)."""
    c = f.shape[0]
    val = 0.0
    if loss == LOSS_SQUARED:
        for o in range(c):
            d = f[o] - y[o]
            val += 0.5 * d * d
            r[o] = d
        return val
    m = f[0]
    for o in range(1, c):
        if f[o] > m:
            m = f[o]
    s = 0.0
    for o in range(c):
        s += math.exp(f[o] - m)
    lse = m + math.log(s)
    for o in range(c):
        val -= y[o] * (f[o] - lse)
    for o in range(c):
        r[o] = math.exp(f[o] - m) / s - y[o]
    return val


#: σ η^{1/α} (0 when σ = 0: no noise is drawn), from :mod:`simulations._core.pointwise`.
noise_amplitude = nb.njit(inline="always")(_shared.noise_amplitude)


@nb.njit(inline="always", cache=True)
def kept_count(kappa, n):
    """k = ⌈κn⌉, κn within a few ulps of an integer rounded to it (as
    :func:`simulations.compressibility.api.kept_count`)."""
    v = kappa * n
    r = math.floor(v + 0.5)
    if abs(v - r) <= 8.0 * 2.220446049250313e-16 * max(1.0, abs(v)):
        k = int(r)
    else:
        k = int(math.ceil(v))
    return min(max(k, 0), n)
