# The two commands a newcomer needs (see README.md):
#   make demo   - set up and run the main job on embedded defaults
#   make test   - set up and run the whole test suite (ruff, mypy, pytest on SQLite and PostgreSQL)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: setup demo test lint typecheck test-sqlite test-postgresql bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $@

# Re-pin requirements.lock: a throw-away venv gets the newest versions pyproject.toml allows.
.PHONY: lock
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e ".[dev]"
	{ sed -n '1,2p' requirements.lock; .lock-venv/bin/pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf .lock-venv

setup: $(VENV)/.installed

# The main job (deployments/main_job.py): Prefect server, simulator, worker, deployments,
# failure alerts, then the demo year's cycles due so far; Ctrl-C stops it all.
demo: setup
	$(BIN)/assess deployments run

.PHONY: demo-stop screenshot
demo-stop: setup
	$(BIN)/assess deployments stop

# PNGs of the Prefect UI under data/screenshots/ (needs `make demo` running and Chromium).
screenshot: setup
	$(BIN)/python deployments/screenshot.py

# Benchmarks (scripts, never tests): see bench/README.md for the figures and options.
bench: setup
	$(BIN)/python -m bench.collect_month
	$(BIN)/python -m bench.monthly_analysis --records 10000
	$(BIN)/python -m bench.monthly_analysis --records 100000

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

test-sqlite: setup
	ASSESS_TEST_DB=sqlite $(BIN)/pytest

test-postgresql: setup
	ASSESS_TEST_DB=postgresql $(BIN)/pytest -m "db or flow"

test: lint typecheck test-sqlite test-postgresql
