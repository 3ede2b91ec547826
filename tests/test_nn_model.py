"""Model layout, masks, initialisation, configuration validation, backend registry, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulations._core.threads import get_blas_threads
from simulations.nn import (
    SGD,
    Mask,
    MLPSpec,
    NoiseConfig,
    Params,
    StopRules,
    blas_threads,
    get_backend,
    init_params,
    ones_mask,
    predict,
)


def test_flat_layout_and_views():
    spec = MLPSpec((5, 4, 3))
    p = init_params(spec, 0)
    assert spec.n_params == 5 * 4 + 4 + 4 * 3 + 3 == p.flat.size
    assert p.weights[0].shape == (4, 5) and p.biases[1].shape == (3,)
    # views share memory with the flat array
    p.weights[1][2, 1] = 7.0
    assert p.flat[spec.offsets[1, 0] + 2 * 4 + 1] == 7.0
    p.flat[spec.offsets[0, 1]] = -3.0
    assert p.biases[0][0] == -3.0
    q = p.copy()
    q.flat[:] = 0
    assert p.weights[1][2, 1] == 7.0
    nb = MLPSpec((5, 4, 3), bias=False)
    assert nb.n_params == 32 and init_params(nb).biases == [None, None]
    r = Params.from_layers(spec, p.weights, p.biases)
    assert r == p
    assert p.astype("float64").flat.dtype == np.float64


def test_predict_matches_numpy_forward():
    spec = MLPSpec((6, 9, 4), activation="tanh")
    p = init_params(spec, 3)
    X = np.random.default_rng(0).standard_normal((11, 6)).astype(np.float32)
    ref = np.tanh(X @ p.weights[0].T + p.biases[0]) @ p.weights[1].T + p.biases[1]
    np.testing.assert_allclose(predict(p, X, batch_size=4), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("init", ["kaiming_normal", "xavier", "kaiming_uniform", "xavier_normal", "normal"])
def test_init_variances(init):
    spec = MLPSpec((400, 300, 10), init=init)
    w = init_params(spec, 1).weights[0].astype(np.float64)
    fi, fo = 400, 300
    var = {"kaiming_normal": 2 / fi, "kaiming_uniform": 2 / fi, "xavier": 2 / (fi + fo),
           "xavier_normal": 2 / (fi + fo), "normal": 1 / fi}[init]
    # 120000 draws: relative sd of the variance estimate ≤ 0.5 %; 3 % tolerance
    assert w.var() == pytest.approx(var, rel=0.03)
    assert abs(w.mean()) < 5 * np.sqrt(var / w.size)


def test_masks():
    spec = MLPSpec((4, 3, 2))
    m = ones_mask(spec)
    assert m.density() == 1.0
    m.weights[0][0, :] = 0
    assert m.density() == pytest.approx(1 - 4 / 18)
    p = init_params(spec)
    m.apply(p)
    assert np.all(p.weights[0][0] == 0) and np.all(p.weights[0][1] != 0)
    with pytest.raises(ValueError, match="0 or 1"):
        Mask.from_flat(spec, np.full(spec.n_params, 2))
    with pytest.raises(ValueError, match="shape"):
        Mask.from_layers(spec, [np.ones((2, 2)), np.ones((2, 3))])


@given(sizes=st.lists(st.integers(-2, 6), min_size=0, max_size=4))
def test_spec_validates_sizes(sizes):
    if len(sizes) >= 2 and min(sizes) >= 1:
        assert MLPSpec(tuple(sizes)).sizes == tuple(sizes)
    else:
        with pytest.raises(ValueError, match="sizes"):
            MLPSpec(tuple(sizes))


@given(lr=st.floats(allow_nan=True, allow_infinity=True), mom=st.floats(-1, 2))
def test_sgd_validation(lr, mom):
    ok_lr = np.isfinite(lr) and lr > 0
    ok_mom = 0 <= mom < 1
    if ok_lr and ok_mom:
        SGD(lr, mom)
    else:
        with pytest.raises(ValueError, match="lr" if not ok_lr else "momentum"):
            SGD(lr, mom)


@given(alpha=st.floats(-1, 3), sigma=st.floats(-1, 1))
def test_noise_validation(alpha, sigma):
    if 0 < alpha <= 2 and sigma >= 0:
        assert NoiseConfig(alpha, sigma).amplitude(0.01) == pytest.approx(sigma * 0.01 ** (1 / alpha))
    else:
        with pytest.raises(ValueError, match="alpha" if not 0 < alpha <= 2 else "sigma"):
            NoiseConfig(alpha, sigma)


@given(b=st.integers(-3, 40))
def test_batch_size_validation(b):
    from simulations.nn import gaussian_mixture, train

    d = gaussian_mixture(30, 3, 2, seed=0)
    if 1 <= b <= 30:
        return
    with pytest.raises(ValueError, match="batch_size"):
        train(MLPSpec((3, 2)), d, batch_size=b, stop=StopRules(max_steps=1))


def test_backend_registry_and_threads():
    be = get_backend("cpu")
    assert be.name == "cpu" and get_backend(be) is be
    with pytest.raises(ValueError, match="backend"):
        get_backend("tpu")
    try:
        get_backend("cuda")
    except RuntimeError as exc:  # cuda backend not importable, or no GPU: a clear message
        assert "cuda" in str(exc)
    before = get_blas_threads()
    with blas_threads(1):
        assert get_blas_threads() in (0, 1)  # 0: no OpenBLAS found to control (another BLAS build)
    assert get_blas_threads() == before


def test_cli_train_writes_record_and_resumes(tmp_path, capsys):
    from simulations.nn.cli import main

    out = tmp_path / "run.json"
    argv = ["--dataset", "gaussian_mixture", "--sizes", "6,16,3", "--n-train", "200", "--n-test", "50",
            "--batch-size", "20", "--lr", "0.1", "--momentum", "0.5", "--noise-sigma", "0.1", "--noise-alpha", "1.5",
            "--seed", "3", "--no-progress"]
    assert main(argv + ["--epochs", "3", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["status"] == "completed" and rec["steps"] == 30 and len(rec["metrics"]) == 3
    assert rec["config"]["noise"]["alpha"] == 1.5 and "numba" in rec["versions"]
    assert {"train", "eval", "total"} <= set(rec["timings"])
    # checkpoint after 1 epoch, resume to 3 epochs: same final metrics as the uninterrupted run
    ck = tmp_path / "ck"
    assert main(argv + ["--epochs", "1", "--checkpoint", str(ck)]) == 0
    out2 = tmp_path / "run2.json"
    assert main(argv + ["--epochs", "3", "--resume", str(ck), "--out", str(out2)]) == 0
    rec2 = json.loads(out2.read_text())
    assert rec2["final"]["train_loss"] == rec["final"]["train_loss"]
    assert rec2["final"]["test_acc"] == rec["final"]["test_acc"]
    assert main(argv + ["--lr", "-1"]) == 2
    assert "lr" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--activation", "gelu"])


def test_mask_from_layers_refuses_non_binary_and_misshaped_masks():
    spec = MLPSpec((4, 3, 2))
    ws = [np.ones((3, 4)), np.ones((2, 3))]
    m = Mask.from_layers(spec, ws, [np.array([1, 0, 1]), None])
    assert m.biases[0].tolist() == [1, 0, 1] and m.biases[1].tolist() == [1, 1]
    assert Mask.from_layers(spec, [w.astype(bool) for w in ws]).density() == 1.0
    with pytest.raises(ValueError, match=r"mask biases\[0\].*0 or 1"):
        Mask.from_layers(spec, ws, [np.full(3, 7), None])
    with pytest.raises(ValueError, match=r"mask biases\[1\].*shape"):
        Mask.from_layers(spec, ws, [None, np.ones(3)])
    with pytest.raises(ValueError, match="biases must have 2"):
        Mask.from_layers(spec, ws, [None])
    with pytest.raises(ValueError, match=r"mask weights\[1\].*0 or 1"):
        Mask.from_layers(spec, [ws[0], np.full((2, 3), 0.5)])
    with pytest.raises(TypeError, match=r"mask weights\[0\]"):
        Mask.from_layers(spec, [np.array([["a"] * 4] * 3), ws[1]])
    with pytest.raises(TypeError, match="weights must be a list"):
        Mask.from_layers(spec, np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="biases must be None"):
        Mask.from_layers(MLPSpec((4, 3, 2), bias=False), ws, [None, None])
    with pytest.raises(ValueError, match="0 or 1"):
        Mask(spec, np.full(spec.n_params, 7, np.uint8))
    with pytest.raises(ValueError, match="mask must have shape"):
        Mask.from_flat(spec, np.ones(spec.n_params + 1))
    # apply multiplies by exactly 0 or 1
    p = init_params(spec)
    q = m.apply(p.copy())
    np.testing.assert_array_equal(q.flat, np.where(m.flat == 1, p.flat, 0))


def test_params_from_layers_checks_shapes_and_counts():
    spec = MLPSpec((4, 3, 2))
    p = init_params(spec)
    q = Params.from_layers(spec, list(p.weights), list(p.biases))
    assert q == p
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape"):
        Params.from_layers(spec, [p.weights[0], p.weights[1].T])
    with pytest.raises(ValueError, match="weights must have 2"):
        Params.from_layers(spec, [p.weights[0]])
    with pytest.raises(ValueError, match=r"biases\[0\] must have shape"):
        Params.from_layers(spec, list(p.weights), [np.ones(4), p.biases[1]])
    with pytest.raises(TypeError, match="weights must be a list"):
        Params.from_layers(spec, p.weights[0])
    with pytest.raises(TypeError, match="copy"):
        Params.from_flat(spec, p.flat, copy="no")


def test_spec_bounds_the_parameter_count():
    from simulations.nn.model import PARAMS_MAX

    with pytest.raises(ValueError, match="PARAMS_MAX"):
        MLPSpec((2**16, 2**16, 10))
    assert MLPSpec((10, 10)).n_params == 110 <= PARAMS_MAX
    with pytest.raises(TypeError, match="bias"):
        MLPSpec((3, 2), bias=1)


def test_evaluation_buffers_are_sized_by_the_rows_not_the_batch_size():
    from simulations.nn import evaluate
    from simulations.nn.backends.base import BATCH_SIZE_MAX, StepConfig
    from simulations.nn.train import _eval_setup

    spec = MLPSpec((4, 6, 3))
    p = init_params(spec)
    X = np.random.default_rng(0).standard_normal((16, 4))
    y = np.arange(16) % 3
    ws = _eval_setup(p, X, BATCH_SIZE_MAX, "cpu", None)[3]
    assert ws.eval.rows == 16 and ws.eval.acts.size == 16 * (6 + 3)
    ref = evaluate(p, X, y, batch_size=5)
    assert evaluate(p, X, y, batch_size=BATCH_SIZE_MAX) == pytest.approx(ref, rel=1e-6)
    np.testing.assert_allclose(predict(p, X, batch_size=BATCH_SIZE_MAX), predict(p, X, batch_size=3), rtol=1e-6)
    for f in (lambda: evaluate(p, X, y, batch_size=2**31), lambda: predict(p, X, batch_size=2**31)):
        with pytest.raises(ValueError, match=f"batch_size must be an integer in \\[1, {BATCH_SIZE_MAX}\\]"):
            f()
    with pytest.raises(ValueError, match="threads"):
        evaluate(p, X, y, threads=0)
    be = get_backend("cpu")
    with pytest.raises(ValueError, match="eval_batch_size"):
        be.workspace(StepConfig(spec, 1), eval_batch_size=2**31)
    with pytest.raises(ValueError, match="batch_size"):
        be.workspace(StepConfig(spec, 2**31))
    with pytest.raises(ValueError, match="WORKSPACE_BYTES_MAX"):
        be.workspace(StepConfig(MLPSpec((4, 2**14, 3)), 2**20))


def test_train_workspace_is_sized_by_the_data():
    from simulations.nn import gaussian_mixture, train
    from simulations.nn.backends.base import BATCH_SIZE_MAX

    spec = MLPSpec((4, 6, 3))
    d = gaussian_mixture(20, 4, 3, n_test=7, seed=0)
    seen = []
    be = get_backend("cpu")
    orig = type(be).workspace

    class Spy(type(be)):
        def workspace(self, config, eval_batch_size=1024):
            seen.append((config.batch_size, eval_batch_size))
            return orig(self, config, eval_batch_size)

    r = train(spec, d, batch_size=20, stop=StopRules(max_steps=2), backend=Spy())
    assert r.status == "completed" and seen == [(20, 20)]
    with pytest.raises(ValueError, match="batch_size"):
        train(spec, d, batch_size=21, stop=StopRules(max_steps=1))
    assert BATCH_SIZE_MAX == 2**24


def test_workspace_bytes_checks_its_arguments_and_matches_the_formula():
    from simulations.nn.backends.base import BATCH_SIZE_MAX, workspace_bytes

    spec = MLPSpec((4, 6, 3))
    # itemsize × ((B+1)(d_0 + 2Σd_l + 2 max d) + E Σd_l + P), written out for B = 8, E = 5
    assert workspace_bytes(spec, 8, 5) == 4 * (9 * (4 + 2 * 9 + 2 * 6) + 5 * 9 + spec.n_params)
    for bad in ("abc", 3, None, object()):
        with pytest.raises(TypeError, match="spec"):
            workspace_bytes(bad, 8, 8)
    for name, kw in (("batch_size", {"eval_batch_size": 8}), ("eval_batch_size", {"batch_size": 8})):
        for bad in ("a", 1.5, True, None, [1], np.array([1, 2])):
            with pytest.raises(TypeError, match=name):
                workspace_bytes(spec, **{name: bad}, **kw)
        for bad in (0, -1, BATCH_SIZE_MAX + 1):
            with pytest.raises(ValueError, match=name):
                workspace_bytes(spec, **{name: bad}, **kw)


def test_spec_dtype_none_and_ones_mask_spec_are_refused():
    with pytest.raises(TypeError, match="dtype"):
        MLPSpec((10, 20), dtype=None)  # np.dtype(None) would be float64
    for bad in ("abc", None, object(), 3):
        with pytest.raises(TypeError, match="spec"):
            ones_mask(bad)
    m = ones_mask(MLPSpec((3, 2)))
    assert m.flat.dtype == np.uint8 and m.flat.tolist() == [1] * 8
