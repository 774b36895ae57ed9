# One target per habit. Every target creates .venv and installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SCENARIO ?= smoke
# RECORD_BASELINE=1 stores the run as its machine class's baseline (loadtests/baselines/).
RECORD_BASELINE ?=
# WORKERS=N runs Locust distributed: one --master and N --worker processes.
WORKERS ?=

.PHONY: help install lint format test demo run loadtest bench clean deploy observe
.PHONY: lab lab-check compare

help:
	@echo "make demo      seed, serve, load-test for a minute, then keep serving (DEMO_SERVE=0 to exit)"
	@echo "make test      lint, then the whole test suite"
	@echo "make run       web + worker on 127.0.0.1:\$${PORT:-8000} in the profile the environment selects"
	@echo "               (WEB_ONLY=1 PORT=8001: a second web stack on the same store)"
	@echo "make loadtest  SCENARIO=<name> headless Locust run against a stack it boots (RECORD_BASELINE=1: store its baseline)"
	@echo "make deploy    apply this checkout to the stack make run serves, without downtime"
	@echo "make lint      ruff, import layers and private modules, migrations check and lint, mypy"
	@echo "make bench     the benchmark commands recorded in docs/benchmarks.md"
	@echo "make lab       MODE=<mode> the failure-mode lab: the mode's scenario on, then off, one report"
	@echo "make lab-check can this laptop run the lab's exercises? (under a minute)"
	@echo "make compare   A=<run> B=<run> two load-test reports side by side (compare.html)"
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

# WEB_ONLY=1 PORT=8001: a second web stack on the store `make run` already serves.
run: $(STAMP)
	$(PY) manage.py run_stack $(if $(filter 1,$(WEB_ONLY)),--web-only)

deploy: $(STAMP)
	nice -n 10 $(PY) manage.py deploy

loadtest: $(STAMP)
	$(PY) manage.py loadtest --scenario $(SCENARIO) $(if $(filter 1,$(RECORD_BASELINE)),--record-baseline) $(if $(WORKERS),--workers $(WORKERS))

# Each entry is a manage.py command that prints its figures and exits non-zero on a
# missed target; add yours to the list.
BENCHMARKS ?= bench_product_page bench_metrics_overhead bench_throughput bench_overload bench_pricing bench_search bench_page_hit bench_tracing_overhead

observe: $(STAMP)
	$(PY) manage.py observe

bench: $(STAMP)
	@for command in $(BENCHMARKS); do echo "== $$command"; $(PY) manage.py $$command || exit 1; done

clean:
	rm -rf $(VENV) var reports .pytest_cache .ruff_cache .mypy_cache

# The failure-mode lab (loadtests/lab.py): `python manage.py lab list` names the modes.
MODE ?=
lab: $(STAMP)
	@test -n "$(MODE)" || { $(PY) manage.py lab list; echo "usage: make lab MODE=<mode>"; exit 2; }
	PEAKSTORE_LAB=1 $(PY) manage.py lab run $(MODE)

lab-check: $(STAMP)
	$(PY) manage.py lab_check

compare: $(STAMP)
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make compare A=<report dir> B=<report dir>"; exit 2; }
	$(PY) manage.py loadtest compare $(A) $(B)
