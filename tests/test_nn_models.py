"""The model registry: parameter counts by hand formulas and against the same networks built in PyTorch.

The PyTorch networks below are written from the papers' code (Barsbey et al. 2021 / Wan et al. 2024
``vgg.py``; the common CIFAR ResNet with option-A shortcuts), not from simulations.nn.models; they
are compared on parameter count, the ordered list of parameter shapes (the flat layout), the
BatchNorm buffers and the activation shape after every layer (forward hooks).
"""
from __future__ import annotations

import json

import pytest

from simulations.nn.model_spec import ModelSpec
from simulations.nn.models import MODELS, get_model


def conv(c_in, c_out, k, bias):
    return c_out * c_in * k * k + (c_out if bias else 0)


def dense(d_in, d_out, bias):
    return d_out * d_in + (d_out if bias else 0)


def vgg_convs(channels, c_in):
    total = 0
    for c in channels:
        total += conv(c_in, c, 3, False)
        c_in = c
    return total


def test_lenet5_count():
    expected = conv(1, 6, 5, True) + conv(6, 16, 5, True) + dense(16 * 5 * 5, 120, True) + dense(120, 84, True) \
        + dense(84, 10, True)
    assert expected == 61706
    s = get_model("lenet5")
    assert s.n_params == expected
    assert s.shapes()[:7] == ((6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5), (400,))


def test_vgg11_counts_and_spatial_sizes():
    a = (64, 128, 256, 256, 512, 512, 512, 512)
    cifar = get_model("vgg11")
    assert cifar.n_params == vgg_convs(a, 3) + dense(512, 10, False) == 9222848
    pools = [cifar.shapes()[i][1:] for i, lay in enumerate(cifar.layers) if type(lay).__name__ == "MaxPool2d"]
    assert pools == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    mnist = get_model("vgg11", input_shape=(1, 28, 28))
    assert mnist.n_params == vgg_convs(a, 1) + dense(512, 10, False)
    pools = [mnist.shapes()[i][1:] for i, lay in enumerate(mnist.layers) if type(lay).__name__ == "MaxPool2d"]
    assert pools == [(14, 14), (7, 7), (3, 3), (1, 1)]           # cfg F: 28 → 14 → 7 → 3 → 1
    with pytest.raises(ValueError, match=r"layers\[20\]"):       # cfg A's fifth pool on a 1×1 map
        get_model("vgg11", input_shape=(1, 28, 28), cfg="A")
    with pytest.raises(ValueError, match="512"):
        get_model("vgg11", input_shape=(3, 64, 64), cfg="A")
    assert all(not e.bias_shape for e in cifar.param_layout()) and cifar.init == "kaiming_normal_fan_out"


def test_vgg11_wide_counts():
    w = (128, 256, 512, 512, 1024, 1024, 1024, 1024)
    s = get_model("vgg11_wide")
    assert s.n_params == vgg_convs(w, 3) + dense(1024, 10, False)
    m = get_model("vgg11_wide", head="mlp", n_classes=100)
    assert m.n_params == vgg_convs(w, 3) + dense(1024, 1024, False) * 2 + dense(1024, 100, False)


def resnet_count(n, shortcut="A"):
    total = conv(3, 16, 3, False) + 2 * 16
    c_in = 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += conv(c_in, width, 3, False) + conv(width, width, 3, False) + 4 * width
            if shortcut == "B" and c_in != width:
                total += conv(c_in, width, 1, False) + 2 * width
            c_in = width
    return total + dense(64, 10, True)


@pytest.mark.parametrize("name, n", [("resnet20", 3), ("resnet32", 5), ("resnet44", 7), ("resnet56", 9)])
def test_resnet_counts(name, n):
    assert get_model(name).n_params == resnet_count(n)
    assert get_model(name, shortcut="B").n_params == resnet_count(n, "B")


def test_resnet20_is_the_papers_0_27M_and_shapes():
    s = get_model("resnet20")
    assert s.n_params == 269722 and round(s.n_params / 1e6, 2) == 0.27
    blocks = [sh for sh, lay in zip(s.shapes(), s.layers) if type(lay).__name__ == "BasicBlock"]
    assert blocks == [(16, 32, 32)] * 3 + [(32, 16, 16)] * 3 + [(64, 8, 8)] * 3
    assert s.shapes()[-2:] == ((64,), (10,))
    assert s.n_buffers == 2 * (16 + 2 * 16 * 3 + 2 * 32 * 3 + 2 * 64 * 3)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_registry_round_trip(name):
    s = get_model(name)
    back = ModelSpec.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s and hash(back) == hash(s)


def test_get_model_validation():
    with pytest.raises(ValueError, match="name"):
        get_model("alexnet")
    with pytest.raises(TypeError, match="width"):
        get_model("lenet5", width=3)
    with pytest.raises(ValueError, match="head"):
        get_model("vgg11_wide", head="conv")
    with pytest.raises(ValueError, match="cfg"):
        get_model("vgg11", input_shape=(3, 40, 40))
    with pytest.raises(ValueError, match="shortcut"):
        get_model("resnet20", shortcut="C")
    with pytest.raises(ValueError, match="input_shape"):
        get_model("lenet5", input_shape=(784,))


# ---------------------------------------------------------------------------------------- PyTorch oracle
def torch_models():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    F = torch.nn.functional

    def vgg(cfg, c_in, head):
        layers = []
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, v, 3, padding=1, bias=False), nn.ReLU()]
                c_in = v
        return nn.Sequential(*layers, *head)

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride, option):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.short = None
            self.pad = (c_out - c_in) // 2
            self.stride = stride
            self.option = option
            if option == "B" and (stride != 1 or c_in != c_out):
                self.short = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            if self.short is not None:
                s = self.short(x)
            else:
                s = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.pad, self.pad))
            return F.relu(out + s)

    def resnet(n, option):
        layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
        c_in = 16
        for i, w in enumerate((16, 32, 64)):
            for b in range(n):
                layers.append(Block(c_in, w, 2 if (i > 0 and b == 0) else 1, option))
                c_in = w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

    a = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    f = [64, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    aw = [128, "M", 256, "M", 512, 512, "M", 1024, 1024, "M", 1024, 1024, "M"]
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                          nn.ReLU(), nn.Linear(84, 10))
    gap = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return torch, [
        (get_model("lenet5"), lenet, (1, 28, 28), 0),
        (get_model("vgg11"), vgg(a, 3, [nn.Flatten(), nn.Linear(512, 10, bias=False)]), (3, 32, 32), 0),
        (get_model("vgg11", input_shape=(1, 28, 28)), vgg(f, 1, [nn.Flatten(), nn.Linear(512, 10, bias=False)]),
         (1, 28, 28), 0),
        (get_model("vgg11_wide"), vgg(aw, 3, gap + [nn.Linear(1024, 10, bias=False)]), (3, 32, 32), 1),
        (get_model("vgg11_wide", head="mlp"),
         vgg(aw, 3, gap + [nn.Linear(1024, 1024, bias=False), nn.ReLU(), nn.Linear(1024, 1024, bias=False),
                           nn.ReLU(), nn.Linear(1024, 10, bias=False)]), (3, 32, 32), 1),
        (get_model("resnet20"), resnet(3, "A"), (3, 32, 32), 1),
        (get_model("resnet20", shortcut="B"), resnet(3, "B"), (3, 32, 32), 1),
    ]


def test_against_pytorch():
    torch, cases = torch_models()
    for spec, net, shape, merged in cases:
        # parameters: count and the ordered shapes of the flat layout [W1, b1, W2, b2, ...]
        assert spec.n_params == sum(p.numel() for p in net.parameters())
        ours = []
        for e in spec.param_layout():
            ours.append(e.weight_shape)
            if e.bias_shape is not None:
                ours.append(e.bias_shape)
        assert ours == [tuple(p.shape) for p in net.parameters()]
        bufs = [b for name, b in net.named_buffers() if name.endswith(("running_mean", "running_var"))]
        assert spec.n_buffers == sum(b.numel() for b in bufs)
        # activation shapes: torch's GlobalAvgPool is AdaptiveAvgPool2d + Flatten (``merged`` such pairs)
        seen = []
        hooks = [m.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[1:]))) for m in net]
        net.eval()
        with torch.no_grad():
            net(torch.zeros((2, *shape)))
        for h in hooks:
            h.remove()
        if merged:
            k = next(i for i, m in enumerate(net) if isinstance(m, torch.nn.AdaptiveAvgPool2d))
            seen = seen[:k] + seen[k + 1:]
        assert tuple(seen) == spec.shapes(), type(net)


def test_init_bounds_match_pytorch_fans():
    # PyTorch's own fan computation gives the bound 1/√fan_in of reset_parameters (a = √5)
    torch, cases = torch_models()
    from simulations.nn.model_spec import init_model_params, param_views
    spec, net = cases[0][:2]
    mods = [m for m in net if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    views = param_views(spec, init_model_params(spec, seed=0))
    for m, (_, w, b) in zip(mods, views, strict=True):
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(m.weight)
        bound = torch.nn.init.calculate_gain("leaky_relu", 5 ** 0.5) * (3 / fan_in) ** 0.5
        assert abs(w).max() <= bound * (1 + 1e-6) and abs(w).max() > 0.9 * bound
        assert abs(b).max() <= bound * (1 + 1e-6)
