"""Per-element arithmetic of the neural core, written once for the CPU and the device.

Each function here is plain Python compiled by ``numba.njit`` for the CPU kernels
(:mod:`simulations.nn.backends.cpu_dense`, :mod:`simulations.nn.backends.cpu_kernels`); the
CUDA kernels compile the very same source (``.py_func``) as device functions
(:mod:`simulations.nn.backends.cuda_dense`), as :mod:`simulations.stable.cuda` does for
``cms_transform``. The functions are leaves (they call only :mod:`math`), so both compilers
accept them. Codes come from :mod:`simulations._core.codes`.

* :func:`activation` φ(z): ReLU max(z, 0); tanh; softplus log(1 + e^z) = max(z, 0) + log1p(e^{−|z|});
  identity.
* :func:`activation_backward` δ ⊙ φ'(z) written through the activation a = φ(z) (backpropagation,
  Rumelhart, Hinton & Williams 1986, Nature): ReLU 1[a > 0]; tanh 1 − a²; softplus
  1 − e^{−a} (= logistic(z), since e^a = 1 + e^z); identity 1.
* :func:`row_loss_grad` the loss of one row of logits z with label t and its gradient:
  cross-entropy lse(z) − z_t with ∂/∂z = softmax(z) − e_t; squared ½‖z − e_t‖² with
  ∂/∂z = z − e_t (computed in float64, the row maximum subtracted; argmax = first maximum).
* :func:`noise_amplitude` σ η^{1/α}, the scale of the α-stable noise injected after an SGD step
  of size η (Wan, Barsbey, Zaidi & Şimşekli 2024, ICML).
"""
from __future__ import annotations

import math

import numba as nb

from simulations._core import pointwise as _shared
from simulations._core.codes import ACT_RELU, ACT_SOFTPLUS, ACT_TANH, LOSS_CROSS_ENTROPY

__all__ = ["activation", "activation_backward", "row_loss_grad", "noise_amplitude"]


#: φ(z), from :mod:`simulations._core.pointwise` (one formula for every kernel family).
activation = nb.njit(inline="always")(_shared.activation)


@nb.njit(inline="always", cache=True)
def activation_backward(d, a, act):
    """d · φ'(z) given the activation a = φ(z) (ReLU: 0 where a ≤ 0, d elsewhere)."""
    if act == ACT_RELU:
        return 0.0 if a <= 0 else d
    if act == ACT_TANH:
        return d * (1.0 - a * a)
    if act == ACT_SOFTPLUS:
        return d * (-math.expm1(-a))
    return d


@nb.njit(inline="always", cache=True)
def row_loss_grad(Z, i, t, loss, D, scale):
    """(loss, 1[argmax Z[i] = t]) of row i of the logits Z with label t.

    When D has a row i, also writes D[i, :] = scale · ∂loss/∂Z[i] (scale = 1/B for a mean loss);
    pass a 0-row D for the loss alone.
    """
    K = Z.shape[1]
    best = 0
    zmax = Z[i, 0]
    for k in range(1, K):
        if Z[i, k] > zmax:
            zmax = Z[i, k]
            best = k
    correct = 1 if best == t else 0
    grad = D.shape[0] > i
    if loss == LOSS_CROSS_ENTROPY:
        s = 0.0
        for k in range(K):
            s += math.exp(float(Z[i, k]) - zmax)
        lse = zmax + math.log(s)
        if grad:
            for k in range(K):
                D[i, k] = (math.exp(float(Z[i, k]) - lse) - (1.0 if k == t else 0.0)) * scale
        return lse - Z[i, t], correct
    acc = 0.0
    for k in range(K):
        e = float(Z[i, k]) - (1.0 if k == t else 0.0)
        acc += e * e
        if grad:
            D[i, k] = e * scale
    return 0.5 * acc, correct


#: σ η^{1/α}, from :mod:`simulations._core.pointwise`.
noise_amplitude = nb.njit(inline="always")(_shared.noise_amplitude)
