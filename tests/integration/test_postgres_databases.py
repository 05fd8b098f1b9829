"""The session's PostgreSQL (the local launcher, or a container with SAGA_TEST_POSTGRES=
testcontainers): each service reaches its own database only, and each test gets its own."""

from __future__ import annotations

import psycopg
import pytest

from localpostgres import SERVICES
from tests.support.postgres import connect


def test_each_service_role_reaches_its_own_database_and_is_refused_on_every_other(postgres):
    databases = postgres.databases
    for service in SERVICES:
        with connect(databases, service) as connection:
            assert connection.execute("SELECT current_user, current_database()").fetchone() == (
                service, service)
        for other in (name for name in SERVICES if name != service):
            with pytest.raises(psycopg.OperationalError, match="does not have CONNECT privilege"):
                connect(databases, service, to=other)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(databases, "order_service", password="not-the-password")


def test_a_service_role_reaches_no_database_of_the_server_itself(postgres):
    for database in ("postgres", "template1"):
        with pytest.raises(psycopg.OperationalError, match="does not have CONNECT privilege"):
            psycopg.connect(postgres.url_template.replace("{service}", "order_service", 1)
                            .rsplit("/", 1)[0] + f"/{database}",
                            password=postgres.databases.password_for("order_service"))


def test_the_admin_reaches_every_service_database(postgres):
    for service in SERVICES:
        with psycopg.connect(postgres.admin_url(service)) as connection:
            assert connection.execute("SELECT rolsuper FROM pg_roles WHERE rolname = "
                                      "current_user").fetchone() == (True,)


def test_a_tests_databases_are_its_own_and_gone_once_dropped(postgres):
    databases = postgres.create_databases("tfresh")
    try:
        with connect(databases, "inventory_service") as connection:
            assert connection.execute("SELECT current_database()").fetchone() == (
                "tfresh_inventory_service",)
            connection.execute("CREATE TABLE stock (sku text)")
        with pytest.raises(psycopg.OperationalError, match="does not have CONNECT privilege"):
            connect(databases, "payment_service", to="inventory_service")
    finally:
        postgres.drop_databases("tfresh")
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        connect(databases, "inventory_service")


def test_postgres_databases_gives_every_test_fresh_settings(postgres_databases):
    assert postgres_databases.environment()["SAGA_DATABASE_URL"].endswith("_{service}")
    with connect(postgres_databases, "notification_service") as connection:
        assert connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                                  ).fetchone() == (0,)
