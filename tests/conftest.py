"""One real Kafka broker, and one real PostgreSQL, for the whole test session.

Chosen in this order: ``KAFKA_BOOTSTRAP_SERVERS`` when set (nothing is
started); a testcontainers ``apache/kafka`` container when a Docker engine
answers and has (or can pull) the image; otherwise the local launcher from the Maven jars.
``SAGA_TEST_BROKER=local|testcontainers`` forces one of the last two.
Tests isolate themselves with a unique topic prefix and consumer groups.

PostgreSQL: the local launcher from the machine's binaries (fast, no image), or with
``SAGA_TEST_POSTGRES=testcontainers`` a ``postgres`` container. Tests that need databases take
``postgres_databases``: fresh ones of their own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from localkafka import LocalKafka
from localpostgres import Databases, LocalPostgres, LocalPostgresError, PostgresServer
from tests.support.kafka_container import (
    apache_kafka_container,
    docker_answers,
    image_available,
)
from tests.support.postgres_container import postgres_container


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test carries the marker of its folder: `-m unit`, `-m integration`, `-m e2e`."""
    for item in items:
        kind = item.path.parent.name
        if kind in ("unit", "integration", "e2e"):
            item.add_marker(kind)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    choice = os.environ.get("SAGA_TEST_BROKER", "auto")
    if choice not in ("auto", "local", "testcontainers"):
        raise pytest.UsageError(f"SAGA_TEST_BROKER must be auto, local or testcontainers: {choice!r}")
    if choice == "testcontainers" or (choice == "auto" and docker_answers()
                                      and image_available()):
        with apache_kafka_container() as bootstrap:
            yield bootstrap
    else:
        with LocalKafka() as broker:
            yield broker.bootstrap_servers


@pytest.fixture
def topic_prefix() -> str:
    """A prefix no other test uses, so one broker serves every test in isolation."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    choice = os.environ.get("SAGA_TEST_POSTGRES", "local")
    if choice not in ("local", "testcontainers"):
        raise pytest.UsageError(f"SAGA_TEST_POSTGRES must be local or testcontainers: {choice!r}")
    if choice == "testcontainers":
        with postgres_container() as server:
            yield server
        return
    try:
        server = LocalPostgres(durable=False)
        server.start()
    except LocalPostgresError as error:
        pytest.fail(f"the local PostgreSQL could not start: {error}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_databases(postgres: PostgresServer) -> Iterator[Databases]:
    """A database per service that no other test uses, owned by the service's role: the
    settings a mesh's services read (``.environment()``). Dropped after the test."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    databases = postgres.create_databases(prefix)
    yield databases
    postgres.drop_databases(prefix)
