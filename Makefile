# Fleetwatch: `make serve` runs the hub on SQLite, `make test` runs every gate and test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVE_ARGS ?=

.PHONY: serve test lint format fuzz bench bench-checks bench-ingest bench-hostile clean

$(BIN)/fleetwatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.test-deps: $(BIN)/fleetwatch pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

$(VENV): $(BIN)/fleetwatch

serve: $(BIN)/fleetwatch
	$(BIN)/fleetwatch serve $(SERVE_ARGS)

lint: $(VENV)/.test-deps
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(VENV)/.test-deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(VENV)/.test-deps lint
	bash scripts/ensure_postgres.sh
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_prometheus.sh
	$(BIN)/pytest

# Schemathesis against the hub's /openapi.json on SQLite and PostgreSQL, every phase and 200
# examples per operation (make test runs the same test with a small fixed budget).
fuzz: $(VENV)/.test-deps
	bash scripts/ensure_postgres.sh
	FLEETWATCH_FUZZ_PHASES=examples,coverage,fuzzing,stateful FLEETWATCH_FUZZ_EXAMPLES=200 \
		$(BIN)/pytest -m fuzz tests/test_fuzz_openapi.py

bench: $(VENV)/.test-deps
	$(BIN)/python bench/glances_api.py

# Passive check results on SQLite and PostgreSQL, and the freshness scheduler (bench/checks.py).
bench-checks: $(VENV)/.test-deps
	$(BIN)/python -m pip install --quiet py-spy
	$(BIN)/python bench/checks.py --profile

# submit_stats throughput, and a simulated fleet of 1,000 systems (installs wrk if missing).
bench-ingest: $(VENV)/.test-deps
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/fleet_load.py

# Ten of each of the worst requests at once, while /api/4/status and submit_stats are timed.
bench-hostile: $(VENV)/.test-deps
	$(BIN)/python bench/hostile_requests.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
