"""BatchNorm2d kernels (``cpu_batchnorm``) against independent oracles.

Oracles: (1) a numpy reference written here from Ioffe & Szegedy 2015, Algorithm 1 (``np.mean``,
``np.var``) with PyTorch's running-statistics rule; (2) central finite differences in float64 of
θ ↦ Σ G·y(θ) for every gradient (dx, dγ, dβ), in training mode (where μ and σ² depend on x) and in
evaluation mode — the maps are smooth, so with step h = 1e-5 the central difference has truncation
error O(h²·|f'''|) ≈ 1e-10 and rounding error ≈ u·|f|/h ≈ 1e-11 (u = 2⁻⁵³); tolerance 1e-7
relative to the largest gradient entry; (3) ``torch.nn.BatchNorm2d`` (skipped without torch):
outputs, gradients and running statistics, train and eval, float64 to 1e-12 and float32 to 1e-5.
"""
from __future__ import annotations

import numpy as np
import pytest

from simulations.nn.backends import cpu_batchnorm as K


def ref_train(x, g, b, eps, m, rm, rv):
    mu = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    M = x.size // x.shape[1]
    y = g[None, :, None, None] * (x - mu[None, :, None, None]) / np.sqrt(var + eps)[None, :, None, None] \
        + b[None, :, None, None]
    return y, (1 - m) * rm + m * mu, (1 - m) * rv + m * var * M / (M - 1)


def ref_eval(x, g, b, eps, rm, rv):
    return g[None, :, None, None] * (x - rm[None, :, None, None]) / np.sqrt(rv + eps)[None, :, None, None] \
        + b[None, :, None, None]


def setup(shape=(3, 4, 5, 2), dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3, C)[None, :, None, None]
         + rng.uniform(-2, 2, C)[None, :, None, None]).astype(dtype)
    g, b = rng.uniform(0.5, 2, C).astype(dtype), rng.standard_normal(C).astype(dtype)
    rm, rv = rng.standard_normal(C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype)
    G = rng.standard_normal(shape).astype(dtype)
    return x, g, b, rm, rv, G


def run_train(x, g, b, eps, m, rm, rv):
    C = x.shape[1]
    rm, rv = rm.copy(), rv.copy()
    mean, istd, y = np.empty(C, x.dtype), np.empty(C, x.dtype), np.empty_like(x)
    K.batchnorm_forward_train(x, g, b, eps, m, rm, rv, mean, istd, y)
    return y, rm, rv, mean, istd


def run_eval(x, g, b, eps, rm, rv):
    C = x.shape[1]
    mean, istd, y = np.empty(C, x.dtype), np.empty(C, x.dtype), np.empty_like(x)
    K.batchnorm_forward_eval(x, g, b, eps, rm, rv, mean, istd, y)
    return y, mean, istd


def backward(train, G, x, g, mean, istd, inplace=False):
    dx = G.copy() if inplace else np.empty_like(G)
    dy = dx if inplace else G
    dg, db = np.empty_like(g), np.empty_like(g)
    (K.batchnorm_backward_train if train else K.batchnorm_backward_eval)(dy, x, g, mean, istd, dx, dg, db)
    return dx, dg, db


@pytest.mark.parametrize("shape", [(3, 4, 5, 2), (2, 1, 1, 1), (1, 3, 4, 4)])
def test_forward_matches_reference(shape):
    x, g, b, rm, rv, _ = setup(shape)
    y, rm1, rv1, mean, istd = run_train(x, g, b, 1e-5, 0.1, rm, rv)
    ry, rrm, rrv = ref_train(x, g, b, 1e-5, 0.1, rm, rv)
    np.testing.assert_allclose(y, ry, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rm1, rrm, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rv1, rrv, rtol=1e-12)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12, atol=1e-14)
    ye, _, _ = run_eval(x, g, b, 1e-3, rm, rv)
    np.testing.assert_allclose(ye, ref_eval(x, g, b, 1e-3, rm, rv), rtol=1e-12, atol=1e-12)


def fd(f, theta, G, h=1e-5):
    out = np.zeros_like(theta)
    for i in np.ndindex(theta.shape):
        t = theta.copy()
        t[i] += h
        fp = np.sum(G * f(t))
        t[i] -= 2 * h
        out[i] = (fp - np.sum(G * f(t))) / (2 * h)
    return out


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("inplace", [False, True])
def test_gradients_match_finite_differences(train, inplace):
    x, g, b, rm, rv, G = setup((3, 2, 3, 2), seed=1)
    eps = 1e-3

    def fwd(x_, g_, b_):
        return (run_train(x_, g_, b_, eps, 0.1, rm, rv)[0] if train else run_eval(x_, g_, b_, eps, rm, rv)[0])

    if train:
        _, _, _, mean, istd = run_train(x, g, b, eps, 0.1, rm, rv)
    else:
        _, mean, istd = run_eval(x, g, b, eps, rm, rv)
    dx, dg, db = backward(train, G, x, g, mean, istd, inplace)
    for got, want in ((dx, fd(lambda t: fwd(t, g, b), x, G)), (dg, fd(lambda t: fwd(x, t, b), g, G)),
                      (db, fd(lambda t: fwd(x, g, t), b, G))):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7 * max(1.0, np.abs(want).max()))
    if train:   # Σ_m ∂x_m = 0 and Σ_m ∂x_m x̂_m = 0 per channel: the batch statistics absorb shifts and scales
        np.testing.assert_allclose(dx.sum(axis=(0, 2, 3)), 0.0, atol=1e-12)


def test_float32_agrees_with_float64():
    x, g, b, rm, rv, G = setup((4, 3, 6, 6), seed=2)
    y64, rm64, rv64, m64, s64 = run_train(x, g, b, 1e-5, 0.1, rm, rv)
    a32 = [a.astype(np.float32) for a in (x, g, b, rm, rv, G)]
    y32, rm32, rv32, m32, s32 = run_train(*a32[:3], 1e-5, 0.1, *a32[3:5])
    # float32 rounding of inputs and outputs (2⁻²⁴ relative) amplified by |γ|/σ ≲ 10 here
    np.testing.assert_allclose(y32, y64, rtol=0, atol=1e-5 * np.abs(y64).max())
    np.testing.assert_allclose(rv32, rv64, rtol=1e-5)
    d64 = backward(True, G, x, g, m64, s64)
    d32 = backward(True, a32[5], a32[0], a32[1], m32, s32)
    for a, b_ in zip(d32, d64):
        np.testing.assert_allclose(a, b_, rtol=0, atol=1e-4 * np.abs(b_).max())


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_matches_torch(dtype, tol):
    torch = pytest.importorskip("torch")
    x, g, b, rm, rv, G = setup((4, 3, 5, 5), dtype=dtype, seed=3)
    bn = torch.nn.BatchNorm2d(3, eps=1e-5, momentum=0.2).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(g))
        bn.bias.copy_(torch.tensor(b))
        bn.running_mean.copy_(torch.tensor(rm))
        bn.running_var.copy_(torch.tensor(rv))
    for train in (True, False):
        bn.train(train)
        bn.zero_grad()
        tx = torch.tensor(x, requires_grad=True)
        ty = bn(tx)
        (ty * torch.tensor(G)).sum().backward()
        if train:
            y, rm1, rv1, mean, istd = run_train(x, g, b, 1e-5, 0.2, rm, rv)
            np.testing.assert_allclose(rm1, bn.running_mean.numpy(), rtol=tol, atol=tol)
            np.testing.assert_allclose(rv1, bn.running_var.numpy(), rtol=tol, atol=tol)
            rm, rv = rm1, rv1    # torch's running stats moved; eval below uses the updated ones
        else:
            y, mean, istd = run_eval(x, g, b, 1e-5, rm, rv)
        scale = max(1.0, np.abs(ty.detach().numpy()).max())
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=0, atol=tol * scale)
        dx, dg, db = backward(train, G, x, g, mean, istd)
        for got, want in ((dx, tx.grad), (dg, bn.weight.grad), (db, bn.bias.grad)):
            want = want.numpy()
            np.testing.assert_allclose(got, want, rtol=0, atol=tol * max(1.0, np.abs(want).max()) * 10)
