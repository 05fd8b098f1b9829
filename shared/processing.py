"""What happens to one delivered message — everything except Kafka itself.

Guarantee: when :meth:`EventProcessor.process` returns, the message is in
exactly one durable place: applied (inbox + state + outbox committed), queued
for retry behind its order, or dead-lettered. Only then may the consumer
commit the offset. If it raises, nothing was decided and the consumer must
redeliver it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlite_utils

from shared.db import write_transaction
from shared.deadletters import DeadLetters, Delivery
from shared.events import Event, RejectedMessage, decode
from shared.faults import CrashPoints
from shared.inbox import Inbox
from shared.outbox import Outbox
from shared.retry import Backoff, QueuedEvent, RetryQueue
from shared.runtime.dispatcher import Dispatcher

log = logging.getLogger(__name__)


def create_all_tables(db: sqlite_utils.Database, service_tables: Callable) -> None:
    """The plumbing's tables (inbox, outbox, retry queue), then the service's own."""
    for create in (Inbox.create, Outbox.create, RetryQueue.create, service_tables):
        create(db)


class EventProcessor:
    def __init__(self, db: sqlite_utils.Database, dispatcher: Dispatcher,
                 dead_letters: DeadLetters, *, max_attempts: int, backoff: Backoff,
                 max_message_bytes: int, crash_points: CrashPoints | None = None,
                 on_dead_letter: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.dispatcher = dispatcher
        self.dead_letters = dead_letters
        self.queue = RetryQueue(db)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_message_bytes = max_message_bytes
        self.crash_points = crash_points or CrashPoints(None)
        self.on_dead_letter = on_dead_letter

    def process(self, delivery: Delivery) -> None:
        try:
            event = decode(delivery.value, expected_type=delivery.topic,
                           max_bytes=self.max_message_bytes)
        except RejectedMessage as rejected:
            log.warning("dead-lettered", extra={"topic": delivery.topic, "kind": rejected.kind,
                                                "reason": rejected.reason})
            self.dead_letters.reject(delivery, kind=rejected.kind, reason=rejected.reason)
            self.on_dead_letter()
            return
        if self._wait_behind_earlier_events(event, delivery):
            return
        try:
            emitted = self.dispatcher.handle(event)
        except Exception as error:
            self._queue_for_retry(event, delivery, error)
            return
        _log_handled(event, emitted, attempts=1)
        self.crash_points.reached("after_local_commit", event.event_type)

    def retry_due(self) -> int:
        """Try every due head of the retry queue once; returns how many were tried."""
        due = self.queue.due()
        for queued in due:
            self._retry(queued)
        return len(due)

    def _wait_behind_earlier_events(self, event: Event, delivery: Delivery) -> bool:
        # A plain read first: almost every event has nothing waiting ahead of it, and a
        # write transaction per event would take the write lock for nothing. The service's
        # one connection is used by one thread, so the answer cannot change in between.
        if not self.queue.holds(event.key):
            return False
        with write_transaction(self.db):
            if self.queue.revive(event.event_id):
                log.info("parked event replayed, retrying", extra=_fields(event))
            else:
                self.queue.add(event, delivery, attempts=0, delay=0)
                log.info("queued behind an earlier event of its order", extra=_fields(event))
        return True

    def _queue_for_retry(self, event: Event, delivery: Delivery, error: Exception) -> None:
        with write_transaction(self.db):
            self.queue.add(event, delivery, attempts=1, delay=self.backoff.delay(1),
                           error=_describe(error))
        log.warning("handler failed, will retry", extra={**_fields(event),
                                                         "error": _describe(error)})

    def _retry(self, queued: QueuedEvent) -> None:
        event = decode(queued.value, max_bytes=len(queued.value))
        attempts = queued.attempts + 1
        try:
            emitted = self.dispatcher.handle(event)
        except Exception as error:
            self._after_failed_retry(queued, event, attempts, _describe(error))
            return
        with write_transaction(self.db):
            self.queue.remove(queued.seq)
        _log_handled(event, emitted, attempts=attempts)

    def _after_failed_retry(self, queued: QueuedEvent, event: Event, attempts: int,
                            error: str) -> None:
        with write_transaction(self.db):
            if attempts < self.max_attempts:
                self.queue.reschedule(queued.seq, attempts, self.backoff.delay(attempts), error)
                return
            self.queue.park(queued.seq, attempts, error)
            self.dead_letters.add(Outbox(self.db), queued.delivery, kind="handler-failed",
                                  reason=error, attempts=attempts)
        self.on_dead_letter()
        log.error("parked for manual intervention after repeated failures",
                  extra={**_fields(event), "attempts": attempts, "error": error})


def _fields(event: Event) -> dict:
    return {"event_type": event.event_type, "order_id": event.order_id,
            "event_id": event.event_id}


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def _log_handled(event: Event, emitted: list[Event], attempts: int) -> None:
    log.info("handled", extra={**_fields(event), "attempts": attempts,
                               "emitted": [e.event_type for e in emitted]})
