"""The ``tailcomp`` command (simulations.cli): help shows defaults and choices, no abbreviated options,
``tailcomp figures`` outside a checkout, and the notice before the first kernel compilation."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

from simulations import cli
from simulations.nn import cli as nn_cli
from simulations.sweep import cli as sweep_cli

REPO = Path(__file__).resolve().parents[1]


def _parsers():
    sys.path.insert(0, str(REPO))
    try:
        from paper.make_figures import figure_modules
    finally:
        sys.path.remove(str(REPO))
    return {
        "train": nn_cli._parser(),
        "sweep": sweep_cli.sweep_parser(),
        "report": sweep_cli.report_parser(),
        "figures": cli.figures_parser(modules=figure_modules()),
        "figures outside a checkout": cli.figures_parser(),
    }


@pytest.mark.parametrize("name", list(_parsers()))
def test_every_option_shows_its_default_and_abbreviations_are_off(name):
    p = _parsers()[name]
    assert p.allow_abbrev is False
    fmt = p._get_formatter()
    for a in p._actions:
        if not a.option_strings or a.nargs == 0 or a.help == argparse.SUPPRESS:
            continue
        text = fmt._get_help_string(a)
        assert "default" in text.lower(), (name, a.option_strings, text)
        assert text % {"default": a.default}  # the %(default)s placeholder expands
    assert "(default: " in p.format_help()


def test_options_with_a_fixed_set_of_values_have_choices():
    from simulations._core.noise import NOISE_KINDS
    from simulations.nn.layers import INITS as MODEL_INITS
    from simulations.nn.model import ACTIVATIONS, INITS, LOSSES
    from simulations.nn.models import model_names
    from simulations.sweep.registry import STATUSES

    ps = _parsers()
    by_dest = {n: {a.dest: a for a in p._actions} for n, p in ps.items()}
    # --init: the MLP's initialisations, then the ones only the convolutional models have (--model)
    inits = tuple(dict.fromkeys((*INITS, *MODEL_INITS)))
    expect = {("train", "init"): inits, ("train", "model"): model_names(), ("train", "activation"): ACTIVATIONS,
              ("train", "loss"): LOSSES,
              ("train", "noise_kind"): NOISE_KINDS, ("train", "backend"): ("cpu", "cuda"),
              ("train", "dataset"): ("mnist", "fashion_mnist", "gaussian_mixture", "teacher"),
              ("train", "dtype"): ("float32", "float64"), ("train", "normalize"): ("standard", "unit", "none"),
              ("train", "eval_train"): ("running", "full"), ("report", "format"): ("table", "csv", "json"),
              ("report", "status"): STATUSES}
    for (name, dest), values in expect.items():
        assert tuple(by_dest[name][dest].choices) == tuple(values), (name, dest)
    assert "kaiming_normal" in ps["train"].format_help()  # the --init choices are listed


@pytest.mark.parametrize("main, argv, bad", [
    (nn_cli.main, ["--dataset", "gaussian_mixture", "--sizes", "4,3", "--epoch", "1", "--no-progress"], "--epoch 1"),
    (sweep_cli.sweep_main, ["--lis"], "--lis"),
    (sweep_cli.report_main, ["--store", "x.db", "--form", "csv"], "--form csv"),
    (lambda a: cli.figures_parser().parse_args(a), ["--reduce"], "--reduce"),
])
def test_abbreviated_options_are_errors(main, argv, bad, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert f"unrecognized arguments: {bad}" in capsys.readouterr().err


def test_figures_help_works_outside_a_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        cli.main(["figures", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--reduced" in out and "--outdir" in out and "repository" in out
    assert cli.main(["figures", "--reduced"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "repository root" in err


def test_figures_finds_the_checkout_from_inside_it(monkeypatch, capsys):
    monkeypatch.chdir(REPO / "paper")
    assert cli.repository_root() == REPO
    with pytest.raises(SystemExit) as info:
        cli.main(["figures", "--help"])
    assert info.value.code == 0
    assert "fig_stable" in capsys.readouterr().out  # the checkout's own figure modules


def test_top_level_help_and_unknown_command(capsys):
    assert cli.main([]) == 0 and "train" in capsys.readouterr().out
    assert cli.main(["trian"]) == 2 and "unknown command 'trian'" in capsys.readouterr().err


# ---- the compilation notice

MODULE = "simulations.nn.backends.cpu_kernels"


def test_cache_folder_follows_numbas_rule(tmp_path, monkeypatch):
    from numba.core.caching import UserProvidedCacheLocator

    source = cli._module_file(MODULE)
    assert source.is_file() and source.name == "cpu_kernels.py"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert cli._cache_dirs(source) == [tmp_path / UserProvidedCacheLocator.get_suitable_cache_subpath(str(source))]
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert cli._cache_dirs(source)[0] == source.parent / "__pycache__"


def test_notice_when_the_cache_has_no_index_and_none_when_warm(tmp_path, monkeypatch, capsys):
    # only the environment is read (nothing compiles here, so numba's own cache folder is untouched)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert cli.kernels_cached(MODULE) is False
    assert cli.compile_notice([MODULE]) is True
    assert capsys.readouterr().err.strip() == cli.COMPILE_NOTICE == "compiling kernels (first run, ~5 s; `tailcomp warmup` compiles them all once)…"
    (d,) = cli._cache_dirs(cli._module_file(MODULE))
    d.mkdir()
    idx = d / f"cpu_kernels.train_steps_kernel-48.py{sys.version_info.major}{sys.version_info.minor}.nbi"
    idx.write_bytes(b"")
    src_mtime = cli._module_file(MODULE).stat().st_mtime
    kernel_files = cli._kernel_files(MODULE)
    assert {("stable", "cpu.py"), ("backends", "cpu_kernels.py")} <= {(p.parent.name, p.name) for p in kernel_files}
    # stand-in for the other kernel modules: one edited 100 s after the source
    other = tmp_path / "other_kernels.py"
    other.write_text("import numba\n")
    os.utime(other, (src_mtime + 100, src_mtime + 100))
    monkeypatch.setattr(cli, "_kernel_files", lambda module: [other])
    os.utime(idx, (src_mtime - 10, src_mtime - 10))  # older than the source: numba recompiles
    assert cli.kernels_cached(MODULE) is False
    os.utime(idx, (src_mtime + 10, src_mtime + 10))  # newer than the source, older than another kernel module
    assert cli.kernels_cached(MODULE) is False
    os.utime(idx, (src_mtime + 200, src_mtime + 200))
    assert cli.kernels_cached(MODULE) is True
    assert cli.compile_notice([MODULE]) is False and capsys.readouterr().err == ""
    assert cli.compile_notice([]) is False


@pytest.mark.parametrize("cached", [False, True])
def test_train_cli_prints_the_notice_only_with_a_cold_cache(cached, monkeypatch, capsys):
    argv = ["--dataset", "gaussian_mixture", "--sizes", "4,6,3", "--n-train", "40", "--batch-size", "10",
            "--steps", "2", "--no-progress"]
    seen = []
    monkeypatch.setattr(cli, "kernels_cached", lambda module: seen.append(module) or cached)
    assert nn_cli.main(argv) == 0
    assert seen == [MODULE]
    err = capsys.readouterr().err
    assert (cli.COMPILE_NOTICE in err) is (not cached)
