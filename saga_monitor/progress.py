"""One saga as a compact record, folded from its events and dead letters in any order.

The monitor holds every unfinished saga and every saga finished within the retention in
memory, so a record is a tuple of plain values, not a dict of dicts: event types, producers,
kinds and customers are interned (one string shared by all sagas), and an event's cause is the
index of that event in the same record once it has been seen. A record survives a round trip
through JSON (the table's changelog) as lists, and :func:`from_json` turns it back into tuples.

Folding is idempotent: an event already in the record (same ``event_id``) or a dead letter
already in it (same DLT topic, partition and offset) returns the very same record object, so
the caller knows nothing changed.
"""

from __future__ import annotations

import sys
from collections.abc import Container
from typing import Any, NamedTuple

from shared.events import COMMANDS, DEADLINE_PASSED, Event
from shared.saga import SAGAS

OUTCOMES = {"OrderCompleted": "completed", "OrderCancelled": "cancelled"}
# Of every version of the flow: a saga of any version may be on the table.
COMPENSATIONS = frozenset(p.event_type() for saga in SAGAS.values() for p in saga.compensations)
FAILURES = frozenset(p.event_type() for saga in SAGAS.values() for p in saga.failures)
NOTIFIED = "CustomerNotified"
(PIVOT,) = {saga.pivot.event_type() for saga in SAGAS.values()}
STATUSES = ("running", "compensating", "completed", "cancelled")
#: The orchestrator's commands: a saga with one of them runs orchestrated.
COMMAND_TYPES = frozenset(p.event_type() for p in COMMANDS)
NOTIFY = "NotifyCustomer"

# Record: (status, started_at, updated_at, finished_at, customer_id, partition, events,
#          letters, deadline_at, cancelled_by_deadline, flow_version). Times are epoch seconds
#          (floats); deadline_at is the order's deadline as its events carry it (None: not
#          known); flow_version is the saga's version as its events carry it (None: only dead
#          letters seen so far).
STATUS, STARTED, UPDATED, FINISHED, CUSTOMER, PARTITION, EVENTS, LETTERS = range(8)
DEADLINE, BY_DEADLINE, VERSION = 8, 9, 10
# Event: (event_id, event_type, occurred_at, cause, producer, instance); cause is the index
# of the causing event in the record once seen, else its event id (or None); instance is the
# producer's instance that decided it (None: not said).
E_ID, E_TYPE, E_AT, E_CAUSE, E_PRODUCER, E_INSTANCE = range(6)


class Letter(NamedTuple):
    """One dead letter of this order, as the DLT headers describe it."""

    topic: str              # the DLT topic, without prefix, e.g. "PaymentCharged.DLT"
    partition: int
    offset: int
    source_topic: str       # where the message came from, e.g. "PaymentCharged"
    source_partition: int
    source_offset: int
    kind: str               # handler-failed (parked), malformed, schema-invalid, ...
    reason: str
    service: str            # who gave up on it
    attempts: int
    at: float               # when it was dead-lettered

    @property
    def ref(self) -> str:
        """How the operator's decisions name it (their key, ``saga_monitor.decisions``)."""
        return f"{self.topic}:{self.partition}:{self.offset}"


def fold_event(record: tuple | None, event: Event, partition: int,
               instance: str | None = None) -> tuple:
    """The record after one more event (decided by ``instance`` of its producer, when known);
    the same record if the event was seen before."""
    events = record[EVENTS] if record else ()
    if any(seen[E_ID] == event.event_id for seen in events):
        return record  # type: ignore[return-value]
    index = len(events)
    cause = event.causation_id
    cause = next((i for i, seen in enumerate(events) if seen[E_ID] == cause), cause)
    new = (event.event_id, sys.intern(event.event_type), event.occurred_at.timestamp(), cause,
           sys.intern(event.producer), sys.intern(instance) if instance else None)
    # Effects that arrived before this, their cause, now point at it.
    events = tuple((*seen[:E_CAUSE], index, *seen[E_CAUSE + 1:]) if seen[E_CAUSE] == event.event_id
                   else seen for seen in events) + (new,)
    customer = (record[CUSTOMER] if record else None) or _customer(event)
    deadline = (record[DEADLINE] if record else None) or (
        event.deadline_at.timestamp() if event.deadline_at else None)
    by_deadline = bool(record and record[BY_DEADLINE]) or _asked_by_deadline(event)
    version = (record[VERSION] if record else None) or event.saga_version
    return _derive(events, record[LETTERS] if record else (), customer, partition,
                   deadline, by_deadline, version)


def _asked_by_deadline(event: Event) -> bool:
    return (event.event_type == "OrderCancellationRequested"
            and event.payload.reason.startswith(DEADLINE_PASSED))


def fold_letter(record: tuple | None, letter: Letter, partition: int) -> tuple:
    letters = record[LETTERS] if record else ()
    if any(seen[:3] == letter[:3] for seen in letters):
        return record  # type: ignore[return-value]
    letter = letter._replace(topic=sys.intern(letter.topic), kind=sys.intern(letter.kind),
                             source_topic=sys.intern(letter.source_topic),
                             service=sys.intern(letter.service))
    if not record:
        return _derive((), (tuple(letter),), None, partition)
    return _derive(record[EVENTS], (*letters, tuple(letter)), record[CUSTOMER], partition,
                   record[DEADLINE], record[BY_DEADLINE], record[VERSION])


def letters(record: tuple) -> list[Letter]:
    """The order's dead letters, oldest first (by when they were dead-lettered)."""
    found = [Letter(*letter) for letter in record[LETTERS]]
    return sorted(found, key=lambda letter: (letter.at, letter.topic, letter.partition,
                                             letter.offset))


def pending_letters(record: tuple, decisions: Container[str]) -> list[Letter]:
    """Letters nobody dealt with yet: without an operator's decision (``decisions``: letter
    refs, see ``saga_monitor.decisions``). Only a decision counts: a message on a saga topic
    that claims to be a replay proves nothing, anyone who may write that topic can send it."""
    return [letter for letter in letters(record) if letter.ref not in decisions]


def finished(record: tuple) -> bool:
    return record[FINISHED] is not None


def _derive(events: tuple, letters: tuple, customer: str | None, partition: int,
            deadline: float | None = None, by_deadline: bool = False,
            version: int | None = None) -> tuple:
    types = {event[E_TYPE] for event in events}
    outcome = next((OUTCOMES[t] for t in OUTCOMES if t in types), None)
    status = outcome or ("compensating" if types & (FAILURES | COMPENSATIONS) else "running")
    times = [event[E_AT] for event in events] + [letter[10] for letter in letters]
    created = [event[E_AT] for event in events if event[E_TYPE] == "OrderCreated"]
    started = min(created) if created else min(times)
    return (sys.intern(status), started, max(times), _finished_at(events), customer, partition,
            events, letters, deadline, by_deadline, version)


def flow_version(record: tuple) -> int:
    """The version of the flow this saga runs (1 until one of its events says otherwise)."""
    return record[VERSION] or 1


def mode(record: tuple) -> str:
    """How this saga runs, as far as its events show: orchestrated once a command is seen."""
    return ("orchestrated" if any(e[E_TYPE] in COMMAND_TYPES for e in record[EVENTS])
            else "choreographed")


def _finished_at(events: tuple) -> float | None:
    """When the customer was told the outcome: a CustomerNotified caused by the outcome event,
    or by the orchestrator's NotifyCustomer that the outcome caused (a refund's notification
    does not count)."""
    outcomes = {i for i, event in enumerate(events) if event[E_TYPE] in OUTCOMES}
    outcomes |= {i for i, event in enumerate(events)
                 if event[E_TYPE] == NOTIFY and event[E_CAUSE] in outcomes}
    told = [event[E_AT] for event in events
            if event[E_TYPE] == NOTIFIED and event[E_CAUSE] in outcomes]
    return min(told) if told else None


def _customer(event: Event) -> str | None:
    customer = getattr(event.payload, "customer_id", None)
    return sys.intern(customer) if customer else None


def to_json(record: tuple) -> list:
    return list(record)


def from_json(value: Any) -> tuple:
    """A record read back from the changelog: lists become tuples, strings are interned. An
    older monitor's record has no deadline or flow version, or ends with the letters it saw
    replayed instead (only decisions count now)."""
    status, started, updated, finished_at, customer, partition, events, letters = value[:8]
    current = len(value) > BY_DEADLINE and not isinstance(value[DEADLINE], list)
    deadline, by_deadline = value[DEADLINE:BY_DEADLINE + 1] if current else (None, False)
    version = value[VERSION] if current and len(value) > VERSION else None
    intern = sys.intern
    return (intern(status), started, updated, finished_at,
            intern(customer) if customer else None, partition,
            tuple((e[0], intern(e[1]), e[2], e[3], intern(e[4]),
                   intern(e[5]) if len(e) > 5 and e[5] else None) for e in events),
            tuple((intern(x[0]), x[1], x[2], intern(x[3]), *x[4:6], intern(x[6]), x[7],
                   intern(x[8]), *x[9:]) for x in letters),
            deadline, bool(by_deadline), version)
