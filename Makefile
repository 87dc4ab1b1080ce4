# Thin wrapper: every target names a command a person could run by hand. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python) $(shell command -v python3.12))
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help install kafka demo test test-unit test-integration lint format schemas clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv and install the pinned dependencies (requirements.lock)

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 is needed (pyenv install 3.12, or set PYTHON=/path/to/python3.12)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

kafka: ## fetch Apache Kafka's jars from Maven Central into .cache/kafka (once)
	deploy/kafka/kafka.sh fetch

demo: install kafka ## start Kafka and the worker, replay the sample stream, show the alerts (Ctrl-C stops all)
	scripts/demo.sh

test: install kafka ## the whole suite: unit, agents, deploy and integration tests against a real broker
	$(BIN)/python -m pytest

test-unit: install ## the fast tests only (no broker)
	$(BIN)/python -m pytest -m "not integration" tests/unit tests/agents tests/deploy

lint: install ## ruff (lint and format check) and mypy --strict
	$(BIN)/ruff check streams tests scripts
	$(BIN)/ruff format --check streams tests scripts
	$(BIN)/mypy

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix streams tests scripts
	$(BIN)/ruff format streams tests scripts

schemas: install ## regenerate schemas/ from the record models
	$(BIN)/python -m streams schemas

clean: ## remove the virtualenv and caches (not the Kafka jars)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cache/worker .cache/kafka-run
