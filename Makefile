# Chonai: `make run` serves the app on the embedded defaults; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.stamp-run
DEV_STAMP := $(VENV)/.stamp-dev

.DEFAULT_GOAL := help

.PHONY: help
help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# uv installs the locked versions (uv.lock) in a few seconds; an uv already on PATH is used as it is,
# otherwise one is bootstrapped once into .tools/ with the system pip.
UV_VERSION := 0.13.9
UV ?= $(or $(shell command -v uv 2>/dev/null),.tools/uv/bin/uv)
# pip's settings (extra indexes, constraints) are not uv's: uv reads only uv.lock and PyPI.
UV_SYNC := UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --quiet --no-progress --python $(PYTHON)

.tools/uv/bin/uv:
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
		--target .tools/uv 'uv==$(UV_VERSION)' 2>&1 | grep -vE '^WARNING: (Location|Running pip)' || true
	@test -x $@ || { echo "could not install uv with $(PYTHON) -m pip; install uv (https://docs.astral.sh/uv/) and re-run"; exit 1; }

$(RUN_STAMP): pyproject.toml uv.lock | $(UV)
	@$(UV_SYNC) --inexact
	@touch $@

$(DEV_STAMP): pyproject.toml uv.lock | $(UV)
	@$(UV_SYNC) --extra dev
	@touch $@ $(RUN_STAMP)

# axe-core for the accessibility test, from npm into .tools/node (injected into pages by Playwright).
AXE_VERSION := 4.14.1
AXE := .tools/node/node_modules/axe-core/axe.min.js

$(AXE):
	@command -v npm >/dev/null || { echo "npm is needed for the accessibility test (Debian: apt-get install npm)"; exit 1; }
	@npm install --prefix .tools/node --no-audit --no-fund --silent 'axe-core@$(AXE_VERSION)'

.PHONY: lock
lock: | $(UV) ## re-resolve uv.lock after changing dependencies in pyproject.toml
	$(UV) lock

.PHONY: install
install: $(RUN_STAMP) ## create the venv and install Chonai

.PHONY: run
run: $(RUN_STAMP) ## migrate, load demo data on first start, serve on http://127.0.0.1:8000
	@$(BIN)/chonai run

.PHONY: services
services: ## make sure PostgreSQL, Redis and Chromium are there for the tests (installs/starts them if not)
	bash scripts/ensure-services.sh

# Three pytest-xdist workers on two cores: most tests wait on sockets, servers and browsers, not the CPU.
# Each worker has its own PostgreSQL database, SQLite template and Redis namespace (tests/conftest.py).
PYTEST_WORKERS ?= 3

.PHONY: test
test: $(DEV_STAMP) services $(AXE) ## the whole suite: SQLite + PostgreSQL, Redis, several processes, Chromium
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=15 $(PYTEST_ARGS)

.PHONY: soak
soak: $(DEV_STAMP) ## long load: 1,000 viewers, 20 comments/s, 300 s, random disconnects (SOAK_ARGS for more)
	$(BIN)/chonai bench soak --viewers 1000 --rate 20 --seconds 300 --json $(SOAK_ARGS)

.PHONY: check
check: $(DEV_STAMP) ## ruff lint + format check, mypy, the import contracts (lint-imports), module/function sizes
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core live archive faq web bench
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/check_sizes.py

.PHONY: format
format: $(DEV_STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: clean
clean: ## remove the venv, local data (var/) and the bootstrapped tools (.tools/)
	rm -rf $(VENV) var .tools .pytest_cache .mypy_cache .ruff_cache
