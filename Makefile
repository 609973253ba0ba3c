# One entry point for a newcomer. `make run` starts the system with the seed's demo data,
# `make test` runs every check. Both install what is missing first.
SHELL := /bin/bash
PY := .venv/bin/python
STACK := deploy/local/stack.sh

.PHONY: help install stack-up stack-down stack-status cluster-up cluster-down run run-outreach test lint typecheck unit integration e2e screenshots contracts asyncapi openapi clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: .venv/.installed ## Python venv with the pinned dependencies, and the system tools the tests use
	@missing=""; command -v kcat >/dev/null || missing="$$missing kcat"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing:$$missing (the tests need them): sudo apt-get install$$missing"; exit 1; fi; fi

.venv/.installed: pyproject.toml
	@test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

stack-up: install ## Kafka, PostgreSQL and the SMTP sink on 127.0.0.1 (idempotent)
	$(STACK) up

stack-down: ## stop the local stack (and the SCRAM Kafka and the three-node cluster, if they run)
	$(STACK) down
	KAFKA_SECURITY=scram $(STACK) down kafka
	KAFKA_BROKERS=3 $(STACK) down kafka

cluster-up: install ## a three-node Kafka cluster beside the stack's Kafka (tests/e2e/cluster starts it itself if need be)
	KAFKA_BROKERS=3 $(STACK) up kafka

cluster-down: ## stop the three-node Kafka cluster
	KAFKA_BROKERS=3 $(STACK) down kafka

stack-status:
	$(STACK) status

RUN_ARGS ?=

run: stack-up ## the whole system with the seed's demo data, in the foreground (RUN_ARGS=--reset-demo: from the seed's state)
	$(PY) -m services.operator run $(RUN_ARGS)

run-outreach: stack-up ## the same demo on the outreach day, 2 December 2021: after the lists of 1 December, before the 3 December deadline
	$(PY) -m services.operator run --as-of 2021-12-02T10:00+01:00 $(RUN_ARGS)

lint: install
	.venv/bin/ruff format --check services contracts tests bench deploy
	.venv/bin/ruff check services contracts tests bench deploy

typecheck: install
	.venv/bin/mypy

unit: install
	.venv/bin/pytest tests/unit -q

test: stack-up lint typecheck ## every check: lint, types, unit, integration and end-to-end tests
	eval "$$($(STACK) env)" && .venv/bin/pytest -q

screenshots: stack-up ## the pages' pictures in docs/screenshots (the browser tests, writing there)
	eval "$$($(STACK) env)" && KL_SCREENSHOTS=$(CURDIR)/docs/screenshots .venv/bin/pytest -q tests/e2e/web/test_pages.py tests/e2e/web/test_outreach_pages.py

contracts: install ## regenerate the committed JSON Schemas (refuses a breaking change)
	$(PY) -m contracts.schemas

asyncapi: install ## regenerate the committed AsyncAPI documents
	$(PY) -m services.operator asyncapi

openapi: install ## regenerate the committed OpenAPI documents of the HTTP services
	$(PY) -m services.operator openapi

clean: stack-down
	rm -rf var .venv
