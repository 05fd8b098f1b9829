"""PostgreSQL for a devtool's mesh of several instances per service: the databases
``SAGA_DATABASE_URL`` names (``eval $(make -s postgres)``), else a local server of its own."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from localpostgres import LocalPostgres
from shared.settings import Settings


@contextlib.contextmanager
def service_databases(state_dir: Path, say: Callable[[str], None] = lambda message: None
                      ) -> Iterator[dict[str, str]]:
    """The ``SAGA_DATABASE_*`` settings that give each service its own database: those of the
    environment as they are, or those of a PostgreSQL started in ``state_dir`` (its data kept
    there) and stopped when the block ends."""
    settings = Settings()
    if settings.database_url:
        yield {"SAGA_DATABASE_URL": settings.database_url,
               **({"SAGA_DATABASE_PASSWORD_FILE": settings.database_password_file}
                  if settings.database_password_file else {})}
        return
    say(f"starting PostgreSQL (data in {state_dir})")
    with LocalPostgres(state_dir) as server:
        yield server.databases.environment()
