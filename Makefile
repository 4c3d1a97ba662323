# Every target creates the virtual environment it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: start the embedded simulator and run tagger against it (no credentials needed)
demo: $(STAMP)
	$(BIN)/tagger demo

## test: lint, type-check and run the whole test suite (two workers: one per core)
test: check
	$(BIN)/pytest -q -n 2

## check: ruff (lint + format check) and mypy --strict on the package and testkit/
check: $(STAMP)
	$(BIN)/ruff check tagger testkit tests bench
	$(BIN)/ruff format --check tagger testkit tests bench
	$(BIN)/mypy tagger testkit

## bench: every benchmark, run as a module from the checkout (prints figures; takes several minutes)
bench: $(STAMP)
	$(BIN)/python -m bench.rules_eval
	$(BIN)/python -m bench.lists
	$(BIN)/python -m bench.e2e
	$(BIN)/python -m bench.state_growth
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.ratelimit
	$(BIN)/python -m bench.crash
	$(BIN)/python -m bench.search_cap

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
