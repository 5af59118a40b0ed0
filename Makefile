# The commands a developer runs, written down once. Every target uses this clone's .venv
# (made by `make dev`, or by the README's test command) so the e2e tests start this clone's
# `rewind`. `make help` lists them.

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help dev lint format typecheck unit integration e2e test bench ci

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.dev-installed: pyproject.toml | $(PY)
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

dev: $(VENV)/.dev-installed ## make .venv and install Rewind with the dev tools (again when pyproject.toml changes)

lint: dev ## ruff check and ruff format --check (what the pre-commit hook runs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev ## let ruff fix what it can and format every file
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: dev ## mypy, strict, over every package and the tests
	$(BIN)/mypy

unit: dev ## tests/unit: the domain, properties, layering, code quality (under a minute)
	$(PY) -m pytest tests/unit

integration: dev ## tests/integration: real SQLite / PostgreSQL, the sandbox PBX, the worker
	$(PY) -m pytest tests/integration

e2e: dev ## tests/e2e: real `rewind serve` processes, every dialect, crashes, scale-out
	$(PY) -m pytest tests/e2e

test: dev ## the whole suite with coverage (the README's test command)
	$(PY) -m pytest

bench: dev ## the eight benchmarks, one after the other (long: see bench/README.md)
	$(PY) -m bench all

ci: ## what CI runs: start PostgreSQL if needed, then the README's test command
	.ci/run
