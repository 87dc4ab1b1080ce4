# Thin wrapper: every target names a command a person could run by hand. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python) $(shell command -v python3.12))
VENV := .venv
BIN := $(VENV)/bin
# Go builds of the compose validator keep their modules and build cache in .cache/go (downloaded once).
GO_ENV := GOPATH=$(CURDIR)/.cache/go GOMODCACHE=$(CURDIR)/.cache/go/mod GOCACHE=$(CURDIR)/.cache/go/build \
	GOFLAGS="-modcacherw -mod=readonly" GOTOOLCHAIN=local
COMPOSE_VALIDATE := .cache/bin/compose-validate
# Where `go` is not on PATH, `make go-toolchain` fetches Go from the Go module proxy (GOPROXY's first entry;
# the module golang.org/toolchain, the zip `GOTOOLCHAIN=go1.27.3` itself downloads), checks its SHA-256
# and unpacks it into .cache/go-toolchain (once; nothing system-wide). Only linux-amd64 is pinned.
GO_TOOLCHAIN_VERSION := go1.27.3
GO_TOOLCHAIN_SHA256 := af4c06478303fdd1bfb335fab86c7ccb9b12e529044a946a16a1c4bcc779f8d7
GO_TOOLCHAIN := .cache/go-toolchain/$(GO_TOOLCHAIN_VERSION)

.PHONY: help install kafka prometheus chromium compose-validate demo test test-unit test-integration lint format schemas \
	dashboards clean

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

prometheus: ## install Debian's prometheus package (prometheus, promtool) when missing; the monitoring tests run them
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
	else echo "note: prometheus/promtool missing and not root: apt-get install prometheus (monitoring tests skip)"; fi

chromium: ## install Debian's chromium and chromedriver when missing; the story board's browser test drives them
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver fonts-dejavu-core; \
	else echo "note: chromium/chromedriver missing and not root: apt-get install chromium chromium-driver" \
		"(the board's browser test skips; under CI=true it fails)"; fi

.PHONY: go-toolchain
go-toolchain: ## when `go` is not on PATH: fetch Go from the Go module proxy into .cache/go-toolchain (once)
	@if command -v go >/dev/null || [ -x $(GO_TOOLCHAIN)/bin/go ]; then exit 0; fi; \
	platform=$$(uname -s | tr A-Z a-z)-$$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/'); \
	proxy=$${GOPROXY:-https://proxy.golang.org}; proxy=$${proxy%%[,|]*}; \
	case $$proxy in http*) ;; *) proxy=https://proxy.golang.org ;; esac; \
	url=$$proxy/golang.org/toolchain/@v/v0.0.1-$(GO_TOOLCHAIN_VERSION).$$platform.zip; \
	mkdir -p .cache && tmp=$$(mktemp -d $(CURDIR)/.cache/go-fetch.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT; \
	if [ "$$platform" != linux-amd64 ]; then echo "note: cannot fetch Go: no pinned toolchain for $$platform"; \
	elif ! command -v curl >/dev/null; then echo "note: cannot fetch Go: curl is missing"; \
	elif ! curl -fsSL --retry 2 --connect-timeout 20 --max-time 600 -o "$$tmp/go.zip" "$$url" 2>"$$tmp/err"; then \
		echo "note: cannot fetch Go from $$url: $$(tr '\n' ' ' <"$$tmp/err")"; \
	elif ! echo "$(GO_TOOLCHAIN_SHA256)  $$tmp/go.zip" | sha256sum -c --status; then \
		echo "note: cannot fetch Go: $$url is not the pinned zip (SHA-256 differs)"; \
	else \
		echo "fetching $(GO_TOOLCHAIN_VERSION) from $$proxy (golang.org/toolchain) into $(GO_TOOLCHAIN)"; \
		$(or $(PYTHON),python3) -m zipfile -e "$$tmp/go.zip" "$$tmp/x" && \
		root=$$tmp/x/golang.org/toolchain@v0.0.1-$(GO_TOOLCHAIN_VERSION).$$platform && \
		chmod +x "$$root"/bin/* "$$root"/pkg/tool/*/* && \
		mkdir -p $(dir $(GO_TOOLCHAIN)) && rm -rf $(GO_TOOLCHAIN) && mv "$$root" $(GO_TOOLCHAIN) && \
		$(GO_TOOLCHAIN)/bin/go version; \
	fi

compose-validate: $(COMPOSE_VALIDATE) ## build the compose-spec validator (compose-go) that tests/deploy runs

$(COMPOSE_VALIDATE): deploy/compose/validate/main.go deploy/compose/validate/go.mod deploy/compose/validate/go.sum \
		| go-toolchain
	@go=$$(command -v go || echo $(abspath $(GO_TOOLCHAIN))/bin/go); \
	if [ -x "$$go" ]; then \
		cd deploy/compose/validate && $(GO_ENV) "$$go" build -o $(CURDIR)/$@ . ; \
	else echo "note: Go is missing: docker-compose.yml is not validated (tests/deploy skips that test;" \
		"under CI=true it fails)"; fi

demo: install kafka ## start Kafka and the worker, replay the sample stream, show the alerts (Ctrl-C stops all)
	scripts/demo.sh

test: install kafka prometheus chromium compose-validate ## the whole suite: unit, agents, deploy and integration tests (real broker, real Prometheus)
	$(BIN)/python -m pytest

test-unit: install prometheus compose-validate ## the fast tests only: unit, the agents in-process, deploy (no broker)
	$(BIN)/python -m pytest -m "not integration" tests/unit tests/agents tests/deploy

test-integration: install kafka prometheus chromium ## the tests against the real broker (deploy/kafka/kafka.sh) and Prometheus
	$(BIN)/python -m pytest -m integration tests/integration

lint: install ## ruff (lint and format check) and mypy --strict
	$(BIN)/ruff check streams tests scripts
	$(BIN)/ruff format --check streams tests scripts
	$(BIN)/mypy

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix streams tests scripts
	$(BIN)/ruff format streams tests scripts

schemas: install ## regenerate schemas/ from the record models
	$(BIN)/python -m streams schemas

dashboards: install ## regenerate deploy/grafana/dashboards/*.json from deploy/grafana/dashboards.py
	$(BIN)/python deploy/grafana/dashboards.py

clean: ## remove the virtualenv and caches (not the Kafka jars)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cache/worker .cache/kafka-run
