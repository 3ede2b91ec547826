"""``tailcomp warmup``: the task table, the CLI and one real task."""
from __future__ import annotations

import numpy as np
import pytest

from simulations import cli, warmup
from simulations.noise_injection.ensemble import _chunks


def test_list_names_every_task(capsys):
    assert warmup.main(["--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(warmup.TASKS)


def test_warmup_is_a_tailcomp_command():
    module, func, _ = cli.COMMANDS["warmup"]
    assert (module, func) == ("simulations.warmup", "main")


def test_a_task_runs_and_is_timed(capsys):
    times = warmup.run(["compressibility"], progress=False)
    assert set(times) == {"compressibility"} and times["compressibility"] >= 0.0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"names\[0\]"):
        warmup.run(["bogus"], progress=False)
    with pytest.raises(TypeError, match="names"):
        warmup.run("nn", progress=False)
    with pytest.raises(TypeError, match="progress"):
        warmup.run([], progress=1)
    with pytest.raises(TypeError, match="file"):
        warmup.run([], file=object())
    with pytest.raises(SystemExit):
        warmup.main(["--only", "bogus"])


@pytest.mark.parametrize("widths, n", [([1] * 10, 3), ([1, 100, 1, 1], 4), ([5], 8), (list(range(1, 50)), 8)])
def test_ensemble_chunks_cover_every_network_once_in_order(widths, n):
    w = np.asarray(widths, dtype=np.int64)
    chunks = _chunks(w, n)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(w) and len(chunks) <= min(n, len(w))
    assert all(a < b for a, b in chunks) and all(b == c for (_, b), (c, _) in zip(chunks[:-1], chunks[1:]))
    if len(w) >= n and np.ptp(w) == 0:  # equal widths: equal counts up to one
        sizes = [b - a for a, b in chunks]
        assert max(sizes) - min(sizes) <= 1
