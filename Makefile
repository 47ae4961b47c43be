# Two commands for a newcomer: `make demo` and `make test`. Everything else is optional.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast bench soak lint fmt schemas dashboards clean help

help:
	@echo "make setup   - create .venv and install the project (the other targets call it)"
	@echo "make demo    - start the embedded broker, the worker and ClickHouse (chDB), replay the sample, print the report"
	@echo "make test    - unit, contract and integration tests against the real broker and chDB"
	@echo "make bench   - throughput figures (process, dedup, enrich, end-to-end vs passthrough)"
	@echo "make soak    - the fault-injection targets at full length (20 kill -9, 10 rebalances, 60 s outage, 100k bad inputs)"
	@echo "make lint    - ruff and mypy"

setup: $(STAMP)

$(STAMP): pyproject.toml streams/domain/_speedups.c
	@$(PYTHON) -c "import sys; assert sys.version_info[:2] == (3, 11)" 2>/dev/null || { echo "error: Python 3.11 is required (found: $(PYTHON)); install it, e.g. apt install python3.11 python3.11-venv"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/incidents demo

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not integration"

bench: setup
	$(BIN)/incidents bench

soak: setup
	INCIDENTS_SOAK=1 $(BIN)/python -m pytest -q -s -m faults --timeout=3600 -p no:cacheprovider

lint: setup
	$(BIN)/ruff check streams connectors schemas tests
	$(BIN)/ruff format --check streams connectors schemas tests
	$(BIN)/mypy streams connectors schemas

fmt: setup
	$(BIN)/ruff format streams connectors schemas tests
	$(BIN)/ruff check --fix streams connectors schemas tests

schemas: setup
	$(BIN)/incidents schemas export

dashboards: setup
	$(BIN)/python -m dashboards.build

clean:
	rm -rf $(VENV) var .pytest_cache
