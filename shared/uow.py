"""Unit of work: one local transaction around inbox, state and outbox.

Guarantee: the inbox claim, the service's state change and the outgoing events
commit together or not at all. Services subclass it to add their repositories.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from shared.events import Event, Payload
from shared.faults import CrashPoints
from shared.inbox import Inbox
from shared.outbox import Outbox
from shared.saga import ORDER_SAGA


class UndeclaredEvent(RuntimeError):
    """A handler tried to emit an event its service does not declare for this reaction."""


class UnitOfWork:
    def __init__(self, db: sqlite_utils.Database, producer: str, *,
                 on_commit: Callable[[], None] = lambda: None,
                 crash_points: CrashPoints | None = None) -> None:
        self.db = db
        self.producer = producer
        self.inbox = Inbox(db)
        self.outbox = Outbox(db)
        self.on_commit = on_commit
        self.crash_points = crash_points or CrashPoints(None)
        #: Set by the dispatcher: what the running reaction may emit (None: anything).
        self.declared: tuple[type[Payload], ...] | None = None
        self._emitted: list[Event] = []
        self._open = False

    def __enter__(self) -> UnitOfWork:
        self.db.conn.execute("BEGIN IMMEDIATE")
        self._open, self._emitted = True, []
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._open:
            self.db.rollback()
            self._open = False

    def emit(self, payload: Payload, *, caused_by: Event) -> Event:
        """Add a follow-up event of ``caused_by`` to the outbox."""
        if self.declared is not None and type(payload) not in self.declared:
            raise UndeclaredEvent(f"{self.producer} may not emit {payload.event_type()} "
                                  f"in reaction to {caused_by.event_type}")
        event = caused_by.follow_up(payload, self.producer)
        self.outbox.add(event)
        self._emitted.append(event)
        return event

    def originate(self, payload: Payload, *, order_id: str | None) -> Event:
        """Add an event that starts something (an API call), not caused by another event."""
        event = Event.new(payload, order_id=order_id, producer=self.producer)
        self.outbox.add(event)
        self._emitted.append(event)
        return event

    def commit(self) -> None:
        compensating = [e.event_type for e in self._emitted
                        if type(e.payload) in ORDER_SAGA.compensations]
        if compensating:
            self.crash_points.reached("during_compensation", *compensating)
        self.db.conn.execute("COMMIT")
        self._open = False
        self.on_commit()

    @property
    def emitted(self) -> list[Event]:
        return list(self._emitted)
