"""Each service's own SQLite database, opened with durability settings that matter.

* WAL journal: readers (the HTTP API, the relay) never block the writer.
* ``synchronous=FULL``: a committed inbox/outbox row survives a process kill
  *and* an OS crash. NORMAL would survive only the former, and a lost outbox
  row after the offset commit would be an event lost for good.
* Write transactions start with ``BEGIN IMMEDIATE``: they take the write lock
  up front instead of failing with SQLITE_BUSY when a deferred one upgrades.
* A busy timeout lets a second connection wait instead of erroring.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

BUSY_TIMEOUT_SECONDS = 10.0


def open_database(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed) a file database, or ``":memory:"`` for tests."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
    # No implicit transactions: a statement outside write_transaction() commits on its own,
    # and one inside belongs to exactly that transaction.
    connection.isolation_level = None
    db = sqlite_utils.Database(connection)
    if str(path) != ":memory:":
        db.enable_wal()
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """All or nothing; sqlite-utils calls inside become savepoints of this transaction."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.conn.execute("COMMIT")


def create_table(db: sqlite_utils.Database, name: str, columns: dict, pk: str | tuple[str, ...],
                 **options: object) -> None:
    """Create a table once; schemas are owned by the code that uses them."""
    if name not in db.table_names():
        db[name].create(columns, pk=pk, **options)
