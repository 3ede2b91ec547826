# Two commands on a fresh machine:  make figures   and   make test
# Both create (or refresh, when pyproject.toml changed) a local virtual
# environment in .venv from pyproject.toml and then run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
FULL   ?= 0
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
	touch $(STAMP)

venv: $(STAMP)

figures: $(STAMP)
ifeq ($(FULL),1)
	$(PY) -m paper.make_figures --full
else
	$(PY) -m paper.make_figures --quick
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

paper: figures
	$(PY) -m paper.make_tex
	cd paper && (command -v latexmk >/dev/null && latexmk -pdf -quiet main.tex || echo "no LaTeX toolchain: skipped the PDF")

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
