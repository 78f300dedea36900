# Quick start: `make run` and `make test`. Both create .venv and install into it when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint clean check-wheel check-tables

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/lkmrs-sched run

test: $(STAMP)
	$(BIN)/ruff check lkmrs_sched tests benchmarks examples tools
	$(BIN)/python -m pytest -n 2 -q tests

# The wheel, installed (not editable) in a fresh venv, runs every command from an empty folder.
check-wheel:
	bash tools/check_wheel.sh $(PYTHON)

# Every table output reads back with astropy's Table.read, units included, without pandas.
check-tables:
	bash tools/check_tables_without_pandas.sh $(PYTHON)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check lkmrs_sched tests benchmarks examples tools

clean:
	rm -rf $(VENV) build dist *.egg-info
