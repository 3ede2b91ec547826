"""The figure registry (paper/figures.toml) against paper/fig_*.py, notebooks/ and a quick run.

`make figures` on a fresh clone must produce every figure the notebooks promise: this
checks that every promise has a module, every module and notebook is registered, the
modules' declared FIGURES agree with the registry, and that running the cheap modules in
quick mode writes exactly the registered files (PDF and PNG).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from paper import make_figures, registry  # noqa: E402

FIGS = registry.load_registry()
MODULES = registry.modules(FIGS)


def _declared_figures(module: str):
    """The module-level FIGURES list, read without importing the module (None if absent)."""
    tree = ast.parse((REPO / "paper" / f"{module}.py").read_text())
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "FIGURES" for t in targets):
            return list(ast.literal_eval(node.value))
    return None


def test_registry_is_well_formed(tmp_path):
    assert FIGS and len({f.name for f in FIGS}) == len(FIGS)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[figure]]\nname = "a"\nmodule = "fig_a"\nnotebooks = ["01"]\ncolour = "red"\n')
    with pytest.raises(ValueError, match="colour"):
        registry.load_registry(bad)
    bad.write_text('[[figure]]\nname = "a"\nmodule = "fig_a"\nnotebooks = ["1"]\n')
    with pytest.raises(ValueError, match="notebooks"):
        registry.load_registry(bad)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_registered_module_exists_and_defines_make(module):
    path = REPO / "paper" / f"{module}.py"
    assert path.is_file(), f"{module}: registered in paper/figures.toml but paper/{module}.py does not exist"
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "make" for n in tree.body), f"{module} has no make()"
    declared = _declared_figures(module)
    if declared is not None:
        assert sorted(declared) == sorted(MODULES[module]), f"{module}.FIGURES disagrees with the registry"


def test_every_figure_module_is_registered():
    unregistered = sorted(set(make_figures.figure_modules()) - set(MODULES))
    assert not unregistered, f"paper modules missing from paper/figures.toml: {unregistered}"


def test_notebooks_and_registry_agree():
    topics = {}
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        topics.setdefault(nb.name[:2], []).append(nb.name)
    promised = {n for f in FIGS for n in f.notebooks}
    missing_nb = sorted(promised - set(topics))
    assert not missing_nb, f"figures registered for notebook topics without a notebook: {missing_nb}"
    without_fig = sorted(set(topics) - promised)
    assert not without_fig, f"notebooks with no registered figure: {[topics[t] for t in without_fig]}"


QUICK = sorted({f.module for f in FIGS if f.quick_test})


@pytest.mark.parametrize("module", QUICK)
def test_quick_figures_are_written(module, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert make_figures.main(["--only", module, "--outdir", str(tmp_path)]) == 0
    assert registry.missing(tmp_path, FIGS, only_modules={module}) == []
    written = {p.stem for p in tmp_path.iterdir() if p.suffix in (".pdf", ".png")}
    assert written == set(MODULES[module]), "the module writes figures the registry does not list"
    assert all(p.stat().st_size > 1000 for p in tmp_path.iterdir() if p.suffix in (".pdf", ".png"))
