"""What happens to delivered messages — everything except Kafka itself.

Guarantee: when :meth:`EventProcessor.process_batch` returns, every message of the batch is
in exactly one durable place: applied (inbox + state + outbox committed), queued for retry
behind its order, parked, or dead-lettered. Only then may the consumer commit the offsets.
If it raises, nothing of the batch was decided and the consumer must redeliver all of it.

Group commit: the batch is one transaction (one fsync on SQLite). It is first decided without
a savepoint per event, the common case: every event decoded, none waiting behind its order,
every handler done. Anything else undoes that whole attempt, and the batch is decided again with
each event in a savepoint of its own, so that a failing handler rolls back only its own
effects (a handler that failed is not called again for it in that second attempt). Where spans
are exported, batches are decided that second way from the start. Runs on the writer thread.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence

from shared.deadletters import DeadLetters, Delivery
from shared.errors import is_permanent
from shared.events import Event, RejectedMessage, decode
from shared.faults import CrashPoints
from shared.inbox import Inbox
from shared.logs import one_write
from shared.metrics import ServiceMetrics
from shared.outbox import Outbox, OutgoingMessage
from shared.retry import PARKED, Backoff, QueuedEvent, RetryQueue
from shared.runtime.dispatcher import Dispatcher
from shared.store import Database
from shared.store.base import StepNotUndoable
from shared.timers import Timer, Timers
from shared.tracing import Tracing, current_trace_id, record_failure

log = logging.getLogger(__name__)
#: The inbox kind under which a record's dead-lettering is claimed, keyed by its coordinates.
DEAD_LETTERED = "dead-lettered"
#: Seconds before a timer whose reaction failed fires again.
TIMER_RETRY = 5.0


def create_all_tables(db: Database, service_tables: Callable) -> None:
    """The plumbing's tables (inbox, outbox, retry queue, timers), then the service's own."""
    for create in (Inbox.create, Outbox.create, RetryQueue.create, Timers.create,
                   service_tables):
        create(db)


class EventProcessor:
    def __init__(self, db: Database, dispatcher: Dispatcher,
                 dead_letters: DeadLetters, *, max_attempts: int, backoff: Backoff,
                 max_message_bytes: int, crash_points: CrashPoints | None = None,
                 metrics: ServiceMetrics | None = None, tracing: Tracing | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.dispatcher = dispatcher
        self.dead_letters = dead_letters
        self.clock = clock
        self.queue = RetryQueue(db, clock)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_message_bytes = max_message_bytes
        self.crash_points = crash_points or CrashPoints(None)
        self.metrics = metrics or ServiceMetrics()
        self.tracing = tracing or Tracing("service")
        self._handled: list[tuple[Event, list[Event], int, str | None, float]] = []  # pragma: no mutate
        self._after_commit_actions: list[Callable[[], None]] = []  # pragma: no mutate
        self._queue_may_hold = True  # pragma: no mutate (set per batch)
        #: Each event in a savepoint of its own (False: the first attempt at a batch).
        self._stepwise = True
        #: The delivery whose handler failed in the batch's first attempt, and how.
        self._failed_before: tuple[Delivery, Exception] | None = None

    def process_batch(self, deliveries: Sequence[Delivery]) -> list[OutgoingMessage]:
        """Decide every delivery in one transaction; returns the outbox rows it committed."""
        started = time.perf_counter()
        try:
            # Where spans are exported, an attempt undone would leave spans of events that were
            # not decided: decided stepwise at once.
            messages = self._decide(deliveries, stepwise=self.tracing.exports)
        except _NotTheCommonCase as uncommon:
            # A handler that failed is not called again for it: its failure is decided as is.
            self._failed_before = uncommon.failed
            messages = self._decide(deliveries, stepwise=True)
        self._after_commit(started, len(deliveries))
        return messages

    def _decide(self, deliveries: Sequence[Delivery], *, stepwise: bool
                ) -> list[OutgoingMessage]:
        messages: list[OutgoingMessage] = []
        self._handled, self._after_commit_actions = [], []
        self._stepwise = stepwise
        try:
            with self.db.transaction():
                # Almost always empty: then no event of the batch needs to ask it about its key.
                self._queue_may_hold = not self.queue.is_empty()
                for delivery in deliveries:
                    messages += self._process(delivery)
        finally:
            self._stepwise, self._failed_before = True, None
        return messages

    def retry_due(self) -> list[OutgoingMessage]:
        """Try every due head of the retry queue once, in one transaction."""
        started, messages = time.perf_counter(), []
        self._handled, self._after_commit_actions = [], []
        with self.db.transaction():
            due = self.queue.due()
            for queued in due:
                messages += self._retry(queued)
        if due:
            self._after_commit(started, len(due))
        return messages

    def fire_due_timers(self) -> list[OutgoingMessage]:
        """Every timer whose time has come, once, each in a savepoint of its own, in one
        transaction; a reaction that fails is tried again ``TIMER_RETRY`` seconds later."""
        if not self.dispatcher.spec.timeouts:
            return []
        messages, self._handled, self._after_commit_actions = [], [], []
        with self.db.transaction():
            timers = Timers(self.db)
            for timer in timers.due(self.clock()):
                messages += self._fire(timer, timers)
        self._run_after_commit()
        return messages

    def _fire(self, timer: Timer, timers: Timers) -> list[OutgoingMessage]:
        with self.tracing.originating(timer.kind, timer.key) as headers:
            try:
                with self.db.savepoint(joinable=True):
                    reacted = self.dispatcher.fire(timer, headers)
                    timers.fired(timer, self.clock())
            except Exception as error:
                if not self.db.in_transaction:
                    raise  # the whole transaction is gone (see _react): nothing was decided
                log.exception("a timer's reaction failed; it fires again later",
                              extra={"kind": timer.kind, "key": timer.key})
                record_failure(error)
                timers.postpone(timer, self.clock() + TIMER_RETRY)
                return []
        log.info("timer fired", extra={"kind": timer.kind, "key": timer.key,
                                       "emitted": [e.event_type for e in reacted.emitted]})
        self._after_commit_actions += reacted.after_commit
        return reacted.messages

    def _process(self, delivery: Delivery) -> list[OutgoingMessage]:
        try:
            event = decode(delivery.value, expected_type=delivery.topic,
                           max_bytes=self.max_message_bytes)
        except RejectedMessage as rejected:
            self._unless_stepwise()
            return self.reject(delivery, kind=rejected.kind, reason=rejected.reason)
        if not self.dispatcher.takes_part(event):
            return []  # nothing for this service in its saga's flow: nothing to apply or log
        if self._queue_may_hold and self.queue.holds(event.key):
            self._unless_stepwise()
            self._wait_behind_earlier_events(event, delivery)
            return []
        outcome = self._react(event, delivery, attempts=1)
        if isinstance(outcome, Exception):
            return self._after_failure(event, delivery, outcome)
        return outcome

    def set_aside(self, delivery: Delivery, kind: str, reason: str) -> list[OutgoingMessage]:
        """Dead-letter one message in a transaction of its own."""
        with self.db.transaction():
            return self.reject(delivery, kind=kind, reason=reason)

    def reject(self, delivery: Delivery, *, kind: str, reason: str) -> list[OutgoingMessage]:
        """Dead-letter a message no handler can ever process (within the open transaction),
        once: the same record read again (a crash before its offset was committed, a
        partition that moved meanwhile) is not dead-lettered a second time."""
        if not Inbox(self.db).claim_key(DEAD_LETTERED, _coordinates(delivery)):
            return []
        log.warning("dead-lettered", extra={"topic": delivery.topic, "kind": kind,
                                            "reason": reason, "offset": delivery.offset})
        self.metrics.dead_lettered.labels(delivery.topic, kind).inc()
        return [self.dead_letters.add(self.db, delivery, kind=kind, reason=reason)]

    def _react(self, event: Event, delivery: Delivery,
               attempts: int) -> list[OutgoingMessage] | Exception:
        """Apply the event in a step of its own (a savepoint when the batch is decided
        stepwise), inside its span: its outbox rows, or why it failed."""
        started = time.perf_counter()
        with self.tracing.handling(event, delivery.headers) as headers:
            trace_id = current_trace_id()
            try:
                if self._failed_before and self._failed_before[0] is delivery:
                    raise self._failed_before[1]
                with (self.db.savepoint(joinable=True) if self._stepwise
                      else self.db.unguarded_step()):
                    reacted = self.dispatcher.handle(event, headers)
            except Exception as error:
                if not self.db.in_transaction:
                    # The database rolled back the whole batch (SQLite: disk full, I/O error;
                    # PostgreSQL: a lock conflict with another instance): nothing of it was
                    # decided, so it must not go on in autocommit. Redeliver it all.
                    raise
                if not self._stepwise:
                    # A unit left without commit is no failure: in its savepoint it undoes
                    # itself, so the handler runs again there.
                    failed = None if isinstance(error, StepNotUndoable) else (delivery, error)
                    raise _NotTheCommonCase(failed) from error
                self.metrics.failed.labels(event.event_type).inc()
                record_failure(error)
                return error
        self._handled.append((event, reacted.emitted, attempts, trace_id,
                              time.perf_counter() - started))
        self._after_commit_actions += reacted.after_commit
        self.crash_points.reached("inside_group_commit", event.event_type)
        return reacted.messages

    def _unless_stepwise(self) -> None:
        """Outside the common case: a batch's first attempt stops here, and the batch is
        decided again, every event in a savepoint of its own."""
        if not self._stepwise:
            raise _NotTheCommonCase(None)

    def _wait_behind_earlier_events(self, event: Event, delivery: Delivery) -> None:
        if self.queue.revive_replayed(event, delivery):
            log.info("parked event replayed, retrying", extra=_fields(event))
        else:
            self.queue.add(event, delivery, attempts=0, delay=0)
            log.info("queued behind an earlier event of its order", extra=_fields(event))

    def _after_failure(self, event: Event, delivery: Delivery,
                       error: Exception) -> list[OutgoingMessage]:
        self._queue_may_hold = True  # the later events of its key queue behind it
        if is_permanent(error):
            self.queue.add(event, delivery, attempts=1, delay=0, error=_describe(error),
                           status=PARKED)
            return [self._park_letter(event, delivery, 1, _describe(error))]
        self.queue.add(event, delivery, attempts=1, delay=self.backoff.delay(1),
                       error=_describe(error))
        log.warning("handler failed, will retry", extra={**_fields(event),
                                                         "error": _describe(error)})
        return []

    def _retry(self, queued: QueuedEvent) -> list[OutgoingMessage]:
        attempts = queued.attempts + 1
        try:
            event = decode(queued.value, max_bytes=len(queued.value))  # size checked on arrival
        except RejectedMessage as rejected:  # e.g. a version rolled back that cannot read it
            self.queue.park(queued.seq, attempts, f"cannot decode: {rejected.reason}")
            return [self._park_letter(None, queued.delivery, attempts,
                                      f"cannot decode: {rejected.reason}")]
        self.metrics.retried.labels(event.event_type).inc()
        outcome = self._react(event, queued.delivery, attempts)
        if not isinstance(outcome, Exception):
            self.queue.remove(queued.seq)
            return outcome
        error = _describe(outcome)
        if attempts < self.max_attempts and not is_permanent(outcome):
            self.queue.reschedule(queued.seq, attempts, self.backoff.delay(attempts), error)
            return []
        self.queue.park(queued.seq, attempts, error)
        return [self._park_letter(event, queued.delivery, attempts, error)]

    def _park_letter(self, event: Event | None, delivery: Delivery, attempts: int,
                     error: str) -> OutgoingMessage:
        log.error("parked for manual intervention", extra={
            **(_fields(event) if event else {"topic": delivery.topic}),
            "attempts": attempts, "error": error})
        self.metrics.parked.labels(delivery.topic).inc()
        self.metrics.dead_lettered.labels(delivery.topic, "handler-failed").inc()
        return self.dead_letters.add(self.db, delivery, kind="handler-failed", reason=error,
                                     attempts=attempts)

    def _after_commit(self, started: float, events: int) -> None:
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_events.observe(events)
        for event_type, count in Counter(event.event_type for event, *_ in self._handled).items():
            self.metrics.labelled(self.metrics.handled, event_type).inc(count)
        with one_write():
            for event, emitted, attempts, trace_id, seconds in self._handled:
                self.metrics.labelled(self.metrics.handler_seconds, event.event_type).observe(
                    seconds)
                _log_handled(event, emitted, attempts, trace_id)
        self._run_after_commit()
        self.crash_points.reached("after_local_commit",
                                  *(event.event_type for event, *_ in self._handled))


    def _run_after_commit(self) -> None:
        for action in self._after_commit_actions:
            try:
                action()
            except Exception:  # the state is committed: a failed side effect must not undo it
                log.exception("a side effect after the commit failed")


class _NotTheCommonCase(Exception):
    """A batch's first attempt met something only a savepoint per event can decide: a
    message to dead-letter, an event to queue, or a handler that failed (``failed``)."""

    def __init__(self, failed: tuple[Delivery, Exception] | None) -> None:
        super().__init__("decided again, each event in a savepoint of its own")
        self.failed = failed


def _coordinates(delivery: Delivery) -> str:
    """Where a record was read; its timestamp too where known, so that a topic deleted and
    made again does not look like the old one."""
    return f"{delivery.topic}:{delivery.partition}:{delivery.offset}:{delivery.timestamp_ms or ''}"


def _fields(event: Event) -> dict:
    return {"event_type": event.event_type, "order_id": event.order_id,
            "event_id": event.event_id}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def _log_handled(event: Event, emitted: list[Event], attempts: int,
                 trace_id: str | None) -> None:
    log.info("handled", extra={**_fields(event), "attempts": attempts,
                               "emitted": [e.event_type for e in emitted], "trace_id": trace_id})
