"""The notebooks: each executes top to bottom in quick mode (TAILCOMP_QUICK=1), asserts its checks, ends with a
written conclusion, and is committed with its quick-mode outputs (no error outputs) for readers.

Each notebook reads ``TAILCOMP_QUICK`` to pick small sizes; a failing cell (an assertion included) fails the test.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]
#: committed notebooks stay small enough to read on GitHub and to diff
MAX_BYTES = 400_000


def test_every_notebook_is_found():
    assert len(NOTEBOOKS) == 9, IDS


#: notebooks whose claim is about real data: they need these data sets even in quick mode (the others
#: fall back to a synthetic mixture when the files are absent)
NEEDS_DATA = {"08_gradient_noise.ipynb": ("mnist",)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs(path: Path, monkeypatch, tmp_path):
    if path.name in NEEDS_DATA:
        from simulations.pruning.data import available_datasets

        missing = sorted(set(NEEDS_DATA[path.name]) - set(available_datasets()))
        if missing:
            pytest.skip(f"{path.name} needs the {', '.join(missing)} files: set TAILCOMP_DATA to a folder holding "
                        f"{', '.join(m + '/' for m in missing)} (see README, Data)")
    monkeypatch.setenv("TAILCOMP_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TAILCOMP_OUT", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()


def _has_assert(source: str) -> bool:
    try:
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_asserts_and_concludes(path: Path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown", "the first cell states the result checked"
    assert any(c.cell_type == "code" and _has_assert(c.source) for c in nb.cells), "no assert statement in any code cell"
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and "Conclusion" in last.source, "the last cell must be a markdown conclusion"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("outputs") is not None for c in code)
    assert any(c.outputs for c in code), "commit the notebook with its quick-mode outputs"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{o.ename}: {o.evalue}" for o in errors]
    streams = [o.text for c in code for o in c.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not any("Traceback" in s for s in streams)
    assert path.stat().st_size <= MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes (limit {MAX_BYTES})"
