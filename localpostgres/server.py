"""A running PostgreSQL seen from its clients: the settings each service reads, the admin's
address, and fresh databases for tests. Where the server runs (a local process, a container)
and how SQL reaches it as the admin is a subclass's business."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from localpostgres.roles import ADMIN, SERVICES, dropping_sql, ensure_passwords, provisioning_sql

SERVICE = "{service}"


@dataclass(frozen=True)
class Databases:
    """The settings contract of a service's store. Both values may contain ``{service}``, to be
    replaced by the service's name (``str.replace``: a URL may hold other braces), so that one
    exported pair serves every service. The URL names the role and the database, never a
    password; the password is the whole content of the file (no trailing newline)."""

    url: str
    password_file: str

    def url_for(self, service: str) -> str:
        return self.url.replace(SERVICE, service)

    def password_for(self, service: str) -> str:
        return Path(self.password_file.replace(SERVICE, service)).read_text()

    def environment(self) -> dict[str, str]:
        return {"SAGA_DATABASE_URL": self.url, "SAGA_DATABASE_PASSWORD_FILE": self.password_file}

    def exports(self) -> str:
        """One line for ``eval``: both variables set and exported, quoted for the shell."""
        return "export " + " ".join(f"{name}={shlex.quote(value)}"
                                    for name, value in self.environment().items())


class PostgresServer:
    """Guarantees: every service of ``services`` has a login role and a database of the same
    name that it owns and only it (and the admin) may connect to; ``create_databases(prefix)``
    gives each service one more such database, ``<prefix>_<service>``, that no one else has."""

    def __init__(self, host: str, port: int, secrets_dir: Path,
                 services: tuple[str, ...] = SERVICES) -> None:
        self.host, self.port, self.secrets_dir, self.services = host, port, secrets_dir, services

    def run_sql(self, sql: str) -> str:
        """Run a psql script as the admin, in the ``postgres`` database; its output."""
        raise NotImplementedError

    @property
    def url_template(self) -> str:
        return self._url(SERVICE)

    @property
    def password_file_template(self) -> str:
        return str(self.secrets_dir.resolve() / f"{SERVICE}.password")

    @property
    def databases(self) -> Databases:
        return Databases(self.url_template, self.password_file_template)

    def admin_url(self, database: str = "postgres") -> str:
        """With the admin's password in it: for tools and tests, never for a command line."""
        password = quote(self.passwords()[ADMIN], safe="")
        return f"postgresql://{ADMIN}:{password}@{self.host}:{self.port}/{database}"

    def passwords(self) -> dict[str, str]:
        return ensure_passwords(self.secrets_dir, (ADMIN, *self.services))

    def provision(self) -> None:
        """Roles, passwords and the services' own databases; safe to repeat."""
        self.run_sql(provisioning_sql(self.passwords(), {name: name for name in self.services}))

    def create_databases(self, prefix: str) -> Databases:
        """A fresh database per service, ``<prefix>_<service>``, owned by the service's role."""
        self.run_sql(provisioning_sql({}, {f"{prefix}_{name}": name for name in self.services}))
        return Databases(self._url(f"{prefix}_{SERVICE}"), self.password_file_template)

    def drop_databases(self, prefix: str) -> None:
        self.run_sql(dropping_sql([f"{prefix}_{name}" for name in self.services]))

    def _url(self, database: str) -> str:
        return f"postgresql://{SERVICE}@{self.host}:{self.port}/{database}"
