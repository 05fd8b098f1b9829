"""A local PostgreSQL server — a role and a database per service — from the machine's own
binaries, for development and tests."""

from localpostgres.errors import LocalPostgresError
from localpostgres.launcher import LocalPostgres
from localpostgres.roles import ADMIN, SERVICES
from localpostgres.server import Databases, PostgresServer

__all__ = ["ADMIN", "SERVICES", "Databases", "LocalPostgres", "LocalPostgresError",
           "PostgresServer"]
