"""A service's own SQLite file, opened with durability settings that matter.

* WAL journal: readers (the HTTP views, on their own read-only connections) never block
  the writer, and the writer never blocks them.
* ``synchronous=FULL``: a committed inbox/outbox row survives a process kill *and* an OS
  crash. NORMAL would survive only the former, and a lost outbox row after the offset
  commit would be an event lost for good. Group commit makes FULL cheap: one fsync per
  batch of events, not per event.
* Write transactions start with ``BEGIN IMMEDIATE``; units of work inside them are
  savepoints, so one failing event rolls back only its own effects.
* A busy timeout lets a second connection wait instead of erroring.
* One file, one running instance: a second process on the same file refuses to start (a lock
  beside the file). Several instances of a service need PostgreSQL (``SAGA_DATABASE_URL``).

sqlite-utils is kept for what it is best at: creating and migrating tables, and tests that
look at a table; the hot path runs on the sqlite3 connection itself.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from shared.store.base import Database, InstanceInUse

BUSY_TIMEOUT_SECONDS = 10.0


class SqliteDatabase(sqlite_utils.Database, Database):
    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        # The hot path's statements go straight to sqlite3: no layer in between.
        self.execute = connection.execute
        self.executemany = connection.executemany

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[SqliteDatabase]:
        if not durable:  # the safety level may not change inside a transaction
            self.conn.execute("PRAGMA synchronous=NORMAL")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:  # also after a failed COMMIT
                    self.conn.execute("ROLLBACK")
                raise
        finally:
            if not durable:
                self.conn.execute("PRAGMA synchronous=FULL")

    def table_names(self) -> set[str]:  # type: ignore[override]
        return set(super().table_names())

    def columns(self, table: str) -> list[str]:
        return list(self[table].columns_dict)

    def close(self) -> None:
        self.conn.close()


def open_database(path: Path | str) -> SqliteDatabase:
    """The write connection: a file database (created if needed), or ``":memory:"``."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
    # No implicit transactions: a statement outside a transaction commits on its own, and one
    # inside belongs to exactly that transaction.
    connection.isolation_level = None
    db = SqliteDatabase(connection)
    if str(path) != ":memory:":
        db.enable_wal()
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def open_reader(path: Path | str) -> SqliteDatabase:
    """A read-only connection to a file database that a writer has created."""
    connection = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True,
                                 timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
    connection.isolation_level = None  # pragma: no mutate (it never writes: no transactions)
    return SqliteDatabase(connection)


class SqliteStore:
    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        self._lock: int | None = None

    def open_writer(self) -> SqliteDatabase:
        return open_database(self.path)

    def open_reader(self) -> SqliteDatabase:
        return open_reader(self.path)

    @contextmanager
    def migrating(self, db: Database) -> Iterator[None]:
        yield  # one instance per file: nobody migrates beside it

    def claim_instance(self, service: str, instance: str) -> None:
        """Hold the file's lock for as long as this process runs; refuse if another holds it."""
        if not isinstance(self.path, Path):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise InstanceInUse(
                f"another {service} already runs on {self.path}: on SQLite a service runs once; "
                "for several instances give them one PostgreSQL database (SAGA_DATABASE_URL)"
            ) from None
        self._lock = descriptor

    def release_instance(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    def describe(self) -> str:
        return str(self.path)
