# One target per habit. Every target creates .venv and installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SCENARIO ?= smoke
# RECORD_BASELINE=1 stores the run as its machine class's baseline (loadtests/baselines/).
RECORD_BASELINE ?=

.PHONY: help install lint format test demo run loadtest bench clean observe

help:
	@echo "make demo      seed, serve, load-test for a minute, then keep serving (DEMO_SERVE=0 to exit)"
	@echo "make test      lint, then the whole test suite"
	@echo "make run       web + worker on 127.0.0.1:\$${PORT:-8000} in the profile the environment selects"
	@echo "make loadtest  SCENARIO=<name> headless Locust run against a stack it boots (RECORD_BASELINE=1: store its baseline)"
	@echo "make lint      ruff, import layers and private modules, migrations check and lint, mypy"
	@echo "make bench     the benchmark commands recorded in docs/benchmarks.md"
	@echo "make observe   Prometheus with docs/ops' rules against the running stack (Debian's prometheus)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Peakstore needs Python 3.11+; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q tests/test_architecture.py
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py lint_migrations
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(VENV)/bin/pytest

demo: $(STAMP)
	$(PY) manage.py demo

run: $(STAMP)
	$(PY) manage.py run_stack

loadtest: $(STAMP)
	$(PY) manage.py loadtest --scenario $(SCENARIO) $(if $(filter 1,$(RECORD_BASELINE)),--record-baseline)

# Each entry is a manage.py command that prints its figures and exits non-zero on a
# missed target; add yours to the list.
BENCHMARKS ?= bench_product_page bench_metrics_overhead bench_throughput bench_overload bench_pricing bench_search bench_page_hit bench_tracing_overhead

observe: $(STAMP)
	$(PY) manage.py observe

bench: $(STAMP)
	@for command in $(BENCHMARKS); do echo "== $$command"; $(PY) manage.py $$command || exit 1; done

clean:
	rm -rf $(VENV) var reports .pytest_cache .ruff_cache .mypy_cache
