# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_TENANT ?= demo
DEMO_DAYS ?= 400
DEMO_CUSTOMERS ?= 50000
DEMO_OWNER ?= owner@demo.ecomops.test
# The demo shop's history ends yesterday in its own time zone, so the console's recent days hold data and
# nothing is simulated in the future (today fills from live events). `demo seed` alone keeps its fixed
# default end date, so its output never depends on the day it runs.
DEMO_END_DATE ?= $(shell TZ=Asia/Shanghai date -d yesterday +%F)
# Mean events per second of the live feed; empty: the seeded shop's own recent rate (`demo trickle --rate`).
DEMO_RATE ?=
export ECOMOPS_DATA_DIR ?= $(CURDIR)/.ecomops

.PHONY: install demo serve test lint format typecheck bench screenshots clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ecomops tenant create $(DEMO_TENANT) --name "Demo Shop 演示店铺" --timezone Asia/Shanghai --currency CNY --if-not-exists
	@# A second run keeps the seeded shop (seconds, not minutes) and the live feed fills the days since;
	@# RESEED=1 seeds it again from scratch.
	$(BIN)/ecomops demo seed --tenant $(DEMO_TENANT) --days $(DEMO_DAYS) --customers $(DEMO_CUSTOMERS) --seed 42 --end-date $(DEMO_END_DATE) $(if $(RESEED),,--if-missing)
	@# A fresh password on every run, so the login printed here always works; the owner's authenticator
	@# is enrolled once, its QR code printed here (later runs keep it).
	$(BIN)/ecomops user bootstrap --tenant $(DEMO_TENANT) --email $(DEMO_OWNER) --reset-password --enroll-totp
	@# The live feed sends visits, orders and a live show through the ingest API while the server runs,
	@# and stops with it (Ctrl-C stops both).
	$(BIN)/ecomops demo trickle --tenant $(DEMO_TENANT) --customers $(DEMO_CUSTOMERS) --seed 42 $(if $(DEMO_RATE),--rate $(DEMO_RATE)) & feed=$$!; \
	  trap 'kill $$feed 2>/dev/null; wait $$feed' EXIT; \
	  ECOMOPS_DEMO_SIGNIN_HINT=1 $(BIN)/ecomops serve

serve: $(STAMP)
	$(BIN)/ecomops serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools examples
	$(BIN)/ruff format --check src tests bench tools examples
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests bench tools examples
	$(BIN)/ruff check --fix src tests bench tools examples

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint
	bash scripts/services.sh
	bash scripts/browser.sh
	@$(BIN)/pytest -n 2 --dist loadgroup; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

# Refresh docs/screenshots/ from the browser tests (a normal test run writes them to a temp folder).
screenshots: $(STAMP)
	bash scripts/browser.sh
	ECOMOPS_SCREENSHOTS=docs $(BIN)/pytest tests/console/test_browser.py tests/console/test_live_browser.py tests/platform/test_modules_browser.py -q

bench: $(STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .ecomops .pytest_cache .mypy_cache .ruff_cache
