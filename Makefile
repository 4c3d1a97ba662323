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

## test: lint, type-check and run the whole test suite
test: check
	$(BIN)/pytest -q

## check: ruff (lint + format check) and mypy --strict on the package and testkit/
check: $(STAMP)
	$(BIN)/ruff check tagger testkit tests bench
	$(BIN)/ruff format --check tagger testkit tests bench
	$(BIN)/mypy tagger testkit

## bench: every benchmark (prints figures; takes several minutes)
bench: $(STAMP)
	$(BIN)/python bench/rules_eval.py
	$(BIN)/python bench/e2e.py
	$(BIN)/python bench/state_growth.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/ratelimit.py
	$(BIN)/python bench/crash.py
	$(BIN)/python bench/search_cap.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
