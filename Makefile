# Two commands set everything up on a fresh machine with python3.11 and make:
#   make demo   - the main job against the embedded emulator
#   make test   - lint + the whole test suite
# Both create (or reuse) .venv inside the checkout from the pinned requirement files.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Airflow's home lives in the checkout (git-ignored), never ~/airflow.
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export PATH := $(BIN):$(PATH)
ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv test lint chromium compose-tools emulator demo stack stack-test bench lock clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@# The three source roots on sys.path, so packages added later import without reinstalling.
	@printf '%s\n' $(CURDIR)/plugins $(CURDIR)/include $(CURDIR)/emulator \
	  > $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/hr_dataverse_src.pth
	@touch $@

lint: venv
	$(BIN)/ruff check .

# The suite, then the compose topology end to end (make stack-test; skip it with STACK_TEST=0).
STACK_TEST ?= 1
test: lint chromium compose-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@if [ "$(STACK_TEST)" != 0 ]; then $(MAKE) --no-print-directory stack-test; fi

# Headless Chromium for the browser tests of the data-quality report (Debian's package), once.
# Without it (no root, no apt) the browser tests skip locally and fail under CI=true.
chromium:
	@command -v chromium >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "warning: could not install Debian's chromium; browser tests will skip (and fail under CI)"

# Debian's docker-compose (Compose V1) validates docker-compose.yaml without an engine, once.
compose-tools:
	@command -v docker-compose >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; } \
	  || echo "warning: could not install Debian's docker-compose; the compose validation test will skip (and fail under CI)"

# docker-compose.yaml as local processes: the machine's PostgreSQL and Redis, the emulator, init,
# api-server, scheduler, dag-processor, triggerer and two Celery workers (scripts/stack.py). Ctrl-C stops it.
stack: venv
	$(BIN)/python scripts/stack.py up $(ARGS)

# The same stack checked end to end through the REST API, then torn down (scripts/stack_test.py).
stack-test: venv
	$(BIN)/python scripts/stack_test.py $(ARGS)

emulator: venv
	$(BIN)/python -m dataverse_emulator serve $(ARGS)

# The incremental sync test: emulator, full run, HR changes, delta run, changes read back (scripts/demo.py).
demo: venv
	$(BIN)/python scripts/demo.py $(ARGS)

# make bench [SCALE=rows] [BACKENDS="sqlite postgres"] [BENCH_ARGS="--runs 'full delta' ..."] [BENCH_AIRFLOW=0]
# BENCH_AIRFLOW=0 also skips the no-change scheduled run on the make stack topology (bench/no_change_run.py).
# Results (JSON lines, chart, summary, logs) in .bench/; the chart is copied to docs/bench/ for the README.
# The Microsoft SDK peer runs from .bench/peer-venv, created with pip on first use (bench/peer_venv.py).
SCALE ?= 1000000
BACKENDS ?= sqlite postgres
BENCH_ARGS ?=
BENCH_AIRFLOW ?= 1
AIRFLOW_SCALE ?= 20000
bench: venv
	$(BIN)/python -m bench.run --rows $(SCALE) --backends "$(BACKENDS)" $(BENCH_ARGS)
	@if [ "$(BENCH_AIRFLOW)" != 0 ]; then $(BIN)/python -m bench.airflow_overhead --rows $(AIRFLOW_SCALE); fi
	@if [ "$(BENCH_AIRFLOW)" != 0 ]; then $(BIN)/python -m bench.no_change_run; fi

# Re-resolve the pinned set from the top-level requirements (needs the package registry).
lock:
	rm -rf /tmp/hr-dv-lock && $(PYTHON) -m venv /tmp/hr-dv-lock
	/tmp/hr-dv-lock/bin/pip install "apache-airflow==3.3.2" "great-expectations>=1.7,<2" msal requests \
	  "PyJWT[crypto]" SQLAlchemy psycopg2-binary orjson matplotlib \
	  apache-airflow-providers-microsoft-azure apache-airflow-providers-postgres \
	  apache-airflow-providers-celery "celery[redis]<5.7" flower \
	  pytest pytest-timeout ruff PowerPlatform-Dataverse-Client dataverse-api
	/tmp/hr-dv-lock/bin/pip freeze > /tmp/hr-dv-lock/freeze.txt
	@echo "freeze written to /tmp/hr-dv-lock/freeze.txt; split it into requirements*.txt"

clean:
	rm -rf $(VENV) $(AIRFLOW_HOME) data reports .bench .stack
