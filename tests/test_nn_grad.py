"""Gradients of the neural core: central finite differences (float64) and PyTorch autograd."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from simulations.nn import MLPSpec, get_backend, init_params

ACTS = ("relu", "tanh", "softplus", "identity")
LOSSES = ("cross_entropy", "squared")


def _ref_loss(spec, flat, X, y):
    """Straightforward numpy forward pass (independent of the kernels)."""
    from simulations.nn import Params

    p = Params(spec, flat)
    a = X
    for l in range(spec.n_layers):
        z = a @ p.weights[l].T
        if spec.bias:
            z = z + p.biases[l]
        if l < spec.n_layers - 1:
            a = {"relu": lambda t: np.maximum(t, 0), "tanh": np.tanh,
                 "softplus": lambda t: np.logaddexp(0, t), "identity": lambda t: t}[spec.activation](z)
        else:
            a = z
    n, K = a.shape
    if spec.loss == "cross_entropy":
        m = a.max(axis=1, keepdims=True)
        lse = (m + np.log(np.exp(a - m).sum(axis=1, keepdims=True)))[:, 0]
        return float(np.mean(lse - a[np.arange(n), y]))
    onehot = np.eye(K)[y]
    return float(np.mean(0.5 * ((a - onehot) ** 2).sum(axis=1)))


@pytest.mark.parametrize("act,loss,bias", list(itertools.product(ACTS, LOSSES, (True, False))))
def test_gradient_matches_central_differences(act, loss, bias):
    spec = MLPSpec((5, 6, 4, 3), bias=bias, activation=act, loss=loss, dtype="float64")
    rng = np.random.default_rng(7)
    flat = init_params(spec, 3).flat
    X = rng.standard_normal((9, 5))
    y = rng.integers(0, 3, 9)
    be = get_backend("cpu")
    val, g = be.gradient(spec, flat, X, y)
    # the kernel's loss agrees with the reference forward pass
    assert val == pytest.approx(_ref_loss(spec, flat, X, y), rel=1e-12, abs=1e-12)
    h = 1e-6
    fd = np.empty_like(flat)
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = h
        fd[i] = (_ref_loss(spec, flat + e, X, y) - _ref_loss(spec, flat - e, X, y)) / (2 * h)
    # central differences: truncation O(h²)·|f'''| ≈ 1e-12 plus rounding 1e-16/h ≈ 1e-10
    # (ReLU kinks are never within h of a pre-activation with these seeds: checked by the tight tolerance)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_gradient_float32_close_to_float64():
    spec64 = MLPSpec((20, 30, 5), dtype="float64")
    spec32 = spec64.with_(dtype="float32")
    p = init_params(spec64, 0)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((16, 20))
    y = rng.integers(0, 5, 16)
    be = get_backend("cpu")
    l64, g64 = be.gradient(spec64, p.flat, X, y)
    l32, g32 = be.gradient(spec32, p.flat.astype(np.float32), X, y)
    assert l32 == pytest.approx(l64, rel=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("act,loss,bias", [("relu", "cross_entropy", True), ("tanh", "squared", False),
                                           ("softplus", "cross_entropy", False), ("relu", "squared", True)])
def test_gradient_matches_torch_autograd(act, loss, bias):
    torch = pytest.importorskip("torch")
    spec = MLPSpec((12, 16, 8, 4), bias=bias, activation=act, loss=loss, dtype="float64")
    p = init_params(spec, 11)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((10, 12))
    y = rng.integers(0, 4, 10)
    ws = [torch.tensor(w, requires_grad=True) for w in p.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in p.biases] if bias else [None] * spec.n_layers
    a = torch.tensor(X)
    phi = {"relu": torch.relu, "tanh": torch.tanh, "softplus": torch.nn.functional.softplus}[act]
    for l in range(spec.n_layers):
        a = torch.nn.functional.linear(a, ws[l], bs[l])
        if l < spec.n_layers - 1:
            a = phi(a)
    yt = torch.tensor(y)
    if loss == "cross_entropy":
        L = torch.nn.functional.cross_entropy(a, yt)
    else:
        L = 0.5 * ((a - torch.nn.functional.one_hot(yt, 4).double()) ** 2).sum(dim=1).mean()
    L.backward()
    val, g = get_backend("cpu").gradient(spec, p.flat, X, y)
    assert val == pytest.approx(L.item(), rel=1e-12)
    from simulations.nn import Params

    G = Params(spec, g)
    for l in range(spec.n_layers):
        np.testing.assert_allclose(G.weights[l], ws[l].grad.numpy(), rtol=1e-10, atol=1e-13)
        if bias:
            np.testing.assert_allclose(G.biases[l], bs[l].grad.numpy(), rtol=1e-10, atol=1e-13)


def test_init_matches_torch_linear_default_bounds():
    torch = pytest.importorskip("torch")
    spec = MLPSpec((300, 200, 10))
    p = init_params(spec, 0)
    lin = torch.nn.Linear(300, 200)
    bound = 1 / np.sqrt(300)
    # same support and (uniform) variance bound²/3 as PyTorch's nn.Linear; 60000 draws: sd of var est ≈ 0.6 %
    w_t = lin.weight.detach().numpy()
    assert np.abs(p.weights[0]).max() <= bound and np.abs(w_t).max() <= bound
    assert p.weights[0].var() == pytest.approx(bound**2 / 3, rel=0.03)
    assert w_t.var() == pytest.approx(bound**2 / 3, rel=0.03)
    assert np.abs(p.biases[0]).max() <= bound
