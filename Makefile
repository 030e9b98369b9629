# Carnet — the two commands of README.md are `make run` and `make test`; the rest are their steps.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --no-sync

.PHONY: install run down status test test-unit bench contracts images image-tools clean

install: ## the virtual environment (uv) and the Kafka jars (Maven Central)
	@command -v uv >/dev/null 2>&1 || test -x $(UV) || python3 -m pip install --quiet --user uv
	$(UV) sync --all-packages
	$(RUN) python -c "from carnet_local.kafka import ensure_jars; ensure_jars()"

BROKERS ?= 1
run: install ## start PostgreSQL, Kafka, the SMTP capture and the five services; returns once all are ready
	$(RUN) carnet stack up --brokers $(BROKERS)

down: ## stop everything `make run` started
	$(RUN) carnet stack down

status:
	$(RUN) carnet stack status

test: install ## every test; starts and stops its own PostgreSQL and Kafka
	$(RUN) pytest

test-unit: install ## the tests that need no broker and no database
	$(RUN) pytest -m "not integration"

bench: install ## benchmarks: they print figures, they never pass or fail
	@for b in services/*/bench/*.py tests/bench/*.py; do grep -q '__main__' "$$b" 2>/dev/null || continue; echo "== $$b"; $(RUN) python "$$b" || exit 1; done

images: install image-tools ## the five services' images from deploy/docker/Dockerfile, with buildah (no Docker engine)
	$(RUN) python -m carnet_local.images build

image-tools: ## buildah and debootstrap, from Debian's packages (as root, like CI)
	@command -v buildah >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 || { \
	  test "$$(id -u)" = 0 || { echo "make images: buildah and debootstrap are missing; as root: apt-get install buildah debootstrap" >&2; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah debootstrap; }

contracts: ## re-export the events' JSON Schemas and the services' OpenAPI/AsyncAPI documents after a change
	$(RUN) python -m carnet_contracts.export
	$(RUN) python -m carnet_runtime.documents

clean: down
	rm -rf .carnet
