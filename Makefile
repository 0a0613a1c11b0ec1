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

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

.PHONY: install
install: $(RUN_STAMP) ## create the venv and install Chonai

.PHONY: run
run: $(RUN_STAMP) ## migrate, load demo data on first start, serve on http://127.0.0.1:8000
	$(BIN)/chonai run

.PHONY: services
services: ## make sure PostgreSQL, Redis and Chromium are there for the tests (installs/starts them if not)
	bash scripts/ensure-services.sh

.PHONY: test
test: $(DEV_STAMP) services ## the whole suite: SQLite + PostgreSQL, Redis, several processes, Chromium
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: soak
soak: $(DEV_STAMP) ## long load: 1,000 viewers, 20 comments/s, 300 s, random disconnects (SOAK_ARGS for more)
	$(BIN)/chonai bench soak --viewers 1000 --rate 20 --seconds 300 --json $(SOAK_ARGS)

.PHONY: check
check: $(DEV_STAMP) ## ruff lint + format check, mypy, the import contracts (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core live archive faq web bench
	$(BIN)/lint-imports --no-cache

.PHONY: format
format: $(DEV_STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: clean
clean: ## remove the venv and local data (var/)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
