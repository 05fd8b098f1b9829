"""What every store offers: connections that run the shared SQL, transactions and savepoints.

Guarantees of :meth:`Database.transaction`: all or nothing; a savepoint inside it belongs to
it. A database may itself roll back the whole transaction on some errors (SQLite on a full
disk, PostgreSQL when the connection is lost or on a lock conflict with another instance):
then there is nothing left to roll back, and the error is what the caller sees.
``durable=False`` commits without waiting for the disk (marking outbox rows sent: losing that
only publishes them once more).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

#: Every savepoint has this one name. A nested one hides the outer until it is released or
#: rolled back, which both SQLite and PostgreSQL resolve to the latest of that name; and one
#: statement text is prepared once, where a name per savepoint was compiled afresh each time
#: (2 µs of 5 per savepoint on SQLite, measured).
SAVEPOINT = "step"


class InstanceInUse(RuntimeError):
    """Another running process is this instance already."""


class StepNotUndoable(RuntimeError):
    """A unit of work in an unguarded step ended without commit(): only the whole transaction
    can undo it."""


class StoreUnreachable(RuntimeError):
    """The database server did not answer (or refused us) within the time we wait."""


class Database:
    """One connection, used by one thread at a time. SQL is written with ``?`` placeholders."""

    dialect: ClassVar[str]
    #: Appended to a SELECT whose rows this transaction will change: lock them (or nothing:
    #: SQLite's one writer holds the whole file; a read-only connection changes nothing).
    for_update: str = ""
    #: Appended to a SELECT of queue rows: lock them, and skip rows another instance holds.
    skip_locked: str = ""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    @property
    def in_transaction(self) -> bool:
        raise NotImplementedError

    def transaction(self, durable: bool = True):
        raise NotImplementedError

    def table_names(self) -> set[str]:
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Every row as a dict by column name: for views, tools and tests."""
        cursor = self.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def count(self, table: str, where: str = "", params: Sequence[Any] = ()) -> int:
        return self.scalar(f"SELECT count(*) FROM {table}{f' WHERE {where}' if where else ''}",
                           params)

    #: A savepoint just opened with ``joinable=True`` (or an :meth:`unguarded_step`) that no
    #: unit of work has joined yet.
    open_step: bool = False
    #: False inside :meth:`unguarded_step`: the step a unit of work joins there cannot be undone.
    step_undoable: bool = True

    @contextmanager
    def savepoint(self, joinable: bool = False) -> Iterator[str]:
        """A nested all-or-nothing step; outside a transaction it is a transaction of its own.
        ``joinable``: the first unit of work opened inside it may use it as its own
        (:meth:`join_step`) instead of nesting another: an event's step and its handler's unit
        of work begin at the same point, and a pair of statements per event is saved."""
        name = SAVEPOINT
        self.execute(f"SAVEPOINT {name}")
        self.open_step = joinable
        try:
            yield name
        except BaseException:
            self.roll_back_to(name)
            raise
        finally:
            self.open_step = False
        self.execute(f"RELEASE {name}")

    @contextmanager
    def unguarded_step(self) -> Iterator[None]:
        """A step without a savepoint, for a batch in which nothing is expected to fail: the
        first unit of work inside joins it as it would a joinable savepoint, and the pair of
        statements is saved. Nothing can undo it alone: a unit of work left without commit()
        raises :class:`StepNotUndoable`, and the step's owner undoes the whole transaction."""
        self.open_step, self.step_undoable = True, False
        try:
            yield
        finally:
            self.open_step, self.step_undoable = False, True

    def join_step(self) -> bool:
        """Take the joinable savepoint opened last, if nothing has taken it: its owner releases
        it; the one who joins may only roll back to it."""
        joined, self.open_step = self.open_step, False
        return joined

    def roll_back_to(self, name: str, release: bool = True) -> None:
        """Undo a savepoint's work — unless the database already rolled back the whole
        transaction (a full disk, a lost connection), which took the savepoint with it.
        ``release=False`` keeps the savepoint open, for its owner to end."""
        if self.in_transaction:
            self.execute(f"ROLLBACK TO {name}")
            if release:
                self.execute(f"RELEASE {name}")


class Store(Protocol):
    """Where a service keeps everything: opens its connections, and says which instance runs."""

    dialect: str

    def open_writer(self) -> Database: ...

    def open_reader(self) -> Database: ...

    def migrating(self, db: Database): ...

    def claim_instance(self, service: str, instance: str) -> None: ...

    def release_instance(self) -> None: ...

    def describe(self) -> str: ...
