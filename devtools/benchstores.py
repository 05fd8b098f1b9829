"""Where `make bench` keeps the services' state: SQLite, one instance per service (the default,
what `current` and `baseline` measure), and with ``--instances N`` PostgreSQL with one and
with N instances per service, measured in the same run on the same broker.

Each PostgreSQL configuration gets fresh databases (``bench_<configuration>_<service>``) on a
PostgreSQL server started for the run from Debian's binaries, durable (fsync on) as the
services' SQLite is (``synchronous=FULL``). When ``SAGA_DATABASE_URL`` is set, both use the
databases it names as they are (the bench is not that server's admin, so it cannot make
fresh ones); every order id then starts with the configuration's own topic prefix, so that
no two runs' orders meet. The server's own CPU — the postmaster and its backends, from
/proc — is measured only for a server started here; elsewhere it is unknown (``-``).
"""

from __future__ import annotations

from dataclasses import dataclass

from devtools.benchkit import tree_cpu_seconds
from localpostgres import LocalPostgres
from shared.settings import Settings

#: For the SQLite configurations: a SAGA_DATABASE_URL in the bench's environment is for the
#: PostgreSQL ones, and must not reach these services.
SQLITE_ENVIRONMENT: dict[str, str | None] = {"SAGA_DATABASE_URL": None,
                                             "SAGA_DATABASE_PASSWORD_FILE": None}


@dataclass(frozen=True)
class Configuration:
    label: str                # the run's key in bench.json and the table's column
    store: str = "sqlite"     # or "postgres"
    instances: int = 1        # processes per service
    monitored: bool = True    # with the saga monitor's burst (only where the monitor is compared)

    def describe(self) -> str:
        return f"{self.store}, {self.instances} instance{'s' if self.instances > 1 else ''} " \
               "per service"


BASELINE = Configuration("baseline")
CURRENT = Configuration("current")


def postgres_configurations(instances: int | None) -> list[Configuration]:
    """``--instances N``: PostgreSQL with one instance per service and with N (only one
    configuration for N = 1); none without the option."""
    if not instances:
        return []
    return [Configuration(f"postgres-{n}", "postgres", n, monitored=False)
            for n in sorted({1, instances})]


class BenchPostgres:
    """The PostgreSQL the configurations run on: a fresh local server for the run unless
    ``settings.database_url`` names one; stopped (and its files removed) on exit."""

    def __init__(self, settings: Settings) -> None:
        self.url, self.password_file = settings.database_url, settings.database_password_file
        self.server: LocalPostgres | None = None

    def __enter__(self) -> BenchPostgres:
        if not self.url:
            self.server = LocalPostgres(durable=True)
            self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.server is not None:
            self.server.stop()

    def describe(self) -> str:
        if self.server is None:
            return f"the databases of SAGA_DATABASE_URL ({self.url}), as they are"
        return f"a local server on port {self.server.port}, fresh databases per configuration"

    def environment(self, configuration: Configuration) -> dict[str, str | None]:
        """The services' settings for one configuration's databases."""
        if self.server is None:
            return {"SAGA_DATABASE_URL": self.url,
                    "SAGA_DATABASE_PASSWORD_FILE": self.password_file}
        prefix = "bench_" + configuration.label.replace("-", "_")
        return dict(self.server.create_databases(prefix).environment())

    def cpu_seconds(self) -> float | None:
        """The server's CPU so far, or None where it runs elsewhere."""
        return None if self.server is None else tree_cpu_seconds(self.server.process.pid)
