# One command to try Callkeeper, one to test it; both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo console test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/callkeeper demo

# The web console on the database `make demo` left, with a demo admin login it prints.
DEMO_DB ?= callkeeper-demo.db
CONSOLE_LISTEN ?= 127.0.0.1:8080

console: $(STAMP)
	$(BIN)/python -m web.demo_admin $(DEMO_DB) --listen $(CONSOLE_LISTEN)
	$(BIN)/callkeeper --db $(DEMO_DB) web --listen $(CONSOLE_LISTEN)

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
