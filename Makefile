# The commands people type. CI (.ci/run) calls `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.atrium-installed
FRONTEND_STAMP := annotation_ui/static/annotation_ui/app.js
PYTEST_ARGS ?=

.PHONY: demo test test-embedded test-python test-frontend lint bench venv frontend clean

## demo: set up everything on a fresh machine and run the platform with demo data (no PostgreSQL/Redis needed)
demo: venv frontend
	$(PY) manage.py rundemo

## venv: .venv with torch (the CPU wheel on disk) and the project in editable mode
venv: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## frontend: npm ci + Vite build into annotation_ui/static/annotation_ui/
frontend: $(FRONTEND_STAMP)
$(FRONTEND_STAMP): frontend/package-lock.json $(shell find frontend/src -type f 2>/dev/null) frontend/vite.config.ts
	cd frontend && npm ci --no-audit --no-fund && npm run build

## test: the whole suite (Python with a real Celery worker, then the front end's vitest)
test: venv frontend
	@set +e; $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi
	cd frontend && npm test

## test-embedded: the platform tests without PostgreSQL/Redis (SQLite, in-memory layer, filesystem broker)
test-embedded: venv
	@set +e; env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest tests/platform $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy platform ml annotation_ui

bench: venv
	for script in bench/*.py; do echo "== $$script"; $(PY) $$script --quick || exit 1; done

clean:
	rm -rf var/test var/celery
