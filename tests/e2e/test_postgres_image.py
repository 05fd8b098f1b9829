"""The postgres:15 image — the official one, or the stand-in built from Debian's package where no
registry answers — keeps the contract that compose and testcontainers rely on."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devtools.processes import free_port
from devtools.standins import POSTGRES
from tests.support.docker_engine import docker_engine, ensure_base_images
from tests.support.waiting import until

pytestmark = pytest.mark.e2e

SCHEMA_SQL = "CREATE TABLE greeting (word text);\nINSERT INTO greeting VALUES ('hello');\n"
# As the official image's documentation shows: a script talks to the server with psql.
MORE_SH = """#!/bin/bash
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<-EOSQL
  INSERT INTO greeting VALUES ('from a script run by $(id -un)');
EOSQL
"""


def test_the_image_initialises_once_from_its_environment_and_init_scripts(tmp_path):
    with docker_engine():
        ensure_base_images((POSTGRES,))
        with _container(tmp_path) as (name, port):
            with _connect(port) as connection:
                rows = connection.execute("SELECT word FROM greeting").fetchall()
            assert rows == [("hello",), ("from a script run by postgres",)]
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                _connect(port, password="not the password")

            subprocess.run(["docker", "restart", name], check=True, capture_output=True)
            _until_ready(name)
            with _connect(port) as connection:
                assert connection.execute("SELECT count(*) FROM greeting").fetchone() == (2,)
            assert _in_container(name, "test", "-s", "/var/lib/postgresql/data/PG_VERSION")


@contextlib.contextmanager
def _container(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """Initialised with the _FILE variant of the password (a 0600 file, read as root, as Docker
    secrets are), a database of its own and two init scripts; published on loopback only."""
    init = tmp_path / "init"
    init.mkdir(mode=0o755)
    init.chmod(0o755)
    (init / "01-schema.sql").write_text(SCHEMA_SQL)
    (init / "02-more.sh").write_text(MORE_SH)
    for script in init.iterdir():
        script.chmod(0o755)
    (tmp_path / "password").write_text("s3cret pw")
    (tmp_path / "password").chmod(0o600)
    name, port = f"saga-postgres-{uuid.uuid4().hex[:8]}", free_port()
    subprocess.run(["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:5432",
                    "-e", "POSTGRES_USER=saga", "-e", "POSTGRES_DB=shop",
                    "-e", "POSTGRES_PASSWORD_FILE=/run/secrets/password",
                    "-v", f"{tmp_path / 'password'}:/run/secrets/password:ro",
                    "-v", f"{init}:/docker-entrypoint-initdb.d:ro", POSTGRES],
                   check=True, capture_output=True)
    try:
        _until_ready(name)
        yield name, port
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)


def _until_ready(name: str) -> None:
    # Over TCP: during initialisation only the socket answers, so this sees the final server.
    until(lambda: _in_container(name, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "saga",
                                "-d", "shop"), timeout=120, what=f"{name} ready")


def _in_container(name: str, *command: str) -> bool:
    return subprocess.run(["docker", "exec", name, *command], capture_output=True).returncode == 0


def _connect(port: int, password: str = "s3cret pw") -> psycopg.Connection:
    return psycopg.connect(f"postgresql://saga@127.0.0.1:{port}/shop", password=password,
                           connect_timeout=10)
