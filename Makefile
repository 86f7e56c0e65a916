# Two commands on a fresh machine: `make run` and `make test`. `make help` lists the rest.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 3000
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM  # the browser tests launch this binary

.PHONY: help run demo test lint typecheck imports pytest schema bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

# The browser tests drive Debian's Chromium; install it once where it is missing (needs root, as in CI).
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

run: $(VENV)/.installed ## set up and serve the demo on the embedded store (http://127.0.0.1:3000/graphql)
	$(BIN)/lensgraph serve --host $(HOST) --port $(PORT) --demo

test: lint typecheck imports pytest ## set up, lint, type-check, check the import rules, run every test

lint: $(VENV)/.installed-test ## ruff
	$(BIN)/ruff check graph resolvers storage tests bench

typecheck: $(VENV)/.installed-test ## mypy on the packages
	$(BIN)/mypy

imports: $(VENV)/.installed-test ## import-linter: graph -> resolvers -> storage, families and backends independent
	$(BIN)/lint-imports

pytest: $(VENV)/.installed-test $(CHROMIUM) ## the test suite only (PYTEST_ARGS passes options)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

schema: $(VENV)/.installed ## regenerate schema.graphql from the code
	$(BIN)/lensgraph schema --output schema.graphql

bench: $(VENV)/.installed-test ## the benchmark set in under 3 minutes: ingest, trace reads, analytics, experiments, a 1-minute soak (bench/README.md)
	$(BIN)/python bench/ingest.py --spawn -n 20000 -b 100 --format both
	$(BIN)/python bench/trace.py --spawn
	$(BIN)/python bench/analytics.py --spawn --events 200000 --sessions 70000 --users 8000 --repeat 5 --check-mongo 1000
	$(BIN)/python bench/experiments.py --spawn
	$(BIN)/python bench/soak.py --spawn --minutes 1

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
