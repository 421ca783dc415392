# Two commands matter: `make report` and `make test`. Both build the venv when missing.
#   make report [MONTH=YYYY-MM] [REPORT_LANG=en|zh] [ONLY="04_clv 07_overview"] [CONFIG=file]
#   make test | make lab | make bench [BENCH_CUSTOMERS=N] | make demo [CUSTOMERS=N]
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MONTH  ?= 2026-10
CUSTOMERS ?= 50000
BENCH_CUSTOMERS ?= 1000000
DEMO   := data/raw/demo/_truth/defects.json
CONFIG ?=
REPORT_LANG ?=
ONLY   ?=

# The month before MONTH: published first when missing, so the report has a comparison.
PREV   := $(shell $(PYTHON) -c 'y, m = map(int, "$(MONTH)".split("-")); print(f"{y - (m == 1)}-{(m - 2) % 12 + 1:02d}")')
OPT_ARGS := $(if $(CONFIG),--config $(CONFIG)) $(if $(REPORT_LANG),--lang $(REPORT_LANG))
RUN_ARGS := --month $(MONTH) $(if $(CONFIG),--config $(CONFIG)) $(if $(REPORT_LANG),--lang $(REPORT_LANG)) $(if $(ONLY),--only $(ONLY))

.PHONY: venv demo report test lab bench clean chromium

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed (set PYTHON=python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (kit)" >/dev/null
	touch $(STAMP)

venv: $(STAMP)

$(DEMO): | $(STAMP)
	$(BIN)/kit demo-data --customers $(CUSTOMERS) $(if $(CONFIG),--config $(CONFIG))

demo: $(DEMO)

report: $(STAMP) $(DEMO)
	@test -f reports/$(PREV)/run.json || $(BIN)/kit run --month $(PREV) $(OPT_ARGS)
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

test: $(STAMP) chromium
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/kit bench --customers $(BENCH_CUSTOMERS)

clean:
	rm -rf reports/20* reports/failed reports/.staging-* data/warehouse data/bench
