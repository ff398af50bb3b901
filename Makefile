# One Makefile for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COMPAT := tests/compat

.DEFAULT_GOAL := help
.PHONY: help run test lint format compat-deps clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/tocsin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: $(BIN)/tocsin
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/tocsin ## set up .venv and run a server (SQLite ./tocsin.db, 127.0.0.1:8000)
	$(BIN)/tocsin serve

compat-deps: ## install the Node socket.io-client used by the compatibility tests
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(COMPAT) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the Node compatibility tests will be skipped"; fi

test: $(VENV)/.test-deps compat-deps ## install test dependencies and run every test
	$(BIN)/pytest

lint: $(VENV)/.test-deps ## ruff and mypy --strict
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/mypy

format: $(VENV)/.test-deps ## apply ruff's formatting and fixes
	$(BIN)/ruff format src tests examples
	$(BIN)/ruff check --fix src tests examples

clean: ## remove the virtualenv, caches and Node modules
	rm -rf $(VENV) $(COMPAT)/node_modules .pytest_cache .mypy_cache .ruff_cache
