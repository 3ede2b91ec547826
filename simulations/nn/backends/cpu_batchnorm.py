"""numba kernels of the CPU backend: 2-D batch normalisation (NCHW), forward and backward.

Plain ``@njit(cache=True)`` functions on arrays, no validation, no allocation (every output is
passed in); sums are accumulated in float64. Batch normalisation (Ioffe & Szegedy 2015, ICML,
Algorithm 1) of channel c over its M = N·H·W entries x_m:

    μ = (1/M) Σ x_m,   σ² = (1/M) Σ (x_m − μ)²  (biased),   x̂_m = (x_m − μ)/√(σ² + ε),
    y_m = γ x̂_m + β.

Training uses the batch statistics and updates the running ones with momentum m as PyTorch's
``nn.BatchNorm2d``: r_μ ← (1 − m) r_μ + m μ,  r_σ² ← (1 − m) r_σ² + m · σ² · M/(M − 1) (the
UNBIASED batch variance; M ≥ 2). Evaluation uses μ = r_μ, σ² = r_σ².

Backward (the chain rule through Algorithm 1; Ioffe & Szegedy 2015, §3), with g = ∂loss/∂y:

    ∂β = Σ g_m,   ∂γ = Σ g_m x̂_m,
    training:     ∂x_m = γ/(M √(σ² + ε)) · (M g_m − ∂β − x̂_m ∂γ)   (μ, σ² depend on x),
    evaluation:   ∂x_m = γ g_m /√(r_σ² + ε)                        (the map is affine in x).

Both forward kernels write the per-channel μ and 1/√(σ² + ε) they used into ``mean`` and
``inv_std``; the backward kernels recompute x̂ from the forward input x with them, so no x̂ is
stored. ``dx`` may BE ``dy`` (the backward is element-wise once ∂β, ∂γ are known).
"""
from __future__ import annotations

import math

import numba as nb

__all__ = ["batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward_train",
           "batchnorm_backward_eval"]


@nb.njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, momentum, run_mean, run_var, mean, inv_std, y):
    """y ← BN(x) with the batch statistics; mean, inv_std ← μ, 1/√(σ² + ε); running stats updated.

    x, y (N, C, H, W) C-contiguous (distinct arrays); gamma, beta, run_mean, run_var, mean,
    inv_std (C,); N·H·W ≥ 2 (for the unbiased variance). Two passes (mean, then centred squares).
    """
    N, C, H, W = x.shape
    P = H * W
    M = N * P
    x3 = x.reshape(N, C, P)
    y3 = y.reshape(N, C, P)
    for c in range(C):
        s = 0.0
        for n in range(N):
            r = x3[n, c]
            for t in range(P):
                s += r[t]
        mu = s / M
        q = 0.0
        for n in range(N):
            r = x3[n, c]
            for t in range(P):
                d = r[t] - mu
                q += d * d
        var = q / M
        istd = 1.0 / math.sqrt(var + eps)
        mean[c] = mu
        inv_std[c] = istd
        run_mean[c] = (1.0 - momentum) * run_mean[c] + momentum * mu
        run_var[c] = (1.0 - momentum) * run_var[c] + momentum * (q / (M - 1))
        a = gamma[c] * istd
        b = beta[c] - a * mu
        for n in range(N):
            r = x3[n, c]
            o = y3[n, c]
            for t in range(P):
                o[t] = a * r[t] + b


@nb.njit(cache=True)
def batchnorm_forward_eval(x, gamma, beta, eps, run_mean, run_var, mean, inv_std, y):
    """y ← γ (x − r_μ)/√(r_σ² + ε) + β; mean, inv_std ← r_μ, 1/√(r_σ² + ε). Shapes as the training kernel."""
    N, C, H, W = x.shape
    P = H * W
    x3 = x.reshape(N, C, P)
    y3 = y.reshape(N, C, P)
    for c in range(C):
        mu = float(run_mean[c])
        istd = 1.0 / math.sqrt(float(run_var[c]) + eps)
        mean[c] = mu
        inv_std[c] = istd
        a = gamma[c] * istd
        b = beta[c] - a * mu
        for n in range(N):
            r = x3[n, c]
            o = y3[n, c]
            for t in range(P):
                o[t] = a * r[t] + b


@nb.njit(cache=True)
def _sums(dy3, x3, c, mu, istd):
    """(Σ g, Σ g x̂) of channel c."""
    N = dy3.shape[0]
    P = dy3.shape[2]
    sg = 0.0
    sgx = 0.0
    for n in range(N):
        g = dy3[n, c]
        r = x3[n, c]
        for t in range(P):
            sg += g[t]
            sgx += g[t] * ((r[t] - mu) * istd)
    return sg, sgx


@nb.njit(cache=True)
def batchnorm_backward_train(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta):
    """dx, dγ, dβ of training-mode BN (module docstring) given dy; mean, inv_std from the forward.

    dy, x, dx (N, C, H, W) C-contiguous (dx may be dy); gamma, mean, inv_std, dgamma, dbeta (C,).
    """
    N, C, H, W = x.shape
    P = H * W
    M = N * P
    x3 = x.reshape(N, C, P)
    dy3 = dy.reshape(N, C, P)
    dx3 = dx.reshape(N, C, P)
    for c in range(C):
        mu = float(mean[c])
        istd = float(inv_std[c])
        sg, sgx = _sums(dy3, x3, c, mu, istd)
        dbeta[c] = sg
        dgamma[c] = sgx
        k = gamma[c] * istd / M
        for n in range(N):
            g = dy3[n, c]
            r = x3[n, c]
            o = dx3[n, c]
            for t in range(P):
                o[t] = k * (M * g[t] - sg - ((r[t] - mu) * istd) * sgx)


@nb.njit(cache=True)
def batchnorm_backward_eval(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta):
    """dx = γ dy/√(r_σ² + ε), dγ = Σ dy x̂, dβ = Σ dy (evaluation mode). Shapes as the training kernel."""
    N, C, H, W = x.shape
    P = H * W
    x3 = x.reshape(N, C, P)
    dy3 = dy.reshape(N, C, P)
    dx3 = dx.reshape(N, C, P)
    for c in range(C):
        mu = float(mean[c])
        istd = float(inv_std[c])
        sg, sgx = _sums(dy3, x3, c, mu, istd)
        dbeta[c] = sg
        dgamma[c] = sgx
        k = gamma[c] * istd
        for n in range(N):
            g = dy3[n, c]
            o = dx3[n, c]
            for t in range(P):
                o[t] = k * g[t]
