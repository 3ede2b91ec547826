"""Every Python block of README.md runs as written, each in a fresh interpreter from the repository root.

A block that loads MNIST (it calls ``load_mnist``) skips when the data folder ``TAILCOMP_DATA`` is
absent. Blocks are run with a generous time bound (numba compiles the kernels on first use).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[tuple[int, str]]:
    """(line number, source) of each fenced ``python`` block of the README."""
    text = README.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in FENCE.finditer(text)]


def test_readme_has_python_blocks():
    assert len(python_blocks()) >= 6


def _needs_data(src: str) -> bool:
    return "load_mnist" in src or "load_fashion_mnist" in src


@pytest.mark.parametrize("line,src", python_blocks(), ids=[f"line{n}" for n, _ in python_blocks()])
def test_readme_block_runs(line, src):
    data = os.environ.get("TAILCOMP_DATA")
    if _needs_data(src) and not (data and (Path(data) / "mnist").is_dir()):
        pytest.skip("block loads MNIST: set TAILCOMP_DATA to a folder holding mnist/ (see README, Data)")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", src], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"README block at line {line} failed:\n{proc.stderr[-3000:]}"


def test_readme_method_comparison_tables_are_those_of_the_committed_stores():
    """The README's comparison tables are printed from paper/data/comparison.sqlite and noise_versus.sqlite."""
    sys.path.insert(0, str(ROOT))
    from paper import fig_methods
    from simulations.pruning.comparison_study import format_comparison_table

    text = README.read_text(encoding="utf-8")
    tab = fig_methods.read_table(fig_methods.STORE)
    assert format_comparison_table(tab) in text
    noise = fig_methods.read_noise_table(fig_methods.NOISE_STORE)
    assert format_comparison_table(fig_methods.noise_rows(noise, tab)) in text
