"""Filter (channel) pruning: scores, masks, the physically smaller network, and the prunable filter fraction.

Oracles: hand-written offsets and loops for the scores and masks of small networks, the forward
pass of the masked full network (``conv_net.predict`` / ``forward`` on ``flat * mask``) for the
smaller network, and a brute-force search for the prunable fraction.
"""
from __future__ import annotations

import numpy as np
import pytest

from simulations.nn import conv_net
from simulations.nn.layers import BasicBlock, BatchNorm2d, Conv2d, Dense, Flatten, GlobalAvgPool, MaxPool2d, ReLU
from simulations.nn.model_spec import ModelSpec, init_model_buffers, init_model_params
from simulations.nn.models import get_model
from simulations.pruning import filters as F


def _tiny_vgg(head: str = "flatten", dtype: str = "float64") -> ModelSpec:
    """conv–BN–ReLU–pool, conv–ReLU, then Flatten (or GlobalAvgPool), dense–ReLU–dense; every layer with a bias."""
    layers = [Conv2d(4, 3, padding=1), BatchNorm2d(), ReLU(), MaxPool2d(2), Conv2d(3, 3, padding=1), ReLU()]
    layers += [Flatten()] if head == "flatten" else [GlobalAvgPool()]
    layers += [Dense(5), ReLU(), Dense(2)]
    return ModelSpec((2, 6, 6), tuple(layers), 2, dtype=dtype)


def _random_net(spec: ModelSpec, seed: int):
    """Parameters and BatchNorm buffers away from their initial values (random γ, β, running statistics)."""
    rng = np.random.default_rng(seed)
    flat = rng.standard_normal(spec.n_params).astype(spec.np_dtype)
    buf = init_model_buffers(spec)
    for b in spec.buffer_layout():
        buf[b.mean_offset:b.mean_offset + b.channels] = rng.standard_normal(b.channels)
        buf[b.var_offset:b.var_offset + b.channels] = rng.uniform(0.5, 2.0, b.channels)
    return flat, buf


# hand-computed layout of _tiny_vgg("flatten"): (2, 6, 6) → conv 4 → (4, 6, 6) → pool → (4, 3, 3) → conv 3
# → (3, 3, 3) → flatten 27 → dense 5 → dense 2
W0, B0, G, BETA, W1, B1, WD, BD, WO, BO, N_PARAMS = 0, 72, 76, 80, 84, 192, 195, 330, 335, 345, 347


def test_tiny_layout_is_the_hand_computed_one():
    spec = _tiny_vgg()
    assert spec.n_params == N_PARAMS
    offs = [(e.weight_offset, e.bias_offset) for e in spec.param_layout()]
    assert offs == [(W0, B0), (G, BETA), (W1, B1), (WD, BD), (WO, BO)]


@pytest.mark.parametrize("norm", [1, 2])
def test_scores_match_hand_computation(norm):
    spec = _tiny_vgg()
    flat, _ = _random_net(spec, 1)
    got = F.filter_scores(spec, flat, norm=norm)
    blocks = [(W0, 4, 18), (W1, 3, 36), (WD, 5, 27), (WO, 2, 5)]
    assert len(got) == len(blocks)
    for g, (off, rows, size) in zip(got, blocks):
        want = []
        for k in range(rows):
            row = flat[off + k * size: off + (k + 1) * size]
            want.append(sum(abs(v) for v in row) if norm == 1 else sum(v * v for v in row) ** 0.5)
        np.testing.assert_allclose(g, want, rtol=1e-13)


def test_scores_do_not_overflow_for_huge_weights():
    spec = _tiny_vgg()
    flat, _ = _random_net(spec, 2)
    big = F.filter_scores(spec, flat * 2.0**1000, norm=2)
    small = F.filter_scores(spec, flat, norm=2)
    for b, s in zip(big, small):
        assert np.all(np.isfinite(b))
        np.testing.assert_allclose(b, s * 2.0**1000, rtol=1e-13)


def _expected_tiny_mask() -> np.ndarray:
    """keep: conv0 drops channel 1, conv1 drops 0 and 2, dense drops neuron 3 (written out by hand)."""
    m = np.ones(N_PARAMS, dtype=np.uint8)
    w0 = m[W0:B0].reshape(4, 2, 3, 3)
    w0[1] = 0
    m[B0 + 1] = m[G + 1] = m[BETA + 1] = 0
    w1 = m[W1:B1].reshape(3, 4, 3, 3)
    w1[:, 1] = 0
    w1[[0, 2]] = 0
    m[B1 + 0] = m[B1 + 2] = 0
    wd = m[WD:BD].reshape(5, 27)
    wd[:, 0:9] = 0          # channel 0 of the (3, 3, 3) map: columns 0 … 8
    wd[:, 18:27] = 0        # channel 2: columns 18 … 26
    wd[3] = 0
    m[BD + 3] = 0
    m[WO:BO].reshape(2, 5)[:, 3] = 0
    return m


TINY_KEEP = [np.array([1, 0, 1, 1], bool), np.array([0, 1, 0], bool), np.array([1, 1, 1, 0, 1], bool),
             np.ones(2, bool)]


def test_mask_zeroes_exactly_the_expected_entries():
    mask = F.filter_mask(_tiny_vgg(), TINY_KEEP)
    assert mask.dtype == np.uint8 and mask.shape == (N_PARAMS,)
    np.testing.assert_array_equal(mask, _expected_tiny_mask())
    # conv0: 18 + b 1 + γ, β 2; conv1: rows 0, 2 (72) + column 1 of row 1 (9) + b 2;
    # dense: 18 columns × 5 rows (90) + the rest of row 3 (9) + b 1; output: column 3 of 2 rows
    assert int((mask == 0).sum()) == 18 + 1 + 2 + 72 + 9 + 2 + 90 + 9 + 1 + 2


def test_mask_after_global_average_pool_zeroes_one_column_per_channel():
    spec = _tiny_vgg("gap")
    keep = [np.ones(4, bool), np.array([1, 0, 1], bool), np.ones(5, bool), np.ones(2, bool)]
    mask = F.filter_mask(spec, keep)
    e = spec.param_layout()
    wd = mask[e[3].weight_offset:e[3].bias_offset].reshape(5, 3)
    assert (wd[:, 1] == 0).all() and (np.delete(wd, 1, axis=1) == 1).all()
    assert int((mask == 0).sum()) == 36 + 1 + 5     # conv1 row 1 (4·9), its bias, dense column 1


def _assert_removed_matches_masked(spec, flat, buf, keep, X):
    mask = F.filter_mask(spec, keep)
    net = F.remove_filters(spec, flat, buf, keep)
    want = conv_net.predict(spec, flat * mask, buf.copy(), X)
    got = conv_net.predict(net.spec, net.flat, net.buffers.copy(), X)
    assert got.shape == want.shape == (X.shape[0], spec.n_classes)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * max(1.0, np.abs(want).max()))
    # every surviving parameter is in the smaller network (all layers here have biases)
    assert net.spec.n_params == int(mask.sum())
    return mask, net


def test_removed_lenet5_equals_the_masked_network():
    spec = get_model("lenet5", dtype="float64")
    flat = init_model_params(spec, 3)
    X = np.random.default_rng(4).standard_normal((6, 1, 28, 28))
    keep, _ = F.prune_filters(spec, flat, 0.5)
    assert [int(k.sum()) for k in keep] == [3, 8, 60, 42, 10]
    _, net = _assert_removed_matches_masked(spec, flat, np.zeros(0), keep, X)
    assert [lay.out_channels for lay in net.spec.layers if isinstance(lay, Conv2d)] == [3, 8]
    rng = np.random.default_rng(5)
    keep = [rng.random(n) < 0.6 for n in (6, 16, 120, 84)] + [np.ones(10, bool)]
    for k in keep:
        k[0] = True
    _assert_removed_matches_masked(spec, flat, np.zeros(0), keep, X)


@pytest.mark.parametrize("head", ["flatten", "gap"])
def test_removed_tiny_vgg_equals_the_masked_network_in_both_modes(head):
    spec = _tiny_vgg(head)
    flat, buf = _random_net(spec, 6)
    X = np.random.default_rng(7).standard_normal((5, 2, 6, 6))
    mask, net = _assert_removed_matches_masked(spec, flat, buf, TINY_KEEP, X)
    # training mode: batch statistics per channel, and the running statistics of the kept channels
    b_full, b_small = buf.copy(), net.buffers.copy()
    want = conv_net.forward(spec, flat * mask, b_full, X, train=True).copy()
    got = conv_net.forward(net.spec, net.flat, b_small, X, train=True).copy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * max(1.0, np.abs(want).max()))
    kept = np.flatnonzero(TINY_KEEP[0])
    np.testing.assert_allclose(b_small, np.concatenate([b_full[:4][kept], b_full[4:][kept]]), rtol=1e-14)
    assert [int(k.sum()) for k in TINY_KEEP] == [lay.out_channels if isinstance(lay, Conv2d) else lay.out_features
                                                  for lay in net.spec.layers if isinstance(lay, (Conv2d, Dense))]


def test_masked_entries_stay_zero_when_the_network_is_trained():
    spec = _tiny_vgg()
    flat, buf = _random_net(spec, 8)
    mask = F.filter_mask(spec, TINY_KEEP)
    w = flat * mask
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((8, 2, 6, 6)), rng.integers(0, 2, 8)
    for _ in range(3):
        _, g = conv_net.loss_and_grad(spec, w, buf, X, y, train=True)
        # the removed channels are exactly 0 after their BatchNorm and ReLU, and nothing reads them
        assert np.all(g[mask == 0] == 0.0)
        w = w - 0.1 * g
    assert np.all(w[mask == 0] == 0.0)
    assert np.any(w[mask == 1] != (flat * mask)[mask == 1])


def test_prune_filters_count_and_tie_rules():
    spec = _tiny_vgg()
    flat, _ = _random_net(spec, 10)
    scores = [np.array([2.0, 1.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.0]), np.arange(5.0)[::-1], np.zeros(2)]
    keep, mask = F.prune_filters(spec, flat, 0.5, scores=scores)
    # ⌊0.5·4⌋ = 2 of the three tied 1.0s: the lowest indices; ⌊0.5·3⌋ = 1: index 0; ⌊0.5·5⌋ = 2: the last two
    np.testing.assert_array_equal(keep[0], [True, False, False, True])
    np.testing.assert_array_equal(keep[1], [False, True, True])
    np.testing.assert_array_equal(keep[2], [True, True, True, False, False])
    assert keep[3].all()
    np.testing.assert_array_equal(mask, F.filter_mask(spec, keep))
    keep, _ = F.prune_filters(spec, flat, 0.3, scores=scores)      # 0.3·4 = 1.2 → 1; 0.3·3 → 0; 0.3·5 → 1
    assert [int((~k).sum()) for k in keep] == [1, 0, 1, 0]
    keep, _ = F.prune_filters(spec, flat, 0.7, layers=[1], scores=scores)  # 0.7·3 = 2.1 → 2, layer 1 only
    assert [int((~k).sum()) for k in keep] == [0, 2, 0, 0]
    keep, _ = F.prune_filters(spec, flat, 0.99, scores=scores)     # a layer keeps at least one channel
    assert [int(k.sum()) for k in keep] == [1, 1, 1, 2]


def test_prune_filters_default_scores_are_l1_norms():
    spec = _tiny_vgg()
    flat, _ = _random_net(spec, 11)
    keep, _ = F.prune_filters(spec, flat, 0.5)
    l1 = np.abs(flat[W0:B0]).reshape(4, -1).sum(axis=1)
    np.testing.assert_array_equal(~keep[0], np.isin(np.arange(4), np.argsort(l1)[:2]))
    l1 = np.abs(flat[WD:BD]).reshape(5, -1).sum(axis=1)
    np.testing.assert_array_equal(~keep[2], np.isin(np.arange(5), np.argsort(l1)[:2]))


def test_prunable_filter_fraction_hand_example():
    spec = ModelSpec((4,), (Dense(4, bias=False), ReLU(), Dense(2, bias=False)), 2, dtype="float64")
    w0 = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0], [1, 1, 2, 0]], float)  # squared norms 1, 1, 2, 6
    w1 = np.array([[3, 0, 0, 0], [0, 1, 0, 0]], float)                               # 9, 1
    flat = np.concatenate([w0.ravel(), w1.ravel()])
    r = F.prunable_filter_fraction(spec, flat, eps=0.1)      # 1/10 ≤ 0.1 < 2/10
    assert r.per_layer == {0: 0.25} and r.overall == 0.25 and r.params == 0.25
    assert F.prunable_filter_fraction(spec, flat, eps=0.2).per_layer == {0: 0.5}   # 2/10 ≤ 0.2
    r = F.prunable_filter_fraction(spec, flat, eps=0.1, layers=[0, 1])   # layer 1: 1/10 ≤ 0.1
    assert r.per_layer == {0: 0.25, 1: 0.5}
    assert r.overall == pytest.approx(2 / 6) and r.params == pytest.approx(8 / 24)


def test_prunable_filter_fraction_against_brute_force():
    spec = _tiny_vgg()
    rng = np.random.default_rng(12)
    flat = rng.standard_t(1.5, spec.n_params)
    r = F.prunable_filter_fraction(spec, flat, eps=0.1, layers=[0, 1, 2, 3])
    for l, (off, rows) in enumerate([(W0, 4), (W1, 3), (WD, 5), (WO, 2)]):
        size = {0: 18, 1: 36, 2: 27, 3: 5}[l]
        W = flat[off:off + rows * size].reshape(rows, size)
        order = np.argsort((W**2).sum(axis=1))
        best = 0
        for m in range(rows + 1):
            P = W.copy()
            P[order[:m]] = 0.0
            if ((W - P) ** 2).sum() / (W**2).sum() <= 0.1:
                best = m
        assert r.per_layer[l] == best / rows


def _tiny_resnet() -> ModelSpec:
    """stem conv–BN–ReLU, an identity block (4), a projection block (4 → 6, stride 2, "B"), a zero-padding
    block (6 → 8, stride 2, "A"), global average pool, dense 3 (float64)."""
    layers = (Conv2d(4, 3, padding=1), BatchNorm2d(), ReLU(), BasicBlock(4), BasicBlock(6, stride=2, shortcut="B"),
              BasicBlock(8, stride=2), GlobalAvgPool(), Dense(3))
    return ModelSpec((2, 6, 6), layers, 3, dtype="float64")


# hand-computed layout of _tiny_resnet(): the weight offsets of the block convolutions and first BatchNorms
# (conv1 (O, C, 3, 3) without bias; bn1 γ then β); prunable layers in order: stem 0, block 3: conv1 1,
# conv2 2, block 4: conv1 3, conv2 4, shortcut 5, block 5: conv1 6, conv2 7, dense 8
R3_C1, R3_G1, R3_C2, R4_C1, R4_G1, R4_C2, R5_C1, R5_G1, R5_C2 = 84, 228, 236, 388, 604, 616, 988, 1420, 1436


def _resnet_keep(spec, drops):
    """keep with the given {prunable layer: channels to drop}."""
    keep = [np.ones(s[0], bool) for s in spec.weight_shapes]
    for l, ch in drops.items():
        keep[l][list(ch)] = False
    return keep


def test_residual_mask_removes_a_block_s_inner_channels_only():
    spec = _tiny_resnet()
    assert [(e.weight_offset, e.bias_offset) for e in spec.param_layout() if e.name.endswith(("conv1", "bn1", "conv2"))] \
        == [(R3_C1, None), (R3_G1, R3_G1 + 4), (R3_C2, None), (R4_C1, None), (R4_G1, R4_G1 + 6), (R4_C2, None),
            (R5_C1, None), (R5_G1, R5_G1 + 8), (R5_C2, None)]
    mask = F.filter_mask(spec, _resnet_keep(spec, {1: [2], 3: [0, 5], 6: [7]}))
    want = np.ones(spec.n_params, np.uint8)
    for c1, g1, c2, cin, width, drop in ((R3_C1, R3_G1, R3_C2, 4, 4, [2]), (R4_C1, R4_G1, R4_C2, 4, 6, [0, 5]),
                                         (R5_C1, R5_G1, R5_C2, 6, 8, [7])):
        for k in drop:
            want[c1 + k * cin * 9: c1 + (k + 1) * cin * 9] = 0          # conv1 filter k
            want[g1 + k] = want[g1 + width + k] = 0                      # bn1 γ_k, β_k
            for o in range(width):                                       # conv2 input channel k of every filter
                want[c2 + (o * width + k) * 9: c2 + (o * width + k + 1) * 9] = 0
    np.testing.assert_array_equal(mask, want)


@pytest.mark.parametrize("train", [False, True])
def test_residual_mask_equals_cutting_the_inner_channel_s_only_use(train):
    """Masked network = the network whose second convolutions merely ignore the dropped inner channels
    (their input columns zeroed, the first convolution and BatchNorm untouched): the inner channel is
    exactly 0 after the mask, so nothing else can depend on it; in training mode (batch statistics)
    as in evaluation mode."""
    spec = _tiny_resnet()
    flat, buf = _random_net(spec, 21)
    X = np.random.default_rng(22).standard_normal((5, 2, 6, 6))
    drops = {1: [2], 3: [0, 5], 6: [7]}
    mask = F.filter_mask(spec, _resnet_keep(spec, drops))
    ref = flat.copy()
    for c2, width, drop in ((R3_C2, 4, [2]), (R4_C2, 6, [0, 5]), (R5_C2, 8, [7])):
        ref[c2:c2 + width * width * 9].reshape(width, width, 9)[:, drop] = 0.0
    got = conv_net.forward(spec, flat * mask, buf.copy(), X, train=train)
    want = conv_net.forward(spec, ref, buf.copy(), X, train=train)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    assert np.abs(got - conv_net.forward(spec, flat, buf.copy(), X, train=train)).max() > 1e-6  # the cut matters


def test_residual_tied_layers_are_kept_whole():
    spec = _tiny_resnet()
    flat, buf = _random_net(spec, 23)
    for l, name in ((0, "layers.0"), (2, "layers.3.conv2"), (4, "layers.4.conv2"), (5, "layers.4.shortcut.conv"),
                    (7, "layers.5.conv2")):
        with pytest.raises(ValueError, match=rf"keep\[{l}\] must be all True: .*{name}"):
            F.filter_mask(spec, _resnet_keep(spec, {l: [0]}))
        with pytest.raises(ValueError, match=f"layers must not hold layer {l}"):
            F.prune_filters(spec, flat, 0.5, layers=[l])
    keep, mask = F.prune_filters(spec, flat, 0.5)            # default: the blocks' first convolutions
    assert [int((~k).sum()) for k in keep] == [0, 2, 0, 3, 0, 0, 4, 0, 0]
    scores = F.filter_scores(spec, flat, norm=1)
    for l in (1, 3, 6):                                        # the smallest ℓ1 norms went
        assert scores[l][~keep[l]].max() <= scores[l][keep[l]].min()
    np.testing.assert_array_equal(mask, F.filter_mask(spec, keep))


@pytest.mark.parametrize("train", [False, True])
def test_removed_resnet_equals_the_masked_network(train):
    """The physically narrower blocks (mid_channels = the kept inner channels) compute the masked network's
    logits, with batch statistics as with running ones, and hold exactly its surviving parameters."""
    spec = _tiny_resnet()
    flat, buf = _random_net(spec, 24)
    X = np.random.default_rng(25).standard_normal((4, 2, 6, 6))
    keep = _resnet_keep(spec, {1: [0, 2], 3: [1], 6: [0, 3, 4, 7]})
    mask = F.filter_mask(spec, keep)
    net = F.remove_filters(spec, flat, buf, keep)
    assert [getattr(lay, "mid_channels", None) for lay in net.spec.layers if isinstance(lay, BasicBlock)] == [2, 5, 4]
    assert [lay.out_channels for lay in net.spec.layers if isinstance(lay, BasicBlock)] == [4, 6, 8]
    assert net.spec.n_params == int(mask.sum())
    want = conv_net.forward(spec, flat * mask, buf.copy(), X, train=train)
    got = conv_net.forward(net.spec, net.flat, net.buffers.copy(), X, train=train)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())


def test_resnet20_default_pruning_count():
    """ResNet-20 (widths 16, 32, 64, three blocks each): half of each block's inner channels go, which
    zeroes, per block of input width c_in and width c, m = c/2 filters of conv1 (c_in·9 weights each),
    their 2m BatchNorm entries and m input channels of conv2 (c·9 weights each)."""
    spec = get_model("resnet20")
    flat = np.random.default_rng(3).standard_normal(spec.n_params).astype(np.float32)
    _, mask = F.prune_filters(spec, flat, 0.5)
    want, cin = 0, 16
    for c in (16, 32, 64):
        for _ in range(3):
            m = c // 2
            want += m * cin * 9 + 2 * m + m * c * 9
            cin = c
    assert int((mask == 0).sum()) == want
    assert len(F.filter_scores(spec, flat)) == len(spec.weight_shapes)


def test_bad_arguments_name_the_parameter():
    spec = _tiny_vgg()
    flat, buf = _random_net(spec, 13)
    keep = [k.copy() for k in TINY_KEEP]
    cases = [
        (TypeError, "spec", lambda: F.filter_scores("lenet5", flat)),
        (ValueError, "flat", lambda: F.filter_scores(spec, flat[:-1])),
        (ValueError, "flat", lambda: F.filter_scores(spec, np.full(spec.n_params, np.nan))),
        (ValueError, "norm", lambda: F.filter_scores(spec, flat, norm=3)),
        (TypeError, "norm", lambda: F.filter_scores(spec, flat, norm=True)),
        (TypeError, "keep", lambda: F.filter_mask(spec, np.ones(4, bool))),
        (ValueError, "keep", lambda: F.filter_mask(spec, keep[:3])),
        (TypeError, r"keep\[0\]", lambda: F.filter_mask(spec, [np.ones(4)] + keep[1:])),
        (ValueError, r"keep\[1\]", lambda: F.filter_mask(spec, [keep[0], np.ones(4, bool)] + keep[2:])),
        (ValueError, r"keep\[1\]", lambda: F.filter_mask(spec, [keep[0], np.zeros(3, bool)] + keep[2:])),
        (ValueError, r"keep\[3\].*logits", lambda: F.filter_mask(spec, keep[:3] + [np.array([True, False])])),
        (ValueError, "sparsity", lambda: F.prune_filters(spec, flat, 1.0)),
        (ValueError, "sparsity", lambda: F.prune_filters(spec, flat, -0.1)),
        (ValueError, "layers", lambda: F.prune_filters(spec, flat, 0.5, layers=[-1])),
        (ValueError, "layers", lambda: F.prune_filters(spec, flat, 0.5, layers=[7])),
        (ValueError, "scores", lambda: F.prune_filters(spec, flat, 0.5, scores=[np.ones(4)])),
        (TypeError, "scores", lambda: F.prune_filters(spec, flat, 0.5, scores=np.ones(4))),
        (ValueError, r"scores\[0\]", lambda: F.prune_filters(spec, flat, 0.5,
                                                              scores=[np.ones(3), np.ones(3), np.ones(5), np.ones(2)])),
        (ValueError, "buffers", lambda: F.remove_filters(spec, flat, buf[:-1], keep)),
        (ValueError, "buffers", lambda: F.remove_filters(spec, flat, None, keep)),
        (ValueError, "eps", lambda: F.prunable_filter_fraction(spec, flat, eps=1.0)),
        (ValueError, "layers", lambda: F.prunable_filter_fraction(spec, flat, layers=[])),
    ]
    for exc, match, call in cases:
        with pytest.raises(exc, match=match):
            call()
