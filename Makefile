# Fleetwatch: `make serve` runs the hub on SQLite, `make test` runs every gate and test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVE_ARGS ?=

.PHONY: serve test lint format fuzz web bench bench-checks bench-ingest bench-hostile bench-console clean

$(BIN)/fleetwatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.test-deps: $(BIN)/fleetwatch pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

$(VENV): $(BIN)/fleetwatch

# The console's browser libraries: fetched from npm by name at the versions package-lock.json
# pins, copied into the package (fleetwatch/web/assets, not tracked) so the hub serves them
# itself: no CDN, works offline.
WEB_ASSETS := fleetwatch/web/assets/.built
$(WEB_ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p fleetwatch/web/assets
	cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css \
		node_modules/uplot/LICENSE fleetwatch/web/assets/
	@touch $@

web: $(WEB_ASSETS)

serve: $(BIN)/fleetwatch $(WEB_ASSETS)
	$(BIN)/fleetwatch serve $(SERVE_ARGS)

lint: $(VENV)/.test-deps
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(VENV)/.test-deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(VENV)/.test-deps $(WEB_ASSETS) lint
	bash scripts/ensure_postgres.sh
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_prometheus.sh
	bash scripts/ensure_haproxy.sh
	$(BIN)/pytest -n auto

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
# The console with 1,000 pushed systems: hub time, first paint, chart reads, idle cost.
bench-console: $(VENV)/.test-deps $(WEB_ASSETS)
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) node_modules fleetwatch/web/assets build *.egg-info .mypy_cache .ruff_cache
