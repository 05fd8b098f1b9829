"""Connecting to the test PostgreSQL as a service would, and watching its processes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psycopg

from localpostgres import Databases


def connect(databases: Databases, service: str, *, to: str | None = None,
            password: str | None = None) -> psycopg.Connection:
    """As ``service``'s role, with its password file (or ``password``), to its own database or
    to the one ``databases`` gives service ``to``."""
    return psycopg.connect(databases.url_for(to or service), user=service, connect_timeout=10,
                           password=password or databases.password_for(service), autocommit=True)


def server_processes(postmaster: int) -> list[int]:
    """The postmaster and its children (checkpointer, walwriter, sessions, …)."""
    return [postmaster, *(pid for pid, stat in proc_files("stat").items()
                          if int(stat.split(b")")[-1].split()[1]) == postmaster)]


def proc_files(name: str) -> dict[int, bytes]:
    """pid → /proc/<pid>/<name> of every process that still runs while this reads it."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                found[int(entry)] = Path("/proc", entry, name).read_bytes()
    return found
