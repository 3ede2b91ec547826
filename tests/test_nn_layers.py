"""Layer specs and ModelSpec: shape propagation, flat layout, serialisation, validation, initialisation.

Oracles: shapes and counts written out by hand here; the MLP layout and initialisation of
simulations.nn.model (a separately written module); initial distributions against scipy's KS test.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

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
    layer_from_dict,
)
from simulations.nn.model import MLPSpec, init_params
from simulations.nn.model_spec import ModelSpec, init_model_buffers, init_model_params, param_views


def small_cnn(**kw):
    return ModelSpec((3, 9, 7), (Conv2d(4, (3, 2), stride=(2, 1), padding=(1, 0)), BatchNorm2d(), ReLU(),
                                 AvgPool2d(2, stride=1), Flatten(), Dense(5, bias=False)), 5, **kw)


def test_shapes_follow_the_hand_formulas():
    s = small_cnn()
    # conv: H' = (9 + 2 - 3)//2 + 1 = 5, W' = (7 - 2)//1 + 1 = 6; avgpool 2 stride 1: 4 × 5
    assert s.shapes() == ((4, 5, 6), (4, 5, 6), (4, 5, 6), (4, 4, 5), (80,), (5,))
    e = s.param_layout()
    assert [x.kind for x in e] == ["conv", "batchnorm", "dense"]
    assert e[0].weight_shape == (4, 3, 3, 2) and e[0].bias_shape == (4,)
    assert (e[0].weight_offset, e[0].bias_offset, e[1].weight_offset, e[1].bias_offset) == (0, 72, 76, 80)
    assert e[2].weight_offset == 84 and e[2].bias_shape is None and e[2].weight_shape == (5, 80)
    assert s.n_params == 72 + 4 + 8 + 400
    assert s.weight_shapes == [(4, 3, 3, 2), (5, 80)]
    assert s.n_buffers == 8 and s.buffer_layout()[0].mean_offset == 0 and s.buffer_layout()[0].var_offset == 4


def test_pool_and_global_pool_shapes():
    s = ModelSpec((2, 7, 7), (MaxPool2d(3, stride=2), GlobalAvgPool(), Dense(3)), 3)
    assert s.shapes() == ((2, 3, 3), (2,), (3,))
    assert MaxPool2d(2) == MaxPool2d(2, 2) == MaxPool2d((2, 2), stride=(2, 2))
    assert MaxPool2d(2) != AvgPool2d(2)


def test_basic_block_shapes_and_parameters():
    a = ModelSpec((16, 8, 8), (BasicBlock(32, stride=2), GlobalAvgPool(), Dense(2)), 2)
    assert a.shapes()[0] == (32, 4, 4)
    assert [x.name for x in a.param_layout()] == ["layers.0.conv1", "layers.0.bn1", "layers.0.conv2",
                                                  "layers.0.bn2", "layers.2"]
    assert a.n_params == 16 * 32 * 9 + 64 + 32 * 32 * 9 + 64 + 32 * 2 + 2
    b = ModelSpec((16, 7, 7), (BasicBlock(32, stride=2, shortcut="B"), GlobalAvgPool(), Dense(2)), 2)
    assert b.shapes()[0] == (32, 4, 4)            # ceil(7/2)
    assert b.n_params == a.n_params + 16 * 32 + 64
    assert b.n_buffers == 3 * 64
    same = ModelSpec((8, 5, 5), (BasicBlock(8, shortcut="B"), Flatten(), Dense(2)), 2)
    assert len(same.param_layout()) == 5        # identity shortcut: no projection even with "B"


def test_serialisation_round_trip_hash_and_equality():
    s = ModelSpec((3, 16, 16), (Conv2d(4, 3, padding=1), BatchNorm2d(eps=1e-3, momentum=0.2), ReLU(), Tanh(),
                                Softplus(), BasicBlock(8, 2), MaxPool2d(2), GlobalAvgPool(), Dense(3)), 3,
                  loss="squared", init="xavier", dtype="float64")
    text = json.dumps(s.to_dict())
    back = ModelSpec.from_dict(json.loads(text))
    assert back == s and hash(back) == hash(s) and back.n_params == s.n_params
    assert {s: 1}[back] == 1
    assert s != s.with_(dtype="float32") and s.with_(dtype="float32").with_(dtype="float64") == s
    for lay in s.layers:
        assert layer_from_dict(json.loads(json.dumps(lay.to_dict()))) == lay


@pytest.mark.parametrize("layers, index", [
    ((Conv2d(2, 5), Flatten(), Dense(3)), 0),                              # kernel 5 > input 4
    ((Conv2d(2, 3), MaxPool2d(3), Flatten(), Dense(3)), 1),                # 2×2 map, pool 3
    ((Flatten(), Conv2d(2, 1), Flatten(), Dense(3)), 1),                   # conv on a flat input
    ((Conv2d(2, 1), Dense(3)), 1),                                         # dense on an image
    ((Flatten(), BatchNorm2d(), Dense(3)), 1),
    ((BasicBlock(1, 2), Flatten(), Dense(3)), 0),                          # option A cannot shrink channels
    ((BasicBlock(3, 2), Flatten(), Dense(3)), 0),                          # nor pad an odd number
])
def test_validation_names_the_layer(layers, index):
    with pytest.raises(ValueError, match=rf"layers\[{index}\]"):
        ModelSpec((2, 4, 4), layers, 3)


def test_validation_of_fields():
    with pytest.raises(ValueError, match="n_classes"):
        ModelSpec((4,), (Dense(3),), 4)
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        ModelSpec((4,), (Dense(3), "relu"), 3)
    with pytest.raises(ValueError, match="input_shape"):
        ModelSpec((1, 4), (Flatten(), Dense(3)), 3)
    with pytest.raises(ValueError, match="layers"):
        ModelSpec((4,), (), 3)
    with pytest.raises(ValueError, match="init"):
        ModelSpec((4,), (Dense(3),), 3, init="orthogonal")
    with pytest.raises(ValueError, match="kernel"):
        Conv2d(2, 0)
    with pytest.raises(ValueError, match="padding"):
        Conv2d(2, 3, padding=-1)
    with pytest.raises(TypeError, match="bias"):
        Dense(2, bias=1)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm2d(momentum=1.5)
    with pytest.raises(ValueError, match="shortcut"):
        BasicBlock(4, shortcut="C")
    with pytest.raises(ValueError, match="type"):
        layer_from_dict({"type": "Conv3d"})
    with pytest.raises(ValueError, match="PARAMS_MAX"):
        ModelSpec((1,), (Dense(2**16), Dense(2**16), Dense(2)), 2)
    with pytest.raises(TypeError, match="unknown"):
        small_cnn().with_(bias=False)


@pytest.mark.parametrize("mlp", [MLPSpec((12, 7, 5, 3)), MLPSpec((6, 4, 2), bias=False, activation="tanh",
                                                                 init="xavier", dtype="float64"),
                                 MLPSpec((5, 5), activation="identity", loss="squared")])
def test_from_mlp_has_the_mlp_layout_and_initialisation(mlp):
    s = ModelSpec.from_mlp(mlp)
    off = mlp.offsets
    dense = [e for e in s.param_layout() if e.kind == "dense"]
    assert s.n_params == mlp.n_params and len(dense) == mlp.n_layers
    for l, e in enumerate(dense):
        assert e.weight_offset == off[l, 0] and e.end == off[l, 2]
        assert e.bias_offset == (off[l, 1] if mlp.bias else None)
    assert s.weight_shapes == mlp.weight_shapes
    np.testing.assert_array_equal(init_model_params(s, 3), init_params(mlp, 3).flat)
    img = ModelSpec.from_mlp(MLPSpec((16, 3)), input_shape=(1, 4, 4))
    assert img.shapes()[0] == (16,)
    with pytest.raises(ValueError, match="input_shape"):
        ModelSpec.from_mlp(MLPSpec((16, 3)), input_shape=(1, 4, 5))


def test_torch_default_init_is_uniform_with_the_hand_bound():
    # kaiming_uniform(a=√5): bound = gain·√(3/fan_in), gain = √(2/(1+a²)) = 1/√3 ⇒ 1/√fan_in.
    s = ModelSpec((8, 6, 6), (Conv2d(64, 3), BatchNorm2d(), Flatten(), Dense(10)), 10, dtype="float64")
    flat = init_model_params(s, seed=1)
    views = param_views(s, flat)
    (conv, w, b), (bn, g, beta), (dense, wd, bd) = views
    for arr, fan_in in ((w, 8 * 9), (b, 8 * 9), (wd, 64 * 16), (bd, 64 * 16)):
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(arr).max() <= bound
        # KS against U(−bound, bound); false-alarm rate 1e-3 per array
        assert stats.kstest(arr.ravel(), stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3
    assert np.all(g == 1.0) and np.all(beta == 0.0)
    w[0, 0, 0, 0] = 7.0
    assert flat[0] == 7.0                                     # views write through
    buf = init_model_buffers(s)
    np.testing.assert_array_equal(buf, np.r_[np.zeros(64), np.ones(64)].astype(np.float32))
    np.testing.assert_array_equal(init_model_params(s, 1), init_model_params(s, 1))
    assert not np.array_equal(init_model_params(s, 1), init_model_params(s, 2))


def test_fan_out_normal_init_of_convolutions():
    # He et al. 2015 fan-out mode: conv W ~ N(0, 2/(O·kh·kw)); dense keeps U(±1/√fan_in)
    s = ModelSpec((4, 5, 5), (Conv2d(50, 3, bias=False), Flatten(), Dense(7, bias=False)), 7,
                  init="kaiming_normal_fan_out", dtype="float64")
    (_, w, _), (_, wd, _) = param_views(s, init_model_params(s, seed=0))
    sd = math.sqrt(2 / (50 * 9))
    assert stats.kstest(w.ravel(), stats.norm(0, sd).cdf).pvalue > 1e-3
    bound = 1 / math.sqrt(50 * 9)
    assert np.abs(wd).max() <= bound and stats.kstest(wd.ravel(), stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3


def test_kolmogorov_checks_have_power():
    # the KS test above rejects the wrong scale (bound from fan_out instead of fan_in) at every seed tried
    s = ModelSpec((8, 6, 6), (Conv2d(64, 3), Flatten(), Dense(10)), 10, dtype="float64")
    for seed in range(5):
        w = param_views(s, init_model_params(s, seed))[0][1]
        wrong = 1 / math.sqrt(64 * 9)
        assert stats.kstest(w.ravel(), stats.uniform(-wrong, 2 * wrong).cdf).pvalue < 1e-3


def test_param_views_validation():
    s = small_cnn()
    with pytest.raises(ValueError, match="flat"):
        param_views(s, np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError, match="spec"):
        init_model_params("net", 0)


def test_basic_block_inner_width():
    """``mid_channels`` narrows conv1 (and bn1, conv2's input); a plain block's dict has no such key (spec hashes
    of existing runs are unchanged); both round-trip; a bad width names the parameter."""
    from simulations.nn.layers import layer_from_dict

    plain, narrow = BasicBlock(6, stride=2, shortcut="B"), BasicBlock(6, stride=2, shortcut="B", mid_channels=2)
    assert "mid_channels" not in plain.to_dict() and plain.width == 6
    assert narrow.to_dict()["mid_channels"] == 2 and narrow.width == 2
    assert layer_from_dict(plain.to_dict()) == plain and layer_from_dict(narrow.to_dict()) == narrow
    shapes = {name: w for name, _, w, _ in narrow.param_shapes((4, 8, 8), "x")}
    assert shapes[".conv1"] == (2, 4, 3, 3) and shapes[".bn1"] == (2,) and shapes[".conv2"] == (6, 2, 3, 3)
    assert shapes[".bn2"] == (6,) and shapes[".shortcut.conv"] == (6, 4, 1, 1)
    with pytest.raises(ValueError, match="mid_channels"):
        BasicBlock(6, mid_channels=0)
