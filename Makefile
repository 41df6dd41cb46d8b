# One command to try Callkeeper, one to test it; both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/callkeeper demo

lint: $(STAMP)
	$(BIN)/ruff check router agi identity web tests bench
	$(BIN)/ruff format --check router agi identity web tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# Figures on SQLite, and on PostgreSQL when this machine has it (started here).
bench: $(STAMP)
	CALLKEEPER_BENCH_PG="$${CALLKEEPER_BENCH_PG:-$$(.ci/postgres-up || true)}" $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
