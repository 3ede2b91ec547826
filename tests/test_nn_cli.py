"""The ``tailcomp train`` run record is strict JSON: NaN and ±inf are written as ``null``.

Oracle: ``json.loads`` with a ``parse_constant`` that refuses the non-standard constants.
"""
from __future__ import annotations

import json

import numpy as np
import pytest


def _strict(text: str):
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_cli_record_writes_null_for_nan(tmp_path):
    from simulations.nn.cli import main

    out = tmp_path / "rec.json"
    argv = ["--dataset", "gaussian_mixture", "--sizes", "6,16,3", "--n-train", "100", "--batch-size", "20",
            "--lr", "1e4", "--epochs", "50", "--seed", "0", "--no-progress", "--out", str(out),
            "--max-loss", "none", "--max-weight", "none"]  # no ceilings: the run goes on to a NaN loss
    assert main(argv) == 0
    rec = _strict(out.read_text())
    assert rec["status"] == "diverged" and "non-finite" in rec["reason"]
    assert rec["metrics"][-1]["train_loss"] is None  # the diverged loss is not a number
    assert not list(tmp_path.glob("*.tmp"))


def _noisy_argv(out, *extra):
    # α = 0.5 noise with σ = 1000: the weights jump by up to ~1e9 within a few steps
    return ["--dataset", "gaussian_mixture", "--sizes", "8,16,3", "--n-train", "100", "--batch-size", "10",
            "--lr", "0.1", "--epochs", "20", "--noise-sigma", "1000", "--noise-alpha", "0.5", "--noise-kind", "entry",
            "--no-progress", "--out", str(out), *extra]


def test_cli_divergence_guard_flags_and_record(tmp_path):
    from simulations.nn.cli import main

    out = tmp_path / "r.json"
    assert main(_noisy_argv(out)) == 0
    rec = _strict(out.read_text())
    assert rec["status"] == "diverged" and "max_loss = 1e+06" in rec["reason"]
    assert rec["threads"] == 1 and rec["config"]["threads"] == 1
    assert rec["config"]["stop"]["max_loss"] == 1e6 and rec["config"]["stop"]["max_weight"] == 1e6
    assert main(_noisy_argv(out, "--max-loss", "none", "--max-weight", "1e3")) == 0
    rec = _strict(out.read_text())
    assert rec["status"] == "diverged" and "above max_weight = 1000" in rec["reason"]
    assert main(_noisy_argv(out, "--max-loss", "none", "--max-weight", "none")) == 0
    rec = _strict(out.read_text())
    assert rec["status"] == "completed" and rec["steps"] == 200
    assert rec["config"]["stop"]["max_loss"] is None and rec["config"]["stop"]["max_weight"] is None


@pytest.mark.parametrize("flag, value", [("--max-loss", "big"), ("--max-weight", "-1"), ("--max-loss", "0")])
def test_cli_rejects_bad_ceilings(tmp_path, flag, value, capsys):
    from simulations.nn.cli import main

    try:
        code = main(_noisy_argv(tmp_path / "r.json", flag, value))
    except SystemExit as exc:  # argparse refuses what is not a number
        code = exc.code
    assert code == 2
    assert flag.lstrip("-").replace("-", "_") in capsys.readouterr().err.replace("-", "_")


def test_write_record_converts_non_finite_and_numpy_values(tmp_path):
    from simulations.nn.cli import write_record

    p = tmp_path / "sub" / "r.json"
    write_record(p, {"a": float("nan"), "b": np.float32(np.inf), "c": [np.int64(3), -float("inf"), 1.5],
                     "d": {"e": np.array([1.0, np.nan])}, "f": np.bool_(True), "g": None})
    assert _strict(p.read_text()) == {"a": None, "b": None, "c": [3, None, 1.5], "d": {"e": [1.0, None]},
                                      "f": True, "g": None}
    with pytest.raises(TypeError, match="set"):
        write_record(p, {"x": {1, 2}})


# ---- command-line wording, sizes and budget

def _err_of(argv, capsys):
    from simulations.nn.cli import main

    assert main(argv) == 2
    return capsys.readouterr().err


def test_missing_data_is_reported_with_the_command_line_options(tmp_path, monkeypatch, capsys):
    base = ["--dataset", "mnist", "--sizes", "784,16,10", "--epochs", "1", "--no-progress"]
    err = _err_of([*base, "--data-dir", str(tmp_path / "nowhere")], capsys)
    assert "--data-dir" in err and "--download" in err and str(tmp_path / "nowhere") in err
    assert "download=True" not in err and "root=" not in err and "omit root" not in err
    (tmp_path / "empty").mkdir()
    err = _err_of([*base, "--data-dir", str(tmp_path / "empty")], capsys)
    assert "not found in --data-dir" in err and "--download" in err and "download=True" not in err
    monkeypatch.setenv("TAILCOMP_DATA", str(tmp_path / "empty"))  # no --data-dir: the search path, then advice
    monkeypatch.setenv("TAILCOMP_CACHE", str(tmp_path / "cache"))
    err = _err_of(base, capsys)
    assert "pass --data-dir DIR, set TAILCOMP_DATA, or add --download" in err
    assert "download=True" not in err and "root=" not in err


def test_data_message_rewording():
    from simulations.nn.cli import data_message

    assert data_message("root /x does not exist; an explicit root is used alone (not TAILCOMP_DATA or the cache): "
                        "put a there, pass download=True to fetch it into it, or omit root") == (
        "--data-dir /x does not exist; an explicit --data-dir is used alone (not TAILCOMP_DATA or the cache): "
        "put a there, add --download to fetch it into it, or omit --data-dir")
    assert data_message("/root/d/mnist/x.gz: sha256 checksum mismatch") == "/root/d/mnist/x.gz: sha256 checksum mismatch"


@pytest.mark.parametrize("sizes, what", [("784,64", "number of classes of mnist, 10"),
                                         ("784,512,512,11", "number of classes of mnist, 10"),
                                         ("100,10", "input dimension of mnist, 784")])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared"])
def test_sizes_must_match_the_data(sizes, what, loss, tmp_path, capsys):
    # checked before any file is read: the missing --data-dir is not what is reported
    err = _err_of(["--dataset", "fashion_mnist", "--sizes", sizes, "--loss", loss, "--epochs", "1",
                   "--data-dir", str(tmp_path / "nowhere"), "--no-progress"], capsys)
    assert "--sizes" in err and what.replace("mnist", "fashion_mnist") in err and sizes in err


def test_sizes_are_checked_against_the_loaded_files_too():
    from simulations.nn.cli import _check_sizes

    _check_sizes((784, 32, 10), "mnist", 784, 10, "cross_entropy")
    with pytest.raises(ValueError, match="--sizes must end with the number of classes"):
        _check_sizes((784, 32, 64), "mnist", 784, 10, "cross_entropy")
    with pytest.raises(ValueError, match="--sizes must start with the input dimension"):
        _check_sizes((785, 32, 10), "mnist", 784, 10, "cross_entropy")


_GM = ["--dataset", "gaussian_mixture", "--sizes", "4,6,3", "--n-train", "40", "--batch-size", "10", "--no-progress"]


@pytest.mark.parametrize("extra, notice, steps", [
    ([], "no stop rule given: training 1 epoch (--epochs 1)", 4),
    (["--target-train-acc", "1.0"], "no budget given (--epochs / --steps): training at most 1 epoch (--epochs 1)", 4),
    (["--epochs", "2"], None, 8),
    (["--steps", "3"], None, 3),
])
def test_default_budget_is_said_on_stderr(extra, notice, steps, tmp_path, capsys):
    from simulations.nn.cli import main

    out = tmp_path / "r.json"
    assert main([*_GM, *extra, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    if notice is None:
        assert "training 1 epoch" not in err and "at most 1 epoch" not in err
    else:
        assert notice in err
    assert _strict(out.read_text())["steps"] == steps


@pytest.mark.parametrize("argv, message", [
    (["--model", "lenet5", "--dataset", "teacher"], "--model needs an image data set"),
    (["--model", "lenet5", "--activation", "tanh"], "--activation applies to the MLP of --sizes"),
    (["--model", "lenet5", "--no-bias"], "--no-bias applies to the MLP of --sizes"),
])
def test_model_flag_rejects_options_that_do_not_apply(argv, message, capsys):
    from simulations.nn.cli import main

    assert main(argv + ["--steps", "1", "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_model_flag_trains_the_named_network(tmp_path):
    # the record's spec is the registry's LeNet-5 on 1×28×28 inputs, trained on real MNIST rows
    from simulations.nn import data as D
    from simulations.nn.cli import main
    from simulations.nn.models import get_model

    try:
        D.load_mnist(normalize="standard")
    except D.DataError as exc:
        pytest.skip(f"MNIST files not found ({exc})")
    out = tmp_path / "r.json"
    assert main(["--model", "lenet5", "--n-train", "256", "--n-test", "64", "--batch-size", "32", "--steps", "3",
                 "--momentum", "0.9", "--no-progress", "--out", str(out)]) == 0
    rec = _strict(out.read_text())
    assert rec["config"]["spec"] == get_model("lenet5", input_shape=(1, 28, 28)).to_dict()
    assert rec["steps"] == 3 and rec["status"] == "completed" and rec["final"]["test_acc"] is not None
