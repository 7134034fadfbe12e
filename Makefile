# Two commands on a fresh machine: `make demo` runs the bot against a local fake of X,
# `make test` runs the linters and the tests. Both make .venv/ first if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint serve clean

$(BIN)/aircraftml: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# torch first, pinned: its CPU wheel is local; a bare `torch` would pull GBs of CUDA packages.
$(VENV)/.dev: $(BIN)/aircraftml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[train,aws,dev]'
	touch $@

# The demo's own photos ship in the package; where ../shared/data/photos exists (developers'
# machines and CI) its photos are mentioned too. They are never copied into the repository.
SHARED_PHOTOS := $(wildcard ../shared/data/photos)

demo: $(BIN)/aircraftml
	$(BIN)/aircraftml demo $(if $(SHARED_PHOTOS),--photos $(SHARED_PHOTOS))

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-out
