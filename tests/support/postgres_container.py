"""The official ``postgres`` image (or its local stand-in) as testcontainers' PostgresContainer,
provisioned as the local launcher provisions its server: an admin, and a role and a database
per service, the passwords in 0600 files on the host."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from devtools.processes import free_port
from devtools.standins import POSTGRES
from localpostgres import ADMIN, PostgresServer
from localpostgres.roles import ensure_passwords
from tests.support.kafka_container import image_available


class ContainerPostgres(PostgresServer):
    def __init__(self, container_id: str, host_port: int, secrets_dir: Path) -> None:
        super().__init__("127.0.0.1", host_port, secrets_dir)
        self.container_id = container_id

    def run_sql(self, sql: str) -> str:
        """psql inside the container, over its socket (the image trusts local connections)."""
        result = subprocess.run(["docker", "exec", "-i", self.container_id, "psql", "-X", "-q",
                                 "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", ADMIN, "-d", "postgres"],
                                input=sql, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"psql in container {self.container_id[:12]} failed: "
                               f"{result.stderr.strip()}")
        return result.stdout


@contextlib.contextmanager
def postgres_container(image: str = POSTGRES) -> Iterator[ContainerPostgres]:
    if not image_available(image):
        raise RuntimeError(f"{image} is not here and cannot be pulled: build its stand-in "
                           "with `make standins`")
    # Ryuk (the reaper container) cannot be pulled without a registry; the with-block below
    # removes the container instead.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.community.postgres import PostgresContainer

    with tempfile.TemporaryDirectory(prefix="postgres-secrets-") as secrets:
        password = ensure_passwords(Path(secrets), (ADMIN,))[ADMIN]
        container = PostgresContainer(image, username=ADMIN, password=password,
                                      dbname="postgres", driver=None)
        # As the local launcher for tests: a throwaway server needs no fsync (docs/testing.md).
        container.with_command("postgres -c fsync=off")
        host_port = free_port()
        # Published on loopback only; the default would bind every interface.
        container.ports[5432] = ("127.0.0.1", host_port)
        with container:
            server = ContainerPostgres(container.get_wrapped_container().id, host_port,
                                       Path(secrets))
            server.provision()
            yield server
