# Two commands matter: `make report` and `make test`. Both build the venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MONTH  ?= 2026-10
CUSTOMERS ?= 50000
BENCH_CUSTOMERS ?= 1000000
DEMO   := data/raw/demo/_truth/defects.json

.PHONY: venv demo report test lab bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (kit)" >/dev/null
	touch $(STAMP)

venv: $(STAMP)

$(DEMO): | $(STAMP)
	$(BIN)/kit demo-data --customers $(CUSTOMERS)

demo: $(DEMO)

report: $(STAMP) $(DEMO)
	$(BIN)/kit run --month $(MONTH)

test: $(STAMP)
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/kit bench --customers $(BENCH_CUSTOMERS)

clean:
	rm -rf reports/20* data/warehouse
