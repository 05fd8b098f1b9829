"""A service's own PostgreSQL database, shared by every instance of the service.

* The same writer-thread shape as SQLite: one write connection per instance, one transaction
  per batch (a savepoint per event when it is decided stepwise: ``shared.processing``);
  ``synchronous_commit`` stays on (a committed row is on disk), except where losing a commit
  only repeats work (marking outbox rows sent).
* READ COMMITTED, with the rows a handler is about to change locked first (``FOR UPDATE``,
  in a fixed order): two instances reserving the last unit of one SKU, or charging one
  customer, take turns and never lose an update. A lock conflict — a deadlock (two
  instances' batches lock the same rows in different orders), or a lock waited for longer
  than ``LOCK_TIMEOUT`` — rolls back the whole transaction, not only the event's savepoint:
  its earlier events' locks go with it, so the other instance's batch goes on, and this
  batch is decided again from the start (PostgreSQL's advice for a deadlock). Rolling back
  only the savepoint kept those locks: the two batches met again at each further event, a
  second of deadlock detection each time, and each time an event went to the retry queue.
* Migrations run in one transaction under an advisory lock: instances starting at once take
  turns, and each finds what the first one made.
* An instance holds a session advisory lock named after it for as long as it runs: a second
  process with the same instance name refuses to start instead of fencing the first out of
  its consumer group.
* A lost connection fails the batch it was in (nothing of it is decided; the consumer reads
  it again); the next transaction opens a new connection.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from shared.store.base import Database, InstanceInUse, StoreUnreachable

log = logging.getLogger(__name__)

LOCK_TIMEOUT = "10s"
#: Errors that mean another transaction holds what this one waits for.
LOCK_CONFLICTS = (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable)
_OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR, TransactionStatus.ACTIVE)


@functools.lru_cache(maxsize=2048)
def to_postgres(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (and ``%`` to ``%%``), outside string literals."""
    out, quoted = [], False
    for char in sql:
        if char == "'":
            quoted = not quoted
        out.append("%%" if char == "%" else "%s" if char == "?" and not quoted else char)
    return "".join(out)


class PostgresDatabase(Database):
    dialect = "postgres"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, password: str | None, *, read_only: bool = False) -> None:
        self.url, self.password, self.read_only = url, password, read_only
        if read_only:  # a reader changes nothing, so it locks nothing
            self.for_update = self.skip_locked = ""
        self.conn = self._connect()

    def _connect(self) -> psycopg.Connection:
        options = f"-c lock_timeout={LOCK_TIMEOUT}"
        if self.read_only:
            options += " -c default_transaction_read_only=on"
        return connect(self.url, self.password, options=options)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        return self.conn.execute(to_postgres(sql), params or None)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(to_postgres(sql), list(rows))

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status in _OPEN

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[PostgresDatabase]:
        if self.conn.broken or self.conn.closed:
            self.conn = self._connect()
        self.conn.execute("BEGIN")
        try:
            if not durable:
                self.conn.execute("SET LOCAL synchronous_commit TO off")
            yield self
            self.conn.execute("COMMIT")
        except BaseException:
            if self.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def savepoint(self, joinable: bool = False) -> Iterator[str]:
        """As any savepoint, except that a lock conflict rolls back the whole transaction
        (see the module's docstring): the caller sees it gone, as after a lost connection."""
        with self._whole_on_lock_conflict(), super().savepoint(joinable) as name:
            yield name

    @contextmanager
    def unguarded_step(self) -> Iterator[None]:
        """As any unguarded step; a lock conflict rolls back the whole transaction (as in a
        savepoint), so that the batch is read again later instead of decided again at once."""
        with self._whole_on_lock_conflict(), super().unguarded_step():
            yield

    @contextmanager
    def _whole_on_lock_conflict(self) -> Iterator[None]:
        try:
            yield
        except LOCK_CONFLICTS:
            if self.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def table_names(self) -> set[str]:
        return {name for (name,) in self.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()}

    def columns(self, table: str) -> list[str]:
        return [name for (name,) in self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()]

    def close(self) -> None:
        self.conn.close()


def connect(url: str, password: str | None, **options: Any) -> psycopg.Connection:
    try:
        return psycopg.connect(url, password=password, autocommit=True, connect_timeout=10,
                               **options)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise StoreUnreachable(f"PostgreSQL at {describe(url)}: {reason}") from None


def describe(url: str) -> str:
    """The address without a password: for log lines and errors."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"postgresql://{info.get('user', '')}@{info.get('host', '')}:" \
           f"{info.get('port', 5432)}/{info.get('dbname', '')}"


class PostgresStore:
    dialect = "postgres"

    def __init__(self, url: str, password: str | None) -> None:
        self.url, self.password = url, password
        self._instance_lock: psycopg.Connection | None = None

    def open_writer(self, wait: float = 60.0) -> PostgresDatabase:
        """The first connection waits for a database that is still starting (compose)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return PostgresDatabase(self.url, self.password)
            except StoreUnreachable as error:
                if time.monotonic() > deadline:
                    raise
                log.warning("waiting for the database", extra={"reason": str(error)})
                time.sleep(1.0)

    def open_reader(self) -> PostgresDatabase:
        return PostgresDatabase(self.url, self.password, read_only=True)

    @contextmanager
    def migrating(self, db: Database) -> Iterator[None]:
        """Instances starting at once create the tables in turn, each in one transaction."""
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(hashtextextended('saga-migrations', 0))")
            yield

    def claim_instance(self, service: str, instance: str) -> None:
        """Hold a lock named after this instance on a connection of its own, for as long as
        the process runs (the server lets it go when the process dies)."""
        connection = connect(self.url, self.password)
        name = f"saga-instance:{service}/{instance}"
        if not connection.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                  [name]).fetchone()[0]:
            connection.close()
            raise InstanceInUse(
                f"another process already runs {service} as instance {instance!r}: give each "
                "instance its own name (SAGA_GROUP_INSTANCE_ID), or two of them would fence each "
                "other out of their consumer group")
        self._instance_lock = connection

    def release_instance(self) -> None:
        if self._instance_lock is not None:
            self._instance_lock.close()
            self._instance_lock = None

    def describe(self) -> str:
        return describe(self.url)
