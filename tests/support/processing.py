"""Fakes and helpers for driving the event processor and the retry queue without Kafka or
real time: a clock the test advances, handlers that fail on cue, a predictable backoff, the
SQL a connection ran."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence

from shared.deadletters import Delivery
from shared.events import Event, encode
from shared.faults import CrashPoints
from shared.metrics import ServiceMetrics
from shared.processing import EventProcessor
from shared.retry import Backoff
from shared.testing import SimulatedClock


class FlakyHandlers:
    """Wraps the dispatcher: the first calls raise ``errors`` one after another (a None among
    them: that call is handled), as a broken dependency would; the calls after them are
    handled. ``orders`` lists the order of each call's event."""

    def __init__(self, dispatcher, errors: Sequence[Exception | None]) -> None:
        self.dispatcher, self.errors, self.calls = dispatcher, list(errors), 0
        self.orders: list[str | None] = []

    def __getattr__(self, name):  # the rest of the dispatcher's interface, as it is
        return getattr(self.dispatcher, name)

    def handle(self, evt: Event, headers=()):
        self.calls += 1
        self.orders.append(evt.order_id)
        if self.calls <= len(self.errors) and self.errors[self.calls - 1] is not None:
            raise self.errors[self.calls - 1]
        return self.dispatcher.handle(evt, headers)


class FakeBackoff:
    """Waits ten seconds per attempt: a schedule a test can predict, without jitter."""

    def delay(self, attempt: int) -> float:
        return 10.0 * attempt


class RecordingCrashPoints(CrashPoints):
    """Records every crash point reached, with the event types involved; never crashes."""

    def __init__(self) -> None:
        super().__init__(None)
        self.reached_points: list[tuple[str, tuple[str, ...]]] = []

    def reached(self, point: str, *event_types: str) -> None:
        self.reached_points.append((point, event_types))


class Crashed(Exception):
    pass


class RaisingCrashPoints(CrashPoints):
    """Raises where the real one would SIGKILL the process: nothing after it runs."""

    def reached(self, point, *event_types):
        if point == self.point:
            raise Crashed(point)


def processor_for(service, clock, failures=0, max_attempts=3, error=None, *, errors=(),
                  backoff=None, max_message_bytes=64 * 1024, metrics: ServiceMetrics | None = None,
                  crash_points: CrashPoints | None = None) -> EventProcessor:
    """An inventory-service processor whose handlers fail ``failures`` times with ``error``
    (a gateway timeout unless told), or with each of ``errors`` in turn."""
    errors = list(errors) or [error or TimeoutError("gateway timeout")] * failures
    return service.processor(handlers=FlakyHandlers(service.dispatcher, errors),
                             max_attempts=max_attempts,
                             backoff=backoff or Backoff(base=1.0, cap=8.0),
                             max_message_bytes=max_message_bytes, crash_points=crash_points,
                             metrics=metrics, clock=clock)


def delivery_of(evt: Event, topic: str | None = None, offset: int = 7) -> Delivery:
    return Delivery(topic or evt.event_type, 0, offset, evt.key.encode(), encode(evt))


def dead_letters(service) -> list[dict]:
    rows = service.db.execute("SELECT topic, key, value, headers FROM outbox WHERE topic LIKE "
                              "'%.DLT' ORDER BY seq").fetchall()
    return [{"topic": t, "key": k, "value": v, "headers": dict(json.loads(h))}
            for t, k, v, h in rows]


def drain(processor: EventProcessor, clock: SimulatedClock, rounds: int = 20) -> None:
    """Let every backoff pass, trying what is due each time: no real sleeping."""
    for _ in range(rounds):
        clock.advance(60)
        processor.retry_due()


@contextlib.contextmanager
def statements_run(db) -> Iterator[list[str]]:
    """Every SQL statement ``db``'s SQLite connection runs inside the block, in order."""
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        db.conn.set_trace_callback(None)
