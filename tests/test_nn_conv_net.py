"""Whole-network forward and backward (``conv_net``) against independent oracles.

Oracles: (1) central finite differences in float64 of the mean loss with respect to EVERY
parameter, on tiny instances of the three model families (LeNet-like with tanh/softplus/average
pooling, a VGG-like bias-free stack with the squared loss, a ResNet with identity, option-A and
option-B shortcuts), BatchNorm in evaluation mode and in training mode (the training loss is a
deterministic smooth function of the batch). Step h = 1e-7: truncation O(h²) ≈ 1e-14 and rounding
≈ u·|L|/h ≈ 1e-8 (u = 2⁻⁵³); a ReLU or max-pool kink within h·|∂z/∂θ| of a pre-activation spoils
a difference (seen with h = 1e-6 on one of seeds 0-3, none with 1e-7 on seeds 0-5; the seed is
fixed); tolerance 1e-6 relative to the largest entry.
(2) PyTorch autograd (skipped without torch) on get_model("lenet5") and get_model("resnet20"),
modules built here from the same flat parameters: logits, every gradient and the updated running
statistics equal to float64 rounding (1e-10 relative; the two sum in different orders).
(3) The MLP backend's own gradient kernel (``get_backend("cpu").gradient``, a separate
implementation) for ModelSpec.from_mlp: equal to 1e-12.
(4) numpy log-softmax and argmax of the predicted logits for evaluate().
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from simulations.nn import conv_net as cn
from simulations.nn.backends import get_backend
from simulations.nn.layers import (
    AvgPool2d,
    BasicBlock,
    BatchNorm2d,
    Conv2d,
    Dense,
    Flatten,
    GlobalAvgPool,
    MaxPool2d,
    ReLU,
    Softplus,
    Tanh,
)
from simulations.nn.model import MLPSpec, init_params
from simulations.nn.model_spec import ModelSpec, init_model_buffers, init_model_params
from simulations.nn.models import get_model


def lenet_like():
    return ModelSpec((1, 12, 12), (Conv2d(3, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(4, 3), Tanh(),
                                   AvgPool2d(2), Flatten(), Dense(6), Softplus(), Dense(3)), 3, dtype="float64")


def vgg_like():
    return ModelSpec((2, 8, 8), (Conv2d(4, 3, padding=1, bias=False), ReLU(), Conv2d(4, 3, padding=1, bias=False),
                                 ReLU(), MaxPool2d(2), Conv2d(6, 3, stride=2, padding=1, bias=False), ReLU(),
                                 GlobalAvgPool(), Dense(3, bias=False)), 3, loss="squared", dtype="float64")


def resnet_like():
    return ModelSpec((3, 6, 6), (Conv2d(4, 3, padding=1, bias=False), BatchNorm2d(momentum=0.3), ReLU(),
                                 BasicBlock(4), BasicBlock(6, stride=2, shortcut="A"),
                                 BasicBlock(8, stride=2, shortcut="B"), GlobalAvgPool(), Dense(3)), 3,
                     init="kaiming_normal", dtype="float64")


def narrow_resnet_like():
    """resnet_like with blocks of inner widths 2, 3 and 5 (``mid_channels``, as filter pruning leaves them)."""
    return ModelSpec((3, 6, 6), (Conv2d(4, 3, padding=1, bias=False), BatchNorm2d(momentum=0.3), ReLU(),
                                 BasicBlock(4, mid_channels=2), BasicBlock(6, stride=2, shortcut="A", mid_channels=3),
                                 BasicBlock(8, stride=2, shortcut="B", mid_channels=5), GlobalAvgPool(), Dense(3)), 3,
                     init="kaiming_normal", dtype="float64")


def problem(spec, n=4, seed=0):
    rng = np.random.default_rng(seed)
    flat = init_model_params(spec, seed)
    bn = [e for e in spec.param_layout() if e.kind == "batchnorm"]
    for e in bn:   # non-trivial γ, β so that their gradients are generic
        flat[e.weight_offset:e.end] = rng.uniform(0.5, 1.5, e.end - e.weight_offset)
    buf = init_model_buffers(spec)
    for b in spec.buffer_layout():
        buf[b.mean_offset:b.var_offset] = rng.normal(0, 0.3, b.channels)
        buf[b.var_offset:b.var_offset + b.channels] = rng.uniform(0.5, 2.0, b.channels)
    X = rng.standard_normal((n, *spec.input_shape))
    y = rng.integers(0, spec.n_classes, n)
    return flat, buf, X, y


def fd_grad(spec, flat, buf, X, y, train, h=1e-7):
    ws = cn.Workspace(spec, X.shape[0])
    g = np.empty_like(flat)
    for i in range(flat.size):
        t = flat.copy()
        t[i] += h
        fp = cn.loss_and_grad(spec, t, buf.copy(), X, y, ws, train)[0]
        t[i] -= 2 * h
        g[i] = (fp - cn.loss_and_grad(spec, t, buf.copy(), X, y, ws, train)[0]) / (2 * h)
    return g


@pytest.mark.parametrize("make,train", [(lenet_like, False), (vgg_like, False), (resnet_like, False),
                                        (resnet_like, True), (narrow_resnet_like, True)])
def test_gradient_matches_finite_differences(make, train):
    spec = make()
    flat, buf, X, y = problem(spec)
    loss, g = cn.loss_and_grad(spec, flat, buf.copy(), X, y, train=train)
    want = fd_grad(spec, flat, buf, X, y, train)
    assert np.isfinite(loss) and np.abs(want).max() > 1e-3
    np.testing.assert_allclose(g, want, rtol=0, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("make,train", [(lenet_like, False), (vgg_like, False), (resnet_like, True)])
def test_chunked_convolutions_equal_the_whole_batch(make, train, monkeypatch):
    """Convolutions run a chunk of samples at a time (cache-sized im2col); one sample per chunk changes nothing.

    Same loss, gradient and running statistics to 1e-12 (only the order of dw's sums changes).
    """
    from simulations.nn import blas_threads
    from simulations.nn.backends import cpu_conv_gemm as gk
    from simulations.nn.conv_ops import ConvOp

    spec = make()
    flat, buf, X, y = problem(spec, n=5)
    whole = cn.Workspace(spec, 5)
    monkeypatch.setattr(gk, "CHUNK_ENTRIES", 1)
    monkeypatch.setattr(gk, "MIN_COLUMNS", 1)
    ones = cn.Workspace(spec, 5)
    convs = [op for op in ones.ops if isinstance(op, ConvOp)]
    convs += [c for op in ones.ops for c in vars(op).values() if isinstance(c, ConvOp)]
    assert convs and all(c.chunk == 1 for c in convs)
    assert all(op.chunk == 5 for op in whole.ops if isinstance(op, ConvOp))
    b1, b2 = buf.copy(), buf.copy()
    with blas_threads(1):                      # the serial path (more threads split the samples too)
        l1, g1 = cn.loss_and_grad(spec, flat, b1, X, y, whole, train)
        l2, g2 = cn.loss_and_grad(spec, flat, b2, X, y, ones, train)
    assert np.isclose(l1, l2, rtol=1e-12, atol=0)
    np.testing.assert_allclose(g2, g1, rtol=0, atol=1e-12 * np.abs(g1).max())
    np.testing.assert_allclose(b2, b1, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("make,train", [(lenet_like, False), (vgg_like, False), (resnet_like, True)])
@pytest.mark.parametrize("threads", [2, 3])
def test_sample_parallel_convolutions_equal_one_thread(make, train, threads, monkeypatch):
    """With t BLAS threads each convolution runs t sample ranges at once; same numbers as one thread to 1e-12.

    The weight/bias gradients are per-range sums added at the end (a reordering of the sum); the
    BatchNorm running statistics and dx are untouched by the split. Every convolution call is
    checked to have gone through the parallel path.
    """
    from simulations.nn import blas_threads
    from simulations.nn import conv_parallel as cp

    spec = make()
    flat, buf, X, y = problem(spec, n=5)
    ws = cn.Workspace(spec, 5)
    b1, b2 = buf.copy(), buf.copy()
    with blas_threads(1):                      # (OpenBLAS's own default is one thread per core)
        l1, g1 = cn.loss_and_grad(spec, flat, b1, X, y, ws, train)
    g1 = g1.copy()
    calls = []
    real = cp.run
    monkeypatch.setattr(cp, "run", lambda tasks: (calls.append(len(tasks)), real(tasks)))
    with blas_threads(threads):
        l2, g2 = cn.loss_and_grad(spec, flat, b2, X, y, ws, train)
    assert calls and set(calls) == {threads}
    assert np.isclose(l1, l2, rtol=1e-12, atol=0)
    np.testing.assert_allclose(g2, g1, rtol=0, atol=1e-12 * np.abs(g1).max())
    np.testing.assert_allclose(b2, b1, rtol=1e-12, atol=1e-14)


def test_only_networks_of_narrow_convolutions_split_their_samples():
    """LeNet-5 (6 and 16 filters) splits; a network with a 64-filter layer keeps the threads in the GEMMs."""
    from simulations.nn.conv_parallel import SPLIT_OUT_MAX

    assert cn.Workspace(get_model("lenet5"), 2).split and cn.Workspace(resnet_like(), 2).split
    wide = ModelSpec((1, 6, 6), (Conv2d(4, 3), ReLU(), Conv2d(SPLIT_OUT_MAX, 3), Flatten(), Dense(2)), 2)
    assert not cn.Workspace(wide, 2).split
    assert not cn.Workspace(MLPSpec((4, 3)), 2).split                 # no convolution at all


def test_workspace_reuse_smaller_batches_and_allocation():
    spec = resnet_like()
    flat, buf, X, y = problem(spec, n=6)
    ws = cn.Workspace(spec, 6)
    l6, g6 = cn.loss_and_grad(spec, flat, buf.copy(), X, y, ws)
    g6 = g6.copy()
    l3, g3 = cn.loss_and_grad(spec, flat, buf.copy(), X[:3], y[:3], ws)
    r3, q3 = cn.loss_and_grad(spec, flat, buf.copy(), X[:3], y[:3])        # a fresh workspace of 3 rows
    assert l3 == r3 and np.array_equal(g3, q3)
    l6b, g6b = cn.loss_and_grad(spec, flat, buf.copy(), X, y, ws)
    assert l6b == l6 and np.array_equal(g6b, g6)                            # the smaller call left no trace
    tracemalloc.start()
    cn.loss_and_grad(spec, flat, buf.copy(), X, y, ws)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.05 * ws.nbytes, (peak, ws.nbytes)                       # validation temporaries only


def test_train_mode_updates_running_stats_and_eval_uses_them():
    spec = resnet_like()
    flat, buf, X, y = problem(spec)
    before = buf.copy()
    z_eval = cn.forward(spec, flat, buf, X, train=False).copy()
    assert np.array_equal(buf, before)
    z_train = cn.forward(spec, flat, buf, X, train=True).copy()
    assert not np.array_equal(buf, before) and not np.allclose(z_train, z_eval)
    # the first BatchNorm sees the first convolution's output: its running mean moves by m·(batch mean − r)
    b0 = spec.buffer_layout()[0]
    conv = _conv0(spec, flat, X).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(buf[:b0.channels], 0.7 * before[:b0.channels] + 0.3 * conv, rtol=1e-12)


def _conv0(spec, flat, X):
    """The first convolution of resnet_like, written as the defining sum (an independent reference)."""
    e = spec.param_layout()[0]
    w = flat[:e.end].reshape(e.weight_shape)
    xp = np.pad(X, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((X.shape[0], w.shape[0], 6, 6))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 6, j:j + 6], w[:, :, i, j])
    return out


@pytest.mark.parametrize("act", ["relu", "tanh", "softplus", "identity"])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared"])
@pytest.mark.parametrize("bias", [True, False])
def test_mlp_equivalence(act, loss, bias):
    mlp = MLPSpec((12, 7, 5, 4), bias=bias, activation=act, loss=loss, dtype="float64")
    p = init_params(mlp, 3)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((9, 12)), rng.integers(0, 4, 9)
    want_l, want_g = get_backend("cpu").gradient(mlp, p.flat, X, y)
    spec = ModelSpec.from_mlp(mlp, input_shape=(3, 2, 2))
    got_l, got_g = cn.loss_and_grad(spec, p.flat, None, X.reshape(9, 3, 2, 2), y)
    np.testing.assert_allclose(got_l, want_l, rtol=1e-12)
    np.testing.assert_allclose(got_g, want_g, rtol=0, atol=1e-12 * np.abs(want_g).max())


def test_predict_and_evaluate_against_numpy():
    spec = lenet_like()
    flat, buf, X, y = problem(spec, n=11)
    z = cn.predict(spec, flat, buf, X, batch_size=4)
    np.testing.assert_allclose(z, cn.forward(spec, flat, buf, X), rtol=1e-13, atol=1e-15)
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    loss, acc = cn.evaluate(spec, flat, buf, X, y, batch_size=4)
    np.testing.assert_allclose(loss, np.mean(lse - z[np.arange(11), y]), rtol=1e-12)
    assert acc == np.mean(np.argmax(z, 1) == y)


def test_errors_name_the_argument():
    spec = resnet_like()
    flat, buf, X, y = problem(spec)
    with pytest.raises(TypeError, match="spec"):
        cn.forward("lenet", flat, buf, X)
    with pytest.raises(ValueError, match="flat"):
        cn.forward(spec, flat[:-1], buf, X)
    with pytest.raises(TypeError, match="buffers"):
        cn.forward(spec, flat, buf.astype(np.float32), X)
    with pytest.raises(ValueError, match="X"):
        cn.forward(spec, flat, buf, X[:, :2])
    with pytest.raises(ValueError, match="ws"):
        cn.loss_and_grad(spec, flat, buf, X, y, cn.Workspace(spec, 2))
    with pytest.raises(ValueError, match="ws"):
        cn.forward(lenet_like(), init_model_params(lenet_like()), None, np.zeros((1, 1, 12, 12)), ws=cn.Workspace(spec, 4))
    tiny = ModelSpec((2, 1, 1), (Conv2d(2, 1), BatchNorm2d(), Flatten(), Dense(3)), 3)
    with pytest.raises(ValueError, match="BatchNorm"):   # 1 row of 1×1 maps: no batch variance
        cn.forward(tiny, init_model_params(tiny), init_model_buffers(tiny), np.ones((1, 2, 1, 1)), train=True)
    assert np.isfinite(cn.forward(tiny, init_model_params(tiny), init_model_buffers(tiny), np.ones((1, 2, 1, 1)))).all()
    with pytest.raises(ValueError, match="y"):
        cn.loss_and_grad(spec, flat, buf, X, y + 3)
    with pytest.raises(ValueError, match="stride"):
        cn.Workspace(ModelSpec((1, 6, 6), (Conv2d(2, 3, stride=(1, 2)), Flatten(), Dense(3)), 3), 2)
    with pytest.raises(ValueError, match="batch_size"):
        cn.Workspace(get_model("resnet20"), 2**19)


# ------------------------------------------------------------------------------ PyTorch
def torch_net(spec, flat):
    """A torch module of ``spec`` and its parameters listed in ``spec.param_layout()`` order."""
    torch = pytest.importorskip("torch")
    nn, F = torch.nn, torch.nn.functional
    tparams = []

    def conv(e, stride, pad):
        m = nn.Conv2d(e.weight_shape[1], e.weight_shape[0], e.weight_shape[2:], stride, pad,
                      bias=e.bias_shape is not None).double()
        tparams.append((e, m))
        return m

    def bn(e, lay=BatchNorm2d()):
        m = nn.BatchNorm2d(e.weight_shape[0], eps=lay.eps, momentum=lay.momentum).double()
        tparams.append((e, m))
        return m

    class Block(nn.Module):
        def __init__(self, lay, es, c_in):
            super().__init__()
            self.c1, self.b1 = conv(es[0], lay.stride, 1), bn(es[1])
            self.c2, self.b2 = conv(es[2], 1, 1), bn(es[3])
            self.kind = "I" if not lay.projects(c_in) else lay.shortcut
            self.s, self.p = lay.stride, (lay.out_channels - c_in) // 2
            if self.kind == "B":
                self.sc, self.sb = conv(es[4], lay.stride, 0), bn(es[5])

        def forward(self, x):
            out = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
            if self.kind == "I":
                sc = x
            elif self.kind == "A":
                sc = F.pad(x[:, :, ::self.s, ::self.s], (0, 0, 0, 0, self.p, self.p))
            else:
                sc = self.sb(self.sc(x))
            return F.relu(out + sc)

    mods, shape = [], spec.input_shape
    for i, lay in enumerate(spec.layers):
        es = [e for e in spec.param_layout() if e.layer == i]
        if isinstance(lay, Conv2d):
            mods.append(conv(es[0], lay.stride, lay.padding))
        elif isinstance(lay, BatchNorm2d):
            mods.append(bn(es[0], lay))
        elif isinstance(lay, BasicBlock):
            mods.append(Block(lay, es, shape[0]))
        elif isinstance(lay, Dense):
            m = nn.Linear(es[0].weight_shape[1], es[0].weight_shape[0], bias=es[0].bias_shape is not None).double()
            tparams.append((es[0], m))
            mods.append(m)
        else:
            mods.append({"ReLU": nn.ReLU(), "MaxPool2d": nn.MaxPool2d(2), "Flatten": nn.Flatten(),
                         "GlobalAvgPool": nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())}[type(lay).__name__])
        shape = spec.shapes()[i]
    net = nn.Sequential(*mods)
    with torch.no_grad():
        for e, m in tparams:
            m.weight.copy_(torch.tensor(flat[e.weight_offset:e.weight_offset + m.weight.numel()]).view(m.weight.shape))
            if m.bias is not None:
                m.bias.copy_(torch.tensor(flat[e.bias_offset:e.end]))
    return net, tparams


def torch_grad(tparams, n_params):
    g = np.zeros(n_params)
    for e, m in tparams:
        g[e.weight_offset:e.weight_offset + m.weight.numel()] = m.weight.grad.numpy().ravel()
        if m.bias is not None:
            g[e.bias_offset:e.end] = m.bias.grad.numpy()
    return g


@pytest.mark.parametrize("name,shape", [("lenet5", (1, 28, 28)), ("resnet20", (3, 32, 32)),
                                        ("resnet20_B", (3, 32, 32))])
@pytest.mark.parametrize("train", [True, False])
def test_matches_torch(name, shape, train):
    torch = pytest.importorskip("torch")
    spec = (get_model("resnet20", shortcut="B", dtype="float64") if name == "resnet20_B"
            else get_model(name, dtype="float64"))
    flat, buf, X, y = problem(spec, n=4, seed=5)
    net, tparams = torch_net(spec, flat)
    bns = [m for e, m in tparams if e.kind == "batchnorm"]
    with torch.no_grad():
        for b, m in zip(spec.buffer_layout(), bns):
            m.running_mean.copy_(torch.tensor(buf[b.mean_offset:b.var_offset]))
            m.running_var.copy_(torch.tensor(buf[b.var_offset:b.var_offset + b.channels]))
    net.train(train)
    tz = net(torch.tensor(X))
    torch.nn.functional.cross_entropy(tz, torch.tensor(y)).backward()
    z = cn.forward(spec, flat, buf.copy(), X, train=train)
    tz = tz.detach().numpy()
    np.testing.assert_allclose(z, tz, rtol=0, atol=1e-10 * np.abs(tz).max())
    loss, g = cn.loss_and_grad(spec, flat, buf, X, y, train=train)
    want = torch_grad(tparams, spec.n_params)
    np.testing.assert_allclose(g, want, rtol=0, atol=1e-10 * np.abs(want).max())
    for b, m in zip(spec.buffer_layout(), bns):
        np.testing.assert_allclose(buf[b.mean_offset:b.var_offset], m.running_mean.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(buf[b.var_offset:b.var_offset + b.channels], m.running_var.numpy(), rtol=1e-10)
