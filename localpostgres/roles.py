"""Who may log in where: an admin superuser, and a role and a database per service.

Guarantees: a password is made once per secrets directory and kept, so a restart leaves every
client's credentials valid. It lives only in a 0600 file in a 0700 directory, and reaches the
server as a SCRAM-SHA-256 verifier, never as plain text: neither a command line nor the server's
log ever holds it. A service role owns its own database and nothing else, and CONNECT is revoked
from PUBLIC on every database, so a role reaches only the database it owns; the admin, a
superuser, reaches all of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

ADMIN = "admin"
#: A role and a database per service, both named like the service (a unit test keeps this equal
#: to participants.SERVICES and the orchestrator, which runs only with SAGA_MODE=orchestrated).
#: Add a name here, and the next start provisions it.
SERVICES = ("order_service", "inventory_service", "fraud_service", "payment_service",
            "shipping_service", "notification_service", "orchestrator_service")
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def ensure_passwords(directory: Path, roles: tuple[str, ...]) -> dict[str, str]:
    """role → password, each from ``<directory>/<role>.password``, made where missing."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    for role in roles:
        path = directory / f"{role}.password"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(24))
    return {role: (directory / f"{role}.password").read_text() for role in roles}


def write_private(path: Path, text: str) -> None:
    """Created 0600: readable by its owner only from its first byte (no chmod afterwards)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 7677), as ``\\password`` of psql
    computes it; ALTER ROLE … PASSWORD stores such a string as it is."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return (f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}")


def provisioning_sql(passwords: dict[str, str], databases: dict[str, str]) -> str:
    """A psql script, safe to run again: every role in ``passwords`` may log in with its
    password; every database in ``databases`` (name → owning role) exists, reachable by its
    owner only (and by superusers)."""
    lines = ["REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;",
             "REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;"]
    for role, password in passwords.items():
        _check(role)
        lines += [f"SELECT 'CREATE ROLE \"{role}\"' WHERE NOT EXISTS "
                  f"(SELECT FROM pg_roles WHERE rolname = '{role}')\\gexec",
                  f"ALTER ROLE \"{role}\" WITH LOGIN PASSWORD '{scram_verifier(password)}';"]
    for database, owner in databases.items():
        _check(database, owner)
        lines += [f"SELECT 'CREATE DATABASE \"{database}\" OWNER \"{owner}\"' WHERE NOT EXISTS "
                  f"(SELECT FROM pg_database WHERE datname = '{database}')\\gexec",
                  f"REVOKE ALL ON DATABASE \"{database}\" FROM PUBLIC;"]
    return "\n".join(lines) + "\n"


def dropping_sql(databases: list[str]) -> str:
    """Each database gone, even while clients are still connected to it."""
    _check(*databases)
    return "".join(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);\n' for name in databases)


def _check(*names: str) -> None:
    """Names go into SQL as they are: only plain lower-case identifiers are allowed."""
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a plain PostgreSQL name "
                             "(a-z, 0-9 and _, not starting with a digit, at most 63 characters)")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
