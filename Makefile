# Carnet — the two commands of README.md are `make run` and `make test`; the rest are their steps.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --no-sync

.PHONY: install run down status test test-unit bench contracts clean

install: ## the virtual environment (uv) and the Kafka jars (Maven Central)
	@command -v uv >/dev/null 2>&1 || test -x $(UV) || python3 -m pip install --quiet --user uv
	$(UV) sync --all-packages
	$(RUN) python -c "from carnet_local.kafka import ensure_jars; ensure_jars()"

run: install ## start PostgreSQL, Kafka, the SMTP capture and the five services; returns once all are ready
	$(RUN) carnet stack up

down: ## stop everything `make run` started
	$(RUN) carnet stack down

status:
	$(RUN) carnet stack status

test: install ## every test; starts and stops its own PostgreSQL and Kafka
	$(RUN) pytest

test-unit: install ## the tests that need no broker and no database
	$(RUN) pytest -m "not integration"

bench: install ## benchmarks: they print figures, they never pass or fail
	@for b in services/*/bench/*.py tests/bench/*.py; do [ -f "$$b" ] || continue; echo "== $$b"; $(RUN) python "$$b" || exit 1; done

contracts: ## re-export the events' JSON Schemas and the services' OpenAPI/AsyncAPI documents after a change
	$(RUN) python -m carnet_contracts.export
	$(RUN) python -m carnet_runtime.documents

clean: down
	rm -rf .carnet
