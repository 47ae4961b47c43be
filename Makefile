# Two commands for a newcomer: `make demo` and `make test`. Everything else is optional.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/dev.lock
UV_VERSION := 0.13.9
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock"

.PHONY: setup lock demo test test-fast test-kafka bench soak lint fmt schemas dashboards clean help kafka kafka-stop

help:
	@echo "make setup      - create .venv and install the locked versions (the other targets call it)"
	@echo "make demo       - start the embedded broker, the worker, ClickHouse (chDB) and the operator console, replay the sample, print the report; Ctrl-C stops"
	@echo "make test       - unit, contract and integration tests against the real broker and chDB"
	@echo "make test-fast  - the tests that need no broker (unit and contract)"
	@echo "make test-kafka - every integration test on a local 3-node Apache Kafka (Java 17 + Maven)"
	@echo "make bench      - throughput figures (process, dedup, enrich, end-to-end vs passthrough)"
	@echo "make soak       - the fault-injection tests at full length (20 kill -9, 10 rebalances, 60 s outage, 100k bad inputs; Kafka leader kills)"
	@echo "make kafka      - start a local Apache Kafka (KRaft) on 127.0.0.1:29092.. (BROKERS=1|3)"
	@echo "make kafka-stop - stop it"
	@echo "make lint       - ruff and mypy"
	@echo "make fmt        - ruff format and the fixable lint"
	@echo "make lock       - re-resolve pyproject.toml's ranges into requirements/*.lock (see README: upgrading)"
	@echo "make schemas    - regenerate incidents/contracts/json from incidents/contracts/models.py"
	@echo "make dashboards - regenerate the Grafana dashboards in dashboards/json"
	@echo "make clean      - remove .venv, var/ and caches"

setup: $(STAMP)

# Installs exactly the locked versions (every transitive package pinned, hashes checked),
# then the project itself without resolving anything: what CI tested is what you get.
$(STAMP): pyproject.toml $(LOCK) incidents/domain/copies/_speedups.c
	@$(PYTHON) -c "import sys; assert sys.version_info[:2] == (3, 11)" 2>/dev/null || { echo "error: Python 3.11 is required (found: $(PYTHON)); install it, e.g. apt install python3.11 python3.11-venv"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the locked versions from $(LOCK) ($$(grep -c '^[a-z0-9]' $(LOCK)) pinned packages, hashes required)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check --disable-pip-version-check
	@touch $(STAMP)

# Re-resolves the ranges in pyproject.toml (and requirements/build.in) to the newest
# versions and rewrites both locks; `make test` then says whether they still pass.
# UV_ARGS passes options through, e.g. `make lock UV_ARGS="--upgrade-package msgspec"`.
lock: $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra dev $(LOCK_FLAGS) $(UV_ARGS) -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra rocksdb $(LOCK_FLAGS) $(UV_ARGS) -o requirements/runtime.lock

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

demo: setup
	$(BIN)/incidents demo --keep-running

test: setup
	$(BIN)/python -m pytest -q --durations=15

test-fast: setup
	$(BIN)/python -m pytest -q -m "not integration"

# Every integration test on Apache Kafka (make test runs a representative subset there).
test-kafka: setup
	INCIDENTS_TEST_BROKER=kafka $(BIN)/python -m pytest -q -m integration

# A local Apache Kafka without Docker: jars from Maven Central (infra/kafka/pom.xml) into
# var/kafka, KRaft nodes with small heaps on loopback; `make kafka-stop` stops them.
BROKERS ?= 1
kafka: setup
	infra/kafka/cluster.sh start --brokers $(BROKERS)

kafka-stop: setup
	infra/kafka/cluster.sh stop

bench: setup
	$(BIN)/incidents bench

soak: setup
	INCIDENTS_SOAK=1 $(BIN)/python -m pytest -q -s -m faults --timeout=3600 -p no:cacheprovider

lint: setup
	$(BIN)/ruff check incidents tests
	$(BIN)/ruff format --check incidents tests
	$(BIN)/mypy incidents

fmt: setup
	$(BIN)/ruff format incidents tests
	$(BIN)/ruff check --fix incidents tests

schemas: setup
	$(BIN)/incidents schemas export

dashboards: setup
	$(BIN)/python -m dashboards.build

clean:
	rm -rf $(VENV) var .pytest_cache
