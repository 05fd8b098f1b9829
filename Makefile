# One entry point for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
KAFKA_PORT ?= 9092
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
ORDER_API_PORT ?= 8000
KAFKA_HOST_PORT ?= 9094
COMPOSE_PROJECT_NAME ?= saga
export ORDER_API_PORT KAFKA_HOST_PORT COMPOSE_PROJECT_NAME
# Prefer the compose plugin; fall back to the standalone docker-compose.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

.PHONY: help install test lint mutation kafka kafka-stop kafka-status clean demo chaos bench up up-monitor down logs standins

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the project with its test extras

test: install  ## run the whole test suite against a real Kafka broker
	$(BIN)/python -m localkafka fetch >/dev/null
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install  ## ruff
	$(BIN)/ruff check .

MUTATION_ARGS ?=
mutation: install  ## mutation testing of the rules and plumbing against the unit tests (~10 min; a report, not a gate)
	$(BIN)/python -m devtools.mutation $(MUTATION_ARGS)

kafka:  ## start a local Kafka broker in the background (no Docker); prints KAFKA_BOOTSTRAP_SERVERS=...
	@$(PYTHON) -m localkafka start --port $(KAFKA_PORT)

kafka-stop:  ## stop the broker that `make kafka` started
	@$(PYTHON) -m localkafka stop

kafka-status:  ## say whether the background broker runs
	@$(PYTHON) -m localkafka status

clean:  ## remove local state (.run: broker data, databases, logs)
	-@$(PYTHON) -m localkafka stop 2>/dev/null
	rm -rf .run

demo: install  ## every saga path on a real broker and five service processes; exits 1 on a surprise
	$(BIN)/python -m devtools.demo

CHAOS_ORDERS ?= 3000
CHAOS_ARGS ?=
chaos: install  ## thousands of orders while services are killed/frozen and the broker restarts
	$(BIN)/python -m devtools.chaos --orders $(CHAOS_ORDERS) --rate 40 $(CHAOS_ARGS)

BENCH_ORDERS ?= 10000
BENCH_RATES ?= 50,200,500
BENCH_SECONDS ?= 20
BENCH_BASELINE ?=
bench: install  ## throughput, latency per offered rate, and the raw Kafka floor, on this machine
	$(BIN)/python -m devtools.bench --orders $(BENCH_ORDERS) --rates $(BENCH_RATES) \
		--seconds $(BENCH_SECONDS) $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))

up:  ## build and start the whole mesh in Docker, wait until healthy, print where it is
	$(COMPOSE) up -d --build
	@$(PYTHON) -m devtools.wait_http http://127.0.0.1:$(ORDER_API_PORT)/health 240 $(COMPOSE_PROJECT_NAME)
	@echo "order API:  http://127.0.0.1:$(ORDER_API_PORT)  (OpenAPI at /docs)"
	@echo "Kafka:      127.0.0.1:$(KAFKA_HOST_PORT)  e.g. .venv/bin/sagactl -b 127.0.0.1:$(KAFKA_HOST_PORT) tail"

up-monitor:  ## also start the faust saga monitor (compose profile "monitor") on :8005
	$(COMPOSE) --profile monitor up -d --build saga-monitor
	@$(PYTHON) -m devtools.wait_http http://127.0.0.1:$${MONITOR_PORT:-8005}/stats/ 240
	@echo "saga monitor: http://127.0.0.1:$${MONITOR_PORT:-8005}/stats/ and /sagas/<order_id>/"

down:  ## stop the mesh; `make down VOLUMES=1` also deletes its databases and topics
	$(COMPOSE) --profile monitor down $(if $(VOLUMES),-v)

logs:  ## follow the mesh's logs
	$(COMPOSE) logs -f --tail=100

standins: install  ## offline machines only: build local stand-ins for python:3.11-slim and apache/kafka
	$(BIN)/python -m devtools.standins
