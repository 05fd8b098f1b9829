"""The JSON the API returns for one saga (``/api/sagas/<id>``) and for a line of a list.

The shapes are documented in ``docs/monitoring.md``; ``sagactl saga show|stuck`` reads them.
Times are ISO 8601 in UTC with milliseconds (``2026-11-25T10:00:03.120Z``), durations are
seconds. ``decisions`` maps a dead letter's ref to the operator's decision about it
(``saga_monitor.decisions``): a letter with one is no longer pending. The commands offered to
copy quote every word taken from a message (order ids from keys, kinds from headers): anyone
who may write a topic chooses those bytes.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import UTC, datetime

from saga_monitor import progress
from saga_monitor.progress import (
    BY_DEADLINE,
    COMPENSATIONS,
    CUSTOMER,
    DEADLINE,
    E_AT,
    E_CAUSE,
    E_ID,
    E_INSTANCE,
    E_PRODUCER,
    E_TYPE,
    EVENTS,
    FAILURES,
    FINISHED,
    NOTIFIED,
    PIVOT,
    STARTED,
    STATUS,
    UPDATED,
)
from saga_monitor.waiting import Deadlines, Wait, waits
from shared.causality import causal_order
from shared.deadletters import REPLAYABLE_BY_DEFAULT
from shared.saga import LATEST_VERSION, SAGAS

#: Each version's lanes: a lane per service, in the order of that flow's steps.
LANES = {version: tuple(dict.fromkeys(step.service for step in saga.steps))
         for version, saga in SAGAS.items()}
CANCELLATION = frozenset({"OrderCancellationRequested", "OrderCancellationAccepted",
                          "OrderCancellationRejected"})


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def replay_command(order_id: str) -> str:
    return f"sagactl dlq replay --order {shlex.quote(order_id)}"


def letters_hint(order_id: str, pending: list[progress.Letter]) -> str | None:
    """What to do about pending letters that `sagactl dlq replay` skips unless told."""
    kinds = sorted({letter.kind for letter in pending} - set(REPLAYABLE_BY_DEFAULT))
    if not kinds:
        return None
    order, kinds = shlex.quote(order_id), [shlex.quote(kind) for kind in kinds]
    return (f"`sagactl dlq replay` skips {', '.join(kinds)} letters (they would only fail "
            f"again): look at them with `sagactl dlq list --order {order} --pending`; once "
            f"dealt with, dismiss them with `sagactl dlq ack --order {order} "
            f"{' '.join(f'--kind {kind}' for kind in kinds)} --reason '...'`")


def row(order_id: str, record: tuple, now: float, deadlines: Deadlines,
        decisions: Mapping[str, dict]) -> dict:
    """One saga in a list: enough to decide whether to open it."""
    events = record[EVENTS]
    last = max(events, key=lambda e: e[E_AT]) if events else None
    pending = progress.pending_letters(record, decisions)
    waiting = [_wait(order_id, pending, record, wait, now, deadlines) for wait in waits(record)]
    replayable = any(letter.kind in REPLAYABLE_BY_DEFAULT for letter in pending)
    return {
        "order_id": order_id, "customer_id": record[CUSTOMER], "status": record[STATUS],
        "flow_version": progress.flow_version(record),
        "mode": progress.mode(record),
        "finished": record[FINISHED] is not None,
        "stuck": any(wait["stuck"] for wait in waiting),
        "needs_operator": any(wait["stuck"] and not wait["resolved_by_deadline"]
                              for wait in waiting),
        **_order_deadline(record, now),
        "started_at": iso(record[STARTED]), "updated_at": iso(record[UPDATED]),
        "finished_at": iso(record[FINISHED]),
        "duration_seconds": _seconds(record[FINISHED], record[STARTED]),
        "age_seconds": round(now - record[STARTED], 3),
        "events": len(events),
        "last_event": {"event_type": last[E_TYPE], "occurred_at": iso(last[E_AT])} if last
        else None,
        "waiting_for": waiting,
        "dead_letters_pending": len(pending),
        "replay_command": replay_command(order_id) if replayable else None,
        "dead_letters_hint": letters_hint(order_id, pending),
    }


def detail(order_id: str, record: tuple, now: float, deadlines: Deadlines,
           decisions: Mapping[str, dict]) -> dict:
    """One saga with every event (in causal order), its lanes, and its dead letters."""
    events = record[EVENTS]
    # Siblings (two reactions to one event) in the order they happened, not as they arrived.
    by_time = sorted(range(len(events)), key=lambda i: events[i][E_AT])
    ordered = causal_order(by_time, lambda i: i, lambda i: _cause(events, i))
    types = [events[i][E_TYPE] for i in ordered]
    flow = LANES.get(progress.flow_version(record), LANES[LATEST_VERSION])
    lanes = list(flow) + sorted({e[E_PRODUCER] for e in events} - set(flow))
    return {
        **row(order_id, record, now, deadlines, decisions),
        "steps": types, "compensations": [t for t in types if t in COMPENSATIONS],
        "lanes": lanes, "pivot": PIVOT,
        "timeline": [_event(events, i) for i in ordered],
        "dead_letters": [_letter(letter, decisions.get(letter.ref))
                         for letter in progress.letters(record)],
    }


def _event(events: tuple, index: int) -> dict:
    event = events[index]
    cause = _cause(events, index)
    kind = ("compensation" if event[E_TYPE] in COMPENSATIONS else
            "failure" if event[E_TYPE] in FAILURES else
            "notification" if event[E_TYPE] == NOTIFIED else
            "cancellation" if event[E_TYPE] in CANCELLATION else "step")
    return {
        "index": index, "event_id": event[E_ID], "event_type": event[E_TYPE],
        "producer": event[E_PRODUCER], "instance": event[E_INSTANCE],
        "occurred_at": iso(event[E_AT]),
        "caused_by": events[cause][E_ID] if cause is not None else
        (event[E_CAUSE] if isinstance(event[E_CAUSE], str) else None),
        "cause_index": cause,
        "after_cause_seconds": _seconds(event[E_AT], events[cause][E_AT]) if cause is not None
        else None,
        "kind": kind, "compensation": kind == "compensation", "pivot": event[E_TYPE] == PIVOT,
    }


def _wait(order_id: str, pending: list[progress.Letter], record: tuple, wait: Wait, now: float,
          deadlines: Deadlines) -> dict:
    overdue = deadlines.overdue(wait, now)
    trigger = record[EVENTS][wait.trigger_index] if wait.trigger_index is not None else None
    services = ", ".join(wait.services)
    text = (f"{wait.trigger} at {_clock(wait.since)}; waiting for {services}, which consumes it"
            if wait.trigger else f"waiting for {wait.step} (from {services})")
    parked = [letter for letter in pending if letter.source_topic == wait.trigger]
    cause = None
    if parked:
        letter = parked[-1]  # the latest
        verb = "parked" if letter.kind == "handler-failed" else "dead-lettered"
        then = (f"once the cause is fixed run `{replay_command(order_id)}`"
                if letter.kind in REPLAYABLE_BY_DEFAULT else
                f"`sagactl dlq replay` skips it: see "
                f"`sagactl dlq list --order {shlex.quote(order_id)}`")
        cause = (f"{wait.trigger} {verb} by {letter.service} after {letter.attempts} attempt(s) "
                 f"({letter.kind}): {letter.reason}; {then}")
    return {"step": wait.step, "event_type": wait.trigger,
            "event_id": trigger[E_ID] if trigger else None, "since": iso(wait.since),
            "services": list(wait.services), "deadline_seconds": deadlines.of(wait),
            "overdue_seconds": round(overdue, 3), "stuck": overdue > 0, "text": text,
            "cause": cause, "resolved_by_deadline": _deadline_will_end(record, parked)}


def _order_deadline(record: tuple, now: float) -> dict:
    """The order's own deadline (its events carry it), the time left, and whether it ended the
    saga (the order service asked to cancel because of it)."""
    deadline = record[DEADLINE]
    running = record[FINISHED] is None and deadline is not None
    return {"deadline_at": iso(deadline),
            "deadline_left_seconds": round(deadline - now, 3) if running else None,
            "cancelled_by_deadline": record[BY_DEADLINE]}


def _deadline_will_end(record: tuple, parked: list[progress.Letter]) -> bool:
    """A saga still going forward before the pivot is cancelled by its deadline whatever it
    waits for; compensating, past the pivot or with a parked event, it needs a person (a
    deadline never skips a compensation, and a parked event waits for a replay)."""
    types = {event[E_TYPE] for event in record[EVENTS]}
    return (record[DEADLINE] is not None and record[STATUS] == "running" and not parked
            and PIVOT not in types and not types & CANCELLATION)


def _letter(letter: progress.Letter, decision: dict | None) -> dict:
    state = decision["decision"] if decision else "pending"
    return {"topic": letter.topic, "partition": letter.partition, "offset": letter.offset,
            "source": {"topic": letter.source_topic, "partition": letter.source_partition,
                       "offset": letter.source_offset},
            "kind": letter.kind, "parked": letter.kind == "handler-failed",
            "reason": letter.reason, "service": letter.service, "attempts": letter.attempts,
            "at": iso(letter.at), "pending": state == "pending", "state": state,
            "decision": decision}


def _cause(events: tuple, index: int) -> int | None:
    cause = events[index][E_CAUSE]
    return cause if isinstance(cause, int) else None


def _seconds(later: float | None, earlier: float | None) -> float | None:
    return None if later is None or earlier is None else round(later - earlier, 3)


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S")
