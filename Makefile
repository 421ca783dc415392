# Two commands matter: `make report` and `make test`. Both build the venv when missing,
# installing the exact versions of requirements/lock.txt (the versions the tests passed with).
#   make report [MONTH=YYYY-MM] [REPORT_LANG=en|zh] [ONLY="04_clv 07_overview"] [CONFIG=file]
#   make test | make lab | make bench [BENCH_CUSTOMERS=N] [BENCH_WORLDS="retail subscriptions"] [BACKEND=duckdb|pyspark] | make demo [CUSTOMERS=N]
#   make lock [UPGRADE=1]: re-resolve the lock from pyproject.toml (keeps the pins it can)
#   make test-latest: the tests on the newest versions pyproject.toml allows (.venv-latest)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/lock.txt
LATEST := .venv-latest
# uv resolves the lock; it runs from its own small venv so the project venv stays exactly the lock
UV_VENV := .venv-uv
UV     := $(UV_VENV)/bin/uv
MONTH  ?= 2026-10
CUSTOMERS ?= 50000
BENCH_CUSTOMERS ?= 1000000
BENCH_WORLDS ?= retail subscriptions
BACKEND ?= duckdb
DEMO   := data/raw/demo/_truth/defects.json
CONFIG ?=
REPORT_LANG ?=
ONLY   ?=

# The month before MONTH (published first when missing, so the report has a comparison);
# MONTH must be ASCII YYYY-MM with a month 01-12 (kit.core.config.MONTH_PATTERN), else make stops.
PREV_OF_MONTH = $(BIN)/python -c 'import sys; from kit.core.config import MONTH_PATTERN; from kit.core.dates import previous_month; \
	m = sys.argv[1]; sys.exit(f"MONTH={m!r}: expected YYYY-MM with a month 01-12, e.g. 2026-10") if not MONTH_PATTERN.match(m) else print(previous_month(m))' '$(MONTH)'
OPT_ARGS := $(if $(CONFIG),--config $(CONFIG)) $(if $(REPORT_LANG),--lang $(REPORT_LANG))
RUN_ARGS := --month '$(MONTH)' $(if $(CONFIG),--config $(CONFIG)) $(if $(REPORT_LANG),--lang $(REPORT_LANG)) $(if $(ONLY),--only $(ONLY))

.PHONY: venv demo report test lab bench clean chromium java lock test-latest

# -c $(LOCK): every package at its locked version; the lock covers Python 3.11-3.13 on Linux
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed (set PYTHON=python3.11)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info >= (3, 14))' || echo "warning: $(LOCK) has no pins for Python 3.14+: installing the newest allowed versions"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (kit)" >/dev/null
	touch $(STAMP)

venv: $(STAMP)

$(DEMO): | $(STAMP)
	$(BIN)/kit demo-data --customers $(CUSTOMERS) $(if $(CONFIG),--config $(CONFIG))

demo: $(DEMO)

report: $(STAMP) $(DEMO)
	@prev=$$($(PREV_OF_MONTH)) && { test -f reports/$$prev/run.json || $(BIN)/kit run --month $$prev $(OPT_ARGS); }
	$(BIN)/kit run $(RUN_ARGS)

# The browser check of the reports needs Debian's Chromium; install it when we can (root + apt).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Chromium for the report browser check (apt-get)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing: install it (apt-get install chromium) or the browser check is skipped"; \
	  fi; }

# The Spark parity test (tests/integration/test_spark_parity.py) needs Java 17+; install it when we can.
java:
	@java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])' || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Java 17 for the Spark parity test (apt-get)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	  else \
	    echo "Java 17 or newer is missing: install it (apt-get install openjdk-17-jre-headless); the Spark parity test needs it"; exit 1; \
	  fi; }

test: $(STAMP) chromium java
	$(BIN)/python -m pytest

$(UV):
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet "uv>=0.13,<0.14"

# Resolves pyproject.toml (with the test extra) for Linux and Python 3.11-3.13 ([tool.uv]
# environments). An existing pin is kept when it still fits; UPGRADE=1 takes the newest.
# Then run `make test`, and copy the new pins of the direct dependencies to environment.yml.
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra test --universal --python-version 3.11 \
	  $(if $(UPGRADE),--upgrade) --custom-compile-command "make lock" -o $(LOCK)

# The tests on the newest versions pyproject.toml allows, in a venv of their own: tells
# whether the lock (and an upper bound) can move.
test-latest: chromium java
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[test]"
	$(LATEST)/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (kit)" >/dev/null
	$(LATEST)/bin/python -m pip list --format=freeze | grep -iE "^(pandas|numpy|scipy|scikit-learn|duckdb|ibis-framework|numba)=="
	$(LATEST)/bin/python -m pytest

# JupyterLab on your working copies of the notebooks (data/scratch/<user>/notebooks): the
# tracked notebooks and the published month never change from there (kit.core.scratch).
lab: $(STAMP)
	$(BIN)/kit lab $(if $(CONFIG),--config $(CONFIG))

# every world of BENCH_WORLDS, each to the end; fails when one failed
bench: $(STAMP)
	@status=0; for world in $(BENCH_WORLDS); do \
		$(BIN)/kit bench --customers $(BENCH_CUSTOMERS) --world $$world --backend $(BACKEND) || status=1; \
	done; exit $$status

clean:
	rm -rf reports/20* reports/failed reports/.run-* reports/.previous-* data/warehouse data/bench
