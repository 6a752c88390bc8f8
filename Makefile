# FieldPay — the front door. `make run` starts the platform with demo data; `make test` tests it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: chaos fuzz load run test unit integration e2e smoke bench lint format contracts dashboards install clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  echo "installing python3-venv (Debian)…"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq python3-venv; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "installing chromium (Debian) for the browser tests…"
	@$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium

# Prometheus and promtool (Debian's package) for the metrics test and `make run PROMETHEUS=1`.
PROMETHEUS_BIN := /usr/bin/prometheus
$(PROMETHEUS_BIN):
	@echo "installing prometheus (Debian) for the metrics tests…"
	@$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq prometheus

run: $(STAMP)  ## start the whole platform with demo data (PROMETHEUS=1: with a local Prometheus)
	@if [ "$(PROMETHEUS)" = 1 ]; then $(MAKE) --no-print-directory $(PROMETHEUS_BIN); fi
	PROMETHEUS=$(PROMETHEUS) $(PY) -m shared.devstack run

smoke: $(STAMP)  ## against a running `make run`: close a job, wait ≤ 2 s for its draft
	$(PY) -m shared.devstack smoke

CHAOS_JOBS ?= 10000
chaos: $(STAMP)  ## CHAOS_JOBS jobs closed, sent and a share paid while processes die by kill -9 (≥ 20), the broker and PostgreSQL restart; prints the tally, exits 1 on a miss
	$(PY) -m tests.chaos --jobs $(CHAOS_JOBS) --kills 20 --every $(or $(CHAOS_EVERY),30) --workers 32

FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)  ## schemathesis against every service's OpenAPI on a started platform: FUZZ_EXAMPLES per operation plus the coverage phase; a table per service (make test runs a short one)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_COVERAGE=1 $(PY) -m pytest -q -p no:cacheprovider --timeout=0 tests/e2e/test_fuzz.py

test: $(STAMP) $(CHROMIUM) $(PROMETHEUS_BIN)  ## unit, integration and end-to-end tests on a throwaway PostgreSQL and broker
	$(PY) -m pytest -q -p no:cacheprovider --durations=30 tests/unit tests/integration tests/e2e

unit: $(STAMP) $(PROMETHEUS_BIN)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

e2e: $(STAMP) $(CHROMIUM) $(PROMETHEUS_BIN)
	$(PY) -m pytest -q tests/e2e

load: $(STAMP)  ## the staff app and the pay page at 200 req/s for 60 s on a platform of its own (locust); prints the table, exits 1 when a goal is missed
	$(PY) -m bench.load

bench: $(STAMP)  ## every figure the issues name, one table with baselines (var/bench/latest.md)
	$(PY) -m bench

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy shared services bench tests

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

dashboards: $(STAMP)  ## regenerate the Grafana dashboards and the local Prometheus configuration
	$(PY) -m shared.devstack.dashboards
	$(PY) -m shared.devstack.prometheus

contracts: $(STAMP)  ## regenerate JSON Schema and AsyncAPI from the event models
	$(PY) -m shared.contracts.generate

clean:
	rm -rf var
