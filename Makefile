# Two commands on a fresh machine:  make figures   and   make test
# Both create (or refresh, when pyproject.toml changed) a local virtual
# environment in .venv from pyproject.toml, compile the main numba kernels once into
# .venv/numba_cache (tailcomp warmup), and then run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Where the MNIST / Fashion-MNIST files are (tests needing them skip when absent); the default is
# the data folder that the project's CI machines keep beside the checkout.
export TAILCOMP_DATA ?= $(abspath ../shared/data)
export NUMBA_CACHE_DIR ?= $(abspath $(VENV)/numba_cache)
export MPLBACKEND := Agg

.PHONY: figures test bench paper venv clean fuzz

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -m simulations.warmup
	touch $(STAMP)

venv: $(STAMP)

figures: $(STAMP)
ifeq ($(REDUCED),1)
	$(PY) -m paper.make_figures --reduced
else
	$(PY) -m paper.make_figures
endif

# The tree is lint-clean (ruff) and keeps its import contracts (import-linter, in pyproject.toml)
# before the tests run.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider

# Fuzz every public callable of theory and simulations (tests/_fuzz): the long profile, ~100 calls
# per callable in bounded worker processes; the quick profile runs inside `make test`.
FUZZ_REPORT ?= fuzz_report.json
fuzz: $(STAMP)
	$(PY) -m tests._fuzz --profile long --report $(FUZZ_REPORT)

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	for b in bench/*.py; do $(PY) $$b --json bench/out/$$(basename $$b .py).json || exit 1; done

# Fails on any LaTeX error; skips with a message only when latexmk is absent (README lists the
# Debian packages). Stale auxiliaries are removed first.
paper: figures
	$(PY) -m paper.make_tex
	@if command -v latexmk >/dev/null 2>&1; then \
	  cd paper && latexmk -C -quiet main.tex && \
	  latexmk -pdf -bibtex -interaction=nonstopmode -halt-on-error -quiet main.tex; \
	else echo "latexmk not found: install TeX Live (see README) to build paper/main.pdf; PDF skipped"; fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
