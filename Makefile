# FieldPay — the front door. `make run` starts the platform with demo data; `make test` tests it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test unit integration e2e smoke bench lint format contracts dashboards install clean

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

test: $(STAMP) $(CHROMIUM) $(PROMETHEUS_BIN)  ## unit, integration and end-to-end tests on a throwaway PostgreSQL and broker
	$(PY) -m pytest -q -p no:cacheprovider tests/unit tests/integration tests/e2e

unit: $(STAMP) $(PROMETHEUS_BIN)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

e2e: $(STAMP) $(CHROMIUM) $(PROMETHEUS_BIN)
	$(PY) -m pytest -q tests/e2e

bench: $(STAMP)  ## PDF, pay page, notify, AR aging (1M invoices), closed→drafted throughput and latency
	$(PY) -m bench.pdf
	$(PY) -m bench.paypage
	$(PY) -m bench.notify
	$(PY) -m bench.aging
	$(PY) -m bench.pipeline

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
