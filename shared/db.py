"""Each service's own SQLite database, opened with durability settings that matter.

* WAL journal: readers (the HTTP views, on their own read-only connections) never block
  the writer, and the writer never blocks them.
* ``synchronous=FULL``: a committed inbox/outbox row survives a process kill *and* an OS
  crash. NORMAL would survive only the former, and a lost outbox row after the offset
  commit would be an event lost for good. Group commit makes FULL cheap: one fsync per
  batch of events, not per event.
* Write transactions start with ``BEGIN IMMEDIATE``; units of work inside them are
  savepoints, so one failing event rolls back only its own effects.
* A busy timeout lets a second connection wait instead of erroring.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

BUSY_TIMEOUT_SECONDS = 10.0
_savepoint_names = itertools.count()


def open_database(path: Path | str) -> sqlite_utils.Database:
    """The write connection: a file database (created if needed), or ``":memory:"``."""
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


def open_reader(path: Path | str) -> sqlite_utils.Database:
    """A read-only connection to a file database that a writer has created."""
    connection = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True,
                                 timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
    connection.isolation_level = None  # pragma: no mutate (it never writes: no transactions)
    return sqlite_utils.Database(connection)


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """All or nothing; savepoints inside belong to this transaction. SQLite itself rolls the
    whole transaction back on some errors (disk full, I/O error): then there is nothing left
    to roll back, and the error is what the caller sees."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:  # also after a failed COMMIT, or the next BEGIN fails
            db.conn.execute("ROLLBACK")
        raise


@contextmanager
def savepoint(db: sqlite_utils.Database) -> Iterator[None]:
    """A nested all-or-nothing step; outside a transaction it is a transaction of its own."""
    name = f"sp{next(_savepoint_names)}"
    db.conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        roll_back_to(db, name)
        raise
    db.conn.execute(f"RELEASE {name}")


def roll_back_to(db: sqlite_utils.Database, name: str) -> None:
    """Undo a savepoint's work — unless SQLite already rolled back the whole transaction
    (disk full, I/O error), which took the savepoint with it."""
    if db.conn.in_transaction:
        db.conn.execute(f"ROLLBACK TO {name}")
        db.conn.execute(f"RELEASE {name}")


def create_table(db: sqlite_utils.Database, name: str, columns: dict,
                 pk: str | tuple[str, ...]) -> None:
    """Create a table once, and add columns a newer version declares to an existing one."""
    if name not in db.table_names():
        db[name].create(columns, pk=pk)
        return
    existing = db[name].columns_dict
    for column, kind in columns.items():
        if column not in existing:
            db[name].add_column(column, kind)
