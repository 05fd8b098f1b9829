"""Unit of work: one all-or-nothing step around inbox, state and outbox.

Guarantee: the inbox claim, the service's state change and the outgoing events commit
together or not at all. A unit of work is a SAVEPOINT: inside the runtime's group commit it
is one event's share of the batch transaction (a failure rolls back only that share; the
unit joins the savepoint the runtime opened for the event rather than nesting one);
used on its own (the order API, unit tests) it begins and commits a transaction of its own. Services
subclass it to add their repositories.

A side effect outside the database (telling a customer) must not happen for a change that
may still roll back: :meth:`UnitOfWork.after_commit` holds it until the transaction that
contains this unit has committed — the unit's own, or the whole group commit's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from shared.errors import PermanentError
from shared.events import Event, Payload
from shared.faults import CrashPoints
from shared.inbox import Inbox
from shared.outbox import Outbox, OutgoingMessage
from shared.saga import COMPENSATIONS, LATEST_VERSION
from shared.store import Database
from shared.store.base import SAVEPOINT, StepNotUndoable

#: Which instance of its service decided an event: for the monitor and for people.
INSTANCE_HEADER = "saga.instance"


class UndeclaredEvent(PermanentError):
    """A handler tried to emit an event its service does not declare for this reaction."""


class UnitOfWork:
    def __init__(self, db: Database, producer: str, *, crash_points: CrashPoints | None = None,
                 instance: str | None = None, saga_version: int = LATEST_VERSION,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.producer = producer
        #: The time, for rules that depend on it (a deadline): injected, so tests move it.
        self.now = clock
        #: The version of the saga's flow what this unit starts takes (order_service).
        self.saga_version = saga_version
        #: Every message this unit adds names the instance that decided it (a header).
        self.instance_header = [(INSTANCE_HEADER, instance)] if instance else []
        self.inbox = Inbox(db)
        self.outbox = Outbox(db)
        self.crash_points = crash_points or CrashPoints(None)
        #: Set by the dispatcher: what the running reaction may emit (None: anything).
        self.declared: tuple[type[Payload], ...] | None = None
        #: Headers every message this unit adds carries: the trace context.
        self.headers: list[tuple[str, str]] = []
        self._emitted: list[Event] = []
        self._messages: list[OutgoingMessage] = []
        self._after_commit: list[Callable[[], None]] = []
        self._savepoint: str | None = None  # pragma: no mutate (set by __enter__ before use)
        #: The savepoint is the runtime's step for the event, not one of this unit's own.
        self._joined = False  # pragma: no mutate (set by __enter__ before use)
        self._own = None  # the transaction this unit began, when it was not inside one

    def __enter__(self) -> UnitOfWork:
        if not self.db.in_transaction:  # on its own (an API call, a test): its own transaction
            self._own = self.db.transaction()
            self._own.__enter__()
        self._savepoint = SAVEPOINT  # nested in the event's own: see SAVEPOINT
        self._joined = self.db.join_step()
        if not self._joined:
            self.db.execute(f"SAVEPOINT {self._savepoint}")
        self._emitted, self._messages, self._after_commit = [], [], []
        return self

    def __exit__(self, failure: type[BaseException] | None, *exc_info: object) -> None:
        if self._savepoint is not None:  # left without commit(): undo everything
            self._savepoint = None  # pragma: no mutate (read again only after __enter__)
            self._emitted, self._messages, self._after_commit = [], [], []
            if self._joined and not self.db.step_undoable:
                # No savepoint to go back to: the step's owner undoes the whole transaction
                # when this failure reaches it; one that would not reach it is made one.
                if failure is None:
                    raise StepNotUndoable(f"a {self.producer} unit of work ended without commit")
                return
            # A joined step goes back to where it began; the runtime that opened it ends it.
            self.db.roll_back_to(SAVEPOINT, release=not self._joined)
        self._end_own_transaction()

    def _end_own_transaction(self) -> None:
        """Commit the transaction this unit began, if it began one (a rolled-back savepoint
        leaves it empty)."""
        own, self._own = self._own, None
        if own is not None:
            own.__exit__(None, None, None)

    def emit(self, payload: Payload, *, caused_by: Event) -> Event:
        """Add a follow-up event of ``caused_by`` to the outbox."""
        if self.declared is not None and type(payload) not in self.declared:
            raise UndeclaredEvent(f"{self.producer} may not emit {payload.event_type()} "
                                  f"in reaction to {caused_by.event_type}")
        return self._add(caused_by.follow_up(payload, self.producer))

    def originate(self, payload: Payload, *, order_id: str | None,
                  deadline_at: datetime | None = None) -> Event:
        """Add an event that starts something (an API call, a timer), not caused by another
        event; a saga it starts has ``deadline_at`` as its deadline."""
        return self._add(Event.new(payload, order_id=order_id, producer=self.producer,
                                   saga_version=self.saga_version, deadline_at=deadline_at))

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once what this unit did is durable; never if it rolls back."""
        self._after_commit.append(action)

    def _add(self, event: Event) -> Event:
        self._messages.append(self.outbox.add(event, [*self.headers, *self.instance_header]))
        self._emitted.append(event)
        return event

    def commit(self) -> None:
        compensating = [e.event_type for e in self._emitted
                        if type(e.payload) in COMPENSATIONS]
        if compensating:
            self.crash_points.reached("during_compensation", *compensating)
        if not self._joined:  # a joined step is released by the runtime that opened it
            self.db.execute(f"RELEASE {self._savepoint}")
        self._savepoint = None
        self._end_own_transaction()
        if not self.db.in_transaction:  # it was a transaction of its own: committed now
            for action in self.take_after_commit():
                action()

    def take_after_commit(self) -> list[Callable[[], None]]:
        """The side effects waiting for the enclosing transaction to commit (the group
        commit runs them after its COMMIT)."""
        actions, self._after_commit = self._after_commit, []
        return actions

    @property
    def emitted(self) -> list[Event]:
        return list(self._emitted)

    @property
    def messages(self) -> list[OutgoingMessage]:
        """The outbox rows this unit added, for the relay to publish without re-reading them."""
        return list(self._messages)
