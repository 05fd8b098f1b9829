# One entry point for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
KAFKA_PORT ?= 9092
KAFKA_DIR ?= .run/kafka
POSTGRES_DIR ?= .run/postgres
# Empty: the port of the last start (a free one the first time); 0: always a free one.
POSTGRES_PORT ?=
SERVICES_DIR ?= .run/services
SERVICES_PORT_BASE ?= 8000
SERVICES_ARGS = --state-dir $(SERVICES_DIR) --port-base $(SERVICES_PORT_BASE)
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
ORDER_API_PORT ?= 8000
KAFKA_HOST_PORT ?= 9094
KAFKA_2_HOST_PORT ?= 9095
KAFKA_3_HOST_PORT ?= 9096
MONITOR_PORT ?= 8005
COMPOSE_PROJECT_NAME ?= saga
PROMETHEUS_PORT ?= 9090
SECURE_COMPOSE_DIR ?= .run/compose-secure
ORDER_API_2_PORT ?= 8006
POSTGRES_HOST_PORT ?= 5433
HA_COMPOSE_DIR ?= .run/compose-ha
export ORDER_API_PORT KAFKA_HOST_PORT KAFKA_2_HOST_PORT KAFKA_3_HOST_PORT MONITOR_PORT \
	COMPOSE_PROJECT_NAME PROMETHEUS_PORT SECURE_COMPOSE_DIR ORDER_API_2_PORT POSTGRES_HOST_PORT \
	HA_COMPOSE_DIR
# Prefer the compose plugin; fall back to the standalone docker-compose.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

.PHONY: help install lock test test-unit lint asyncapi mutation mutation-fresh kafka kafka-stop compare \
	kafka-status postgres postgres-stop postgres-status services services-stop services-status \
	clean demo chaos rollout bench up down logs standins

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# setuptools announces every editable install ("Editable installation."): nothing to act on.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install -q -c requirements.lock -e '.[test]'
	touch $@

install: $(VENV)/.installed  ## create .venv with the project and its test tools, versions from requirements.lock

lock:  ## refresh requirements.lock from pyproject.toml (newest versions that fit), in a clean venv
	rm -rf .run/lock-venv && $(PYTHON) -m venv .run/lock-venv
	.run/lock-venv/bin/pip install -q --upgrade pip
	.run/lock-venv/bin/pip install -q '.[test]'
	.run/lock-venv/bin/pip freeze --exclude-editable | grep -v '^saga-choreography' > requirements.lock
	rm -rf .run/lock-venv build
	@echo "requirements.lock refreshed: run make test, then commit it"

test: install  ## the whole suite on a real broker (Kafka jars fetched only if the local launcher runs)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: install  ## the tests that need no broker: rules, handlers, plumbing, the API (~15 s)
	$(BIN)/python -m pytest tests/unit -q $(PYTEST_ARGS)

lint: install  ## ruff
	$(BIN)/ruff check .

# The AsyncAPI validator (node): versions pinned by devtools/asyncapi/package-lock.json; no
# install scripts run (one of them is telemetry), nothing downloads a browser.
ASYNCAPI_DIR := devtools/asyncapi
$(ASYNCAPI_DIR)/node_modules/.package-lock.json: $(ASYNCAPI_DIR)/package-lock.json
	cd $(ASYNCAPI_DIR) && PUPPETEER_SKIP_DOWNLOAD=1 SCARF_ANALYTICS=false \
		npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

asyncapi: $(ASYNCAPI_DIR)/node_modules/.package-lock.json  ## validate docs/asyncapi.yaml with the official AsyncAPI parser (needs node and npm)
	node $(ASYNCAPI_DIR)/validate.mjs docs/asyncapi.yaml

MUTATION_ARGS ?=
mutation: install  ## how many small breakages of rules and plumbing the unit tests catch (~10 min; a report, not a gate)
	$(BIN)/python -m devtools.mutation $(MUTATION_ARGS)

MUTATION_FILES ?= shared/outbox.py shared/inbox.py
mutation-fresh: install  ## each mutant of MUTATION_FILES against a fresh `pytest tests/unit` (~20 min; a report)
	$(BIN)/python -m devtools.fresh_mutation $(MUTATION_FILES)

SECURE ?=
FRESH ?=
BROKERS ?= 1
# A cluster (BROKERS=3) replicates every topic three times: so do the topics made for SECURE=1.
kafka: $(if $(SECURE),install)  ## local broker in the background; `eval $(make -s kafka)` exports its address; BROKERS=3: a replicated cluster; SECURE=1: TLS, SCRAM, ACLs; FRESH=1: start over (deletes its topics)
	@$(PYTHON) -m localkafka start --port $(KAFKA_PORT) --state-dir $(KAFKA_DIR) --brokers $(BROKERS) \
		$(if $(SECURE),--secure) $(if $(FRESH),--fresh)
	@$(if $(SECURE),SAGA_TOPIC_REPLICATION_FACTOR=$(if $(filter 1,$(BROKERS)),1,3) \
		$(BIN)/python -m devtools.secure setup $(KAFKA_DIR))

kafka-stop:  ## stop the broker (every node) that `make kafka` started
	@$(PYTHON) -m localkafka stop --state-dir $(KAFKA_DIR)

kafka-status:  ## say whether the background broker runs
	@$(PYTHON) -m localkafka status --state-dir $(KAFKA_DIR)

postgres:  ## local PostgreSQL in the background, a role and database per service; `eval $(make -s postgres)` exports SAGA_DATABASE_URL, SAGA_DATABASE_PASSWORD_FILE
	@$(PYTHON) -m localpostgres start --state-dir $(POSTGRES_DIR) $(if $(POSTGRES_PORT),--port $(POSTGRES_PORT))

postgres-stop:  ## stop the PostgreSQL that `make postgres` started
	@$(PYTHON) -m localpostgres stop --state-dir $(POSTGRES_DIR)

postgres-status:  ## say whether the background PostgreSQL runs
	@$(PYTHON) -m localpostgres status --state-dir $(POSTGRES_DIR)

INSTANCES ?= 1
services: install  ## the six services in the background (.run/services/), waits until each is healthy; INSTANCES=2: two processes of each, on PostgreSQL; MODE=orchestrated adds orchestrator_service
	$(BIN)/python -m devtools.services start $(SERVICES_ARGS) --kafka-dir $(KAFKA_DIR) \
		--instances $(INSTANCES) $(if $(MODE),--mode $(MODE))

services-stop:  ## stop the services that `make services` started
	$(BIN)/python -m devtools.services stop $(SERVICES_ARGS)

services-status:  ## say which of the six services (and which of their instances) run
	@$(BIN)/python -m devtools.services status $(SERVICES_ARGS) $(if $(MODE),--mode $(MODE))

clean:  ## remove local state (.run: broker data, databases, PostgreSQL, logs)
	-@$(BIN)/python -m devtools.services stop $(SERVICES_ARGS) 2>/dev/null
	-@$(PYTHON) -m localkafka stop --state-dir $(KAFKA_DIR) 2>/dev/null
	-@$(PYTHON) -m localpostgres stop --state-dir $(POSTGRES_DIR) 2>/dev/null
	rm -rf .run

demo: install  ## every saga path on a real broker and six service processes; SECURE=1 in secure mode; MODE=orchestrated: orchestrator_service commands each step
	$(BIN)/python -m devtools.demo $(if $(SECURE),--secure) $(if $(MODE),--mode $(MODE))

CHAOS_ORDERS ?= 3000
CHAOS_ARGS ?=
chaos: install  ## thousands of orders while services are killed/frozen and the broker restarts; MODE=orchestrated: the orchestrator among them
	$(BIN)/python -m devtools.chaos --orders $(CHAOS_ORDERS) --rate 40 $(if $(MODE),--mode $(MODE)) \
		$(CHAOS_ARGS)

BENCH_ORDERS ?= 10000
BENCH_RATES ?= 50,200,500
BENCH_SECONDS ?= 20
BENCH_BASELINE ?=
# e.g. BENCH_ARGS="--instances 2": also PostgreSQL, one and two instances per service
BENCH_ARGS ?=
rollout: install  ## a step added while sagas run: the release before fraud_service, two instances of each, upgraded one at a time under load (docs/adding-a-step.md)
	$(BIN)/python -m devtools.rollout $(ROLLOUT_ARGS)

bench: install  ## throughput, latency per offered rate, and the raw Kafka floor, on this machine
	$(BIN)/python -m devtools.bench --orders $(BENCH_ORDERS) --rates $(BENCH_RATES) \
		--seconds $(BENCH_SECONDS) $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE)) $(BENCH_ARGS)

COMPARE_ARGS ?=
compare: install  ## the same saga choreographed and orchestrated, one broker, the same load; writes docs/choosing.md (~8 min, a quiet machine)
	$(BIN)/python -m devtools.compare $(COMPARE_ARGS)

# `make up OBSERVABILITY=1` adds Prometheus; SECURE=1 runs the mesh in secure mode (overlay file);
# CLUSTER=1 runs it on three Kafka nodes (profile cluster, its settings in deploy/cluster.env);
# HA=1 adds PostgreSQL and a second replica of every service (overlay file docker-compose.ha.yml).
OBSERVABILITY ?=
CLUSTER ?=
HA ?=
HA_OVERLAY = -f docker-compose.ha.yml
COMPOSE_FILES = $(if $(CLUSTER),--env-file deploy/cluster.env) -f docker-compose.yml \
	$(if $(SECURE),-f docker-compose.secure.yml) $(if $(HA),$(HA_OVERLAY))
# `down` and `logs` reach every profile, and the HA replicas and database wherever HA=1 made
# its material (the overlay names its files).
COMPOSE_ALL = $(COMPOSE) $(COMPOSE_FILES) \
	$(if $(HA),,$(if $(wildcard $(HA_COMPOSE_DIR)/secrets),$(HA_OVERLAY))) \
	--profile observability --profile cluster --profile orchestrated
up: $(if $(SECURE),install)  ## the whole mesh in Docker (monitor included), healthy; OBSERVABILITY=1 Prometheus, SECURE=1, CLUSTER=1 three brokers, HA=1 two replicas of each service on PostgreSQL; MODE=orchestrated the orchestrator runs the saga
	$(if $(and $(SECURE),$(CLUSTER)),$(error SECURE=1 with CLUSTER=1 is not built for compose: use `make kafka BROKERS=3 SECURE=1` and `make services`))
	$(if $(and $(SECURE),$(HA)),$(error SECURE=1 with HA=1 is not built for compose: use `make up SECURE=1`, or `make kafka SECURE=1` and `make postgres` for several instances))
	$(if $(and $(MODE),$(or $(SECURE),$(HA))),$(error MODE=$(MODE) runs with the plain mesh only (its ACLs and replicas follow the choreography): `make up MODE=orchestrated`))
	$(if $(SECURE),$(BIN)/python -m devtools.secure compose $(SECURE_COMPOSE_DIR) --host-port $(KAFKA_HOST_PORT))
	$(if $(HA),$(PYTHON) -m devtools.compose_ha $(HA_COMPOSE_DIR))
	$(if $(MODE),COMPOSE_SAGA_MODE=$(MODE)) $(COMPOSE) $(COMPOSE_FILES) \
		$(if $(OBSERVABILITY),--profile observability) $(if $(CLUSTER),--profile cluster) \
		$(if $(filter orchestrated,$(MODE)),--profile orchestrated) up -d --build
	@$(PYTHON) -m devtools.wait_http http://127.0.0.1:$(ORDER_API_PORT)/health 240 $(COMPOSE_PROJECT_NAME)
	@echo "order API:     http://127.0.0.1:$(ORDER_API_PORT)  (OpenAPI at /docs)"
	@$(if $(HA),echo "               (second replica: http://127.0.0.1:$(ORDER_API_2_PORT))")
	@echo "saga monitor:  http://127.0.0.1:$(MONITOR_PORT)  (JSON under /api/, Prometheus /metrics)"
	@echo "Kafka:         127.0.0.1:$(KAFKA_HOST_PORT)  e.g. .venv/bin/sagactl -b 127.0.0.1:$(KAFKA_HOST_PORT) tail"
	@$(if $(CLUSTER),echo "               (three nodes: also 127.0.0.1:$(KAFKA_2_HOST_PORT) and 127.0.0.1:$(KAFKA_3_HOST_PORT))")
	@$(if $(HA),echo "PostgreSQL:    127.0.0.1:$(POSTGRES_HOST_PORT)  (user admin, password in $(HA_COMPOSE_DIR)/secrets/admin.password)")
	@$(if $(OBSERVABILITY),echo "Prometheus:    http://127.0.0.1:$(PROMETHEUS_PORT)")
	@$(if $(SECURE),echo "secure: sagactl's settings in $(SECURE_COMPOSE_DIR)/clients/sagactl.env (set -a; . that file; set +a)")

down:  ## stop the mesh (every profile, HA too); `make down VOLUMES=1` also deletes its databases and topics
	$(COMPOSE_ALL) down $(if $(VOLUMES),-v)

logs:  ## follow the mesh's logs
	$(COMPOSE_ALL) logs -f --tail=100

standins: install  ## offline machines only: build local stand-ins for python:3.11-slim, apache/kafka and prom/prometheus
	$(BIN)/python -m devtools.standins
