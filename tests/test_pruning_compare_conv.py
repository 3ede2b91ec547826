"""The method comparison on a convolutional network (LeNet-5): MACs at output positions, and every conv method runs."""
from __future__ import annotations

import numpy as np
import pytest

from simulations.nn import get_model
from simulations.pruning.algorithms.compute import Compute, forward_macs, layer_positions


def _lenet5_macs_by_hand(masks=None):
    """LeNet-5 on 1×28×28 written out: conv 6@5×5 pad 2 → 28×28, pool → 14×14, conv 16@5×5 → 10×10,
    pool → 5×5, dense 400-120-84-10; each weight is used once per output position, each bias once per output."""
    shapes = [(6, 1, 5, 5), (16, 6, 5, 5), (120, 400), (84, 120), (10, 84)]
    pos = [28 * 28, 10 * 10, 1, 1, 1]
    kept = [int(np.prod(s)) if masks is None else int(m.sum()) for s, m in zip(shapes, masks or [None] * 5)]
    return sum(p * (k + s[0]) for p, k, s in zip(pos, kept, shapes))


def test_layer_positions_and_macs_of_lenet5_match_the_hand_count():
    spec = get_model("lenet5", input_shape=(1, 28, 28), n_classes=10)
    assert layer_positions(spec) == [784, 100, 1, 1, 1]
    assert forward_macs(spec.weight_shapes, None, True, layer_positions(spec)) == _lenet5_macs_by_hand()
    rng = np.random.default_rng(3)
    masks = [rng.random(s) < 0.3 for s in spec.weight_shapes]
    assert forward_macs(spec.weight_shapes, masks, True, layer_positions(spec)) == _lenet5_macs_by_hand(masks)
    c = Compute()
    c.train(spec.weight_shapes, masks, 8, 5, True, positions=layer_positions(spec))
    assert c.macs == 3 * 8 * 5 * _lenet5_macs_by_hand(masks)


def test_an_mlp_has_no_positions_and_keeps_its_count():
    from simulations.nn import MLPSpec

    spec = MLPSpec((784, 300, 100, 10), bias=True)
    assert layer_positions(spec) is None
    assert forward_macs(spec.weight_shapes) == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10


@pytest.mark.parametrize("bad, err", [([1, 1], ValueError), ([0, 1, 1, 1, 1], ValueError), ("x", TypeError)])
def test_positions_are_validated(bad, err):
    spec = get_model("lenet5", input_shape=(1, 28, 28), n_classes=10)
    with pytest.raises(err, match="positions"):
        forward_macs(spec.weight_shapes, None, True, bad)


def test_mlp_only_methods_are_refused_on_a_conv_model():
    from simulations.experiments.pruning import CompareConfig
    from simulations.pruning.comparison import compare_run

    cfg = CompareConfig(method="woodfisher", dataset="mnist")
    object.__setattr__(cfg, "model", "lenet5")  # a config that bypasses the choices check
    with pytest.raises(ValueError, match="MLPs only"):
        compare_run(cfg, 0)


def _has_mnist() -> bool:
    from simulations.pruning.data import available_datasets

    return "mnist" in available_datasets()


@pytest.mark.skipif(not _has_mnist(), reason="MNIST files not found (set TAILCOMP_DATA to the folder holding them)")
@pytest.mark.parametrize("method", ["dense", "magnitude", "tail_index", "snip", "gmp", "rigl", "rigl_sparse_init",
                                    "imp_lr", "noise"])
def test_every_conv_method_runs_on_lenet5_and_reaches_its_sparsities(method):
    from simulations.experiments.noise_compression import NoiseVersusConvConfig
    from simulations.experiments.pruning import ConvCompareConfig
    from simulations.noise_compression.versus import versus_run
    from simulations.pruning.comparison import compare_run

    kw = dict(dataset="mnist", n_train=256, n_test=128, epochs=2, finetune_epochs=1, batch_size=64,
              sparsities=(0.5, 0.9), score_examples=64, rewind_step=2, update_every=2)
    out = versus_run(NoiseVersusConvConfig(method=method, **kw), 0) if method == "noise" else \
        compare_run(ConvCompareConfig(method=method, **kw), 0)
    m = out["metrics"]
    targets = [0.0] if method == "dense" else [0.5, 0.9]
    # unstructured global/ERK/cubic masks hit the weight sparsity to within one weight per layer
    assert np.allclose(m["sparsity"], targets, atol=1e-3)
    assert all(a is not None and 0.0 <= a <= 1.0 for a in m["acc"])
    # fewer kept weights never cost more MACs than the dense network per example
    assert all(s >= 1.0 - 1e-12 for s in m["speedup"])
    if method != "dense":
        assert m["speedup"][1] > m["speedup"][0]


def test_snip_scores_on_lenet5_are_gradient_times_weight_by_finite_differences():
    """SNIP's conv path takes the backend's gradient; the oracle is a central difference of the mean test loss."""
    from simulations.nn import evaluate, init_params
    from simulations.pruning.algorithms import SNIP

    spec = get_model("lenet5", input_shape=(1, 28, 28), n_classes=10, dtype="float64")
    p = init_params(spec, 5)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 784)), rng.integers(0, 10, 16)
    s = SNIP().scores(p, (X, y))
    assert sum(float(np.sum(a)) for a in s) == pytest.approx(1.0)

    def loss(q):
        return float(evaluate(q, X, y)[0])

    # a small step: a conv weight moves thousands of ReLU/max-pool inputs, and at h = 1e-5 some cross a kink
    # (the difference was then 0.3–2 % off); at 1e-7 the float64 rounding error is ~2e-9 / 3e-3 ≈ 1e-6 relative
    h = 1e-7
    ratios = []
    for layer, idx in [(0, (2, 0, 1, 3)), (1, (5, 4, 2, 2)), (2, (7, 100)), (4, (3, 40))]:
        up, dn = p.copy(), p.copy()
        up.weights[layer][idx] += h
        dn.weights[layer][idx] -= h
        g = (loss(up) - loss(dn)) / (2 * h)
        want = abs(g * float(p.weights[layer][idx]))
        ratios.append((s[layer][idx], want))
    # the scores are normalised by their sum, so compare ratios to the dense layer's entry (tolerance 100× the
    # rounding error above)
    ref_got, ref_want = ratios[2]
    for got, want in ratios:
        assert got / ref_got == pytest.approx(want / ref_want, rel=1e-4)


def test_the_conv_sweeps_list_the_conv_methods_on_the_image_data_only():
    from simulations.noise_compression import versus as vs
    from simulations.pruning import comparison_study as cs
    from simulations.pruning.comparison import CONV_METHODS

    (name, cfgs, seeds), = cs.comparison_sweeps(False, ["mnist", "fashion_mnist"], None, "lenet5")
    assert name == cs.CONV_EXPERIMENT == "pruning.compare_conv" and seeds == [0, 1, 2]
    assert [c["method"] for c in cfgs] == list(CONV_METHODS) * 2 and all(c["model"] == "lenet5" for c in cfgs)
    (_, quick, _), = cs.comparison_sweeps(True, ["mnist"], ["snip"], "lenet5")
    assert quick[0]["n_train"] == 600 and "hidden" not in quick[0] and "nm_patterns" not in quick[0]
    (name, cfgs, _), = vs.versus_sweeps(False, ["mnist"], "lenet5")
    assert name == vs.VERSUS_CONV and all(c["model"] == "lenet5" for c in cfgs)
    assert {c["method"] for c in cfgs} == set(vs.NOISE_METHODS) - {"noise_first_layer"}
    assert len(cfgs) == 3 * len(vs.SIGMAS) + 1
    with pytest.raises(ValueError, match="methods"):
        cs.comparison_sweeps(False, ["mnist"], ["obd"], "lenet5")      # MLP-only scoring
    with pytest.raises(ValueError, match="datasets"):
        cs.comparison_sweeps(False, ["synthetic"], None, "lenet5")     # 64-dim vectors, not 1×28×28 images
    with pytest.raises(ValueError, match="model"):
        cs.comparison_sweeps(False, ["mnist"], None, "lenet6")


def test_the_conv_sweeps_say_when_no_image_data_is_found(monkeypatch):
    from simulations.nn.data import DataError
    from simulations.pruning import comparison_study as cs
    from simulations.pruning import data

    monkeypatch.setattr(data, "available_datasets", lambda: [])
    with pytest.raises(DataError, match="TAILCOMP_DATA"):
        cs.comparison_sweeps(False, None, None, "lenet5")
    (_, cfgs, _), = cs.comparison_sweeps(True, None, ["magnitude"])      # the MLP falls back to synthetic data
    assert {c["dataset"] for c in cfgs} == {"synthetic"}


def test_the_table_heads_each_network_apart():
    from simulations.pruning import comparison_study as cs

    rows = [dict(experiment=exp, status="done", dataset="mnist", method="magnitude", seed=0, target=[0.5],
                 acc=[acc], sparsity=[0.5], compression=[2.0], speedup=[1.5], relative_compute=[0.9],
                 relative_steps=[1.0], **net)
            for exp, acc, net in (("pruning.compare", 0.97, {}), ("pruning.compare_conv", 0.99, {"model": "lenet5"}))]
    tab = cs.comparison_table(rows) + cs.comparison_table(rows, cs.CONV_EXPERIMENT)
    text = cs.format_comparison_table(tab)
    assert "**MNIST** (n = 1 seeds)" in text and "**MNIST, LeNet-5** (n = 1 seeds)" in text
    mlp, conv = text.split("**MNIST, LeNet-5**")
    assert "| 97.0 |" in mlp and "| 99.0 |" in conv and "99.0" not in mlp
