"""The outbox relay: publishes committed outbox rows to Kafka, in commit order.

Guarantees: at-least-once publication of every committed row; a row is marked sent only
after the broker acknowledged it (idempotent producer, acks=all). Rows arrive in memory
right after each commit (:meth:`OutboxRelay.hand_over`), so a saga never waits for a query
or a polling interval; the outbox table is read at start and, as a safety net, every
``relay_poll_interval`` whatever the backlog, for rows committed at least
``relay_stranded_after`` seconds ago but never handed over (say a batch whose caller was
cancelled after its COMMIT, an HTTP client gone mid-request). The relay knows a row by its seq while
it is queued, in flight or sent but not yet marked, so a row is never queued twice. A row the
broker can never accept (too large, invalid topic) is marked failed with its reason and
skipped: one bad row never holds up the rows behind it; a topic every send to which fails
(no ACL for it, deleted) is held aside with its rows while the other topics flow
(:mod:`shared.runtime.held`). Rows are handed to the producer one
batch at a time, in seq order (only the acknowledgements are pipelined), so rows of one
partition keep their order, except that a row whose send failed transiently can be overtaken
by a later row (consumers do not rely on it: see docs/reliability.md). Every send is bounded by
``send_timeout``, and the producer is recreated after a failure (a wedged idempotent
producer does not recover by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from shared.faults import CrashPoints
from shared.metrics import ServiceMetrics
from shared.outbox import Outbox, OutgoingMessage
from shared.runtime.held import TOPIC_ERRORS, HeldTopics
from shared.runtime.store import StoreWriter
from shared.runtime.waiting import sleep_or_stop, wait_for_any
from shared.settings import Settings
from shared.store import Database

log = logging.getLogger(__name__)
BATCH = 500
MAX_IN_FLIGHT = 4
#: The broker will refuse these however often they are sent.
UNPUBLISHABLE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError,
                 InvalidTopicError)


class OutboxRelay:
    def __init__(self, settings: Settings, writer: StoreWriter,
                 metrics: ServiceMetrics | None = None,
                 crash_points: CrashPoints | None = None) -> None:
        self.settings = settings
        self.writer = writer
        self.metrics = metrics or ServiceMetrics()
        self.crash_points = crash_points or CrashPoints(None)
        self._queue: deque[OutgoingMessage] = deque()
        # Seqs queued, in flight, or sent and not yet marked: what hand_over must not take twice.
        self._known: set[int] = set()
        # Held while a batch is handed to the producer: batches enter it in seq order.
        self._sending = asyncio.Lock()
        self._last_poll = -float("inf")
        self._wakeup = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.published = 0
        self.failing_since: float | None = None
        # Sent and refused rows not yet marked in the outbox; marked in the background, so
        # publishing never waits behind the writer thread.
        self._unmarked: list[int] = []
        self._unmarked_refused: list[tuple[OutgoingMessage, Exception]] = []
        self._marking: asyncio.Task | None = None
        self.held = HeldTopics()
        # Topics whose metadata the producer has: a batch of them needs no question first.
        self._topics_with_metadata: set[str] = set()

    def hand_over(self, messages: list[OutgoingMessage]) -> None:
        """Rows a transaction just committed (or the safety net found), in seq order."""
        fresh = [message for message in messages if message.seq not in self._known]
        if fresh:
            self._known.update(message.seq for message in fresh)
            for row in [row for row in fresh if self.held.holds(row.topic)]:
                self.held.add(row)
            self._enqueue([row for row in fresh if not self.held.holds(row.topic)])

    def _enqueue(self, rows: list[OutgoingMessage]) -> None:
        if not rows:
            return  # waking the loop for nothing turned an idle relay into a busy loop
        if self._queue and rows[0].seq < self._queue[-1].seq:  # a straggler
            self._queue = deque(sorted([*self._queue, *rows], key=lambda row: row.seq))
        else:
            self._queue.extend(rows)
        self.metrics.outbox_backlog.set(len(self._queue))
        self._wakeup.set()

    @property
    def backlog(self) -> int:
        return len(self._queue) + self.held.count

    async def run(self, stopping: asyncio.Event) -> None:
        failures = 0
        try:
            while not stopping.is_set():
                self._wakeup.clear()
                try:
                    await self._poll_if_due()
                    await self.publish_pending()
                    failures, self.failing_since = 0, None
                except Exception as error:  # the relay must outlive any single failure
                    failures += 1
                    self.failing_since = self.failing_since or time.time()
                    self.metrics.publish_failures.inc()
                    log.warning("publishing failed; recreating the producer",
                                exc_info=not isinstance(error, KafkaError | OSError | TimeoutError),
                                extra={"error": repr(error), "failures": failures})
                    await self._close_producer()
                    await sleep_or_stop(stopping, min(10.0, 0.2 * 2 ** failures))
                    continue
                await wait_for_any(self._wakeup, stopping, timeout=min(
                    self.settings.relay_poll_interval,
                    self.held.seconds_until_due() or self.settings.relay_poll_interval))
            try:
                await self.publish_pending()  # flush what the last handlers committed
            except (KafkaError, OSError, TimeoutError) as error:  # they stay in the outbox
                log.warning("final flush failed; unsent rows go out after a restart",
                            extra={"error": repr(error), "unsent": len(self._queue)})
        finally:
            if self._marking is not None:
                await asyncio.gather(self._marking, return_exceptions=True)
            await self._close_producer()

    async def _poll_if_due(self) -> None:
        """Rows committed but not handed over: all of them at start; later, on its own timer
        whatever the backlog (a busy relay is exactly when a stranded row would wait
        longest), those committed ``relay_stranded_after`` seconds ago or earlier. Only the
        seqs are read first: the rows this relay already holds are not read again."""
        if time.monotonic() - self._last_poll < self.settings.relay_poll_interval:
            return
        first = self._last_poll == -float("inf")
        self._last_poll = time.monotonic()
        before = None if first else time.time() - self.settings.relay_stranded_after
        seqs = await self.writer.run(lambda db: Outbox(db).unsent_seqs(created_before=before))
        stranded = [seq for seq in seqs if seq not in self._known]
        for start in range(0, len(stranded), BATCH):
            self.hand_over(await self.writer.run(
                lambda db, seqs: Outbox(db).rows(seqs), stranded[start:start + BATCH]))

    async def publish_pending(self) -> int:
        """Send everything queued, and what arrives meanwhile. Batches are sent without
        waiting for the previous one's acknowledgement (up to MAX_IN_FLIGHT of them); the
        first failure is raised once every batch in flight has settled."""
        self._enqueue(self.held.due())
        if not self._queue:
            return 0
        producer = await self._ensure_producer()
        in_flight: set[asyncio.Task] = set()
        total, failure = 0, None
        while (self._queue and failure is None) or in_flight:
            while self._queue and failure is None and len(in_flight) < MAX_IN_FLIGHT:
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                in_flight.add(asyncio.create_task(self._publish(producer, batch)))
            self.metrics.outbox_backlog.set(len(self._queue))
            self._wakeup.clear()
            arrival = asyncio.ensure_future(self._wakeup.wait())
            done, _ = await asyncio.wait({*in_flight, arrival}, return_when=asyncio.FIRST_COMPLETED)
            arrival.cancel()
            for task in done - {arrival}:
                in_flight.discard(task)
                if task.exception() is not None:
                    failure = failure or task.exception()
                else:
                    total += task.result()
        if failure is not None:
            raise failure
        return total

    async def _publish(self, producer: AIOKafkaProducer, rows: list[OutgoingMessage]) -> int:
        """Send rows; put back those that failed and can succeed later."""
        try:
            outcomes = await self._send(producer, rows)
        except BaseException:
            self._requeue(rows)
            raise
        sent = [row for row, outcome in outcomes if outcome is None]
        refused = [(row, outcome) for row, outcome in outcomes
                   if isinstance(outcome, UNPUBLISHABLE)]
        again = [(row, outcome) for row, outcome in outcomes
                 if outcome is not None and not isinstance(outcome, UNPUBLISHABLE)]
        self._hold_failing_topics([(row, error) for row, error in again
                                   if isinstance(error, TOPIC_ERRORS)])
        self._topics_with_metadata -= {row.topic for row, _ in again}  # ask again next time
        again = [(row, error) for row, error in again if not isinstance(error, TOPIC_ERRORS)]
        for topic in {row.topic for row in sent}:
            self.held.published(topic)
        self.crash_points.reached("after_publish", *(row.topic for row in sent))
        self._mark([row.seq for row in sent], refused)
        for row, error in refused:
            log.error("outbox row refused by the broker; skipped", extra={
                "seq": row.seq, "topic": row.topic, "bytes": row.size, "error": repr(error)})
        self.published += len(sent)
        for topic, count in Counter(row.topic for row in sent).items():
            self.metrics.labelled(self.metrics.published, topic).inc(count)
        if again:
            self._requeue([row for row, _ in again])
            raise again[0][1]
        return len(sent)

    def _hold_failing_topics(self, failed: list[tuple[OutgoingMessage, Exception]]) -> None:
        """Rows refused for their topic's sake wait aside, with every queued row of the
        same topic (it must not overtake them)."""
        if not failed:
            return
        topics = {row.topic for row, _ in failed}
        behind = [row for row in self._queue if row.topic in topics]
        self._queue = deque(row for row in self._queue if row.topic not in topics)
        rows = sorted([*(row for row, _ in failed), *behind], key=lambda row: row.seq)
        self.held.hold(rows, failed[0][1])
        log.error("a topic refuses every send; holding its rows, the other topics go on",
                  extra={"topics": sorted(topics), "rows": len(rows), "error": repr(failed[0][1])})

    def _requeue(self, rows: list[OutgoingMessage]) -> None:
        """Back into the queue, in seq order, ahead of rows not sent yet."""
        self._queue = deque(sorted([*rows, *self._queue], key=lambda row: row.seq))
        self._wakeup.set()

    def _mark(self, sent: list[int], refused: list[tuple[OutgoingMessage, Exception]]) -> None:
        self._unmarked += sent
        self._unmarked_refused += refused
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_in_background())

    async def _mark_in_background(self) -> None:
        while self._unmarked or self._unmarked_refused:
            sent, self._unmarked = self._unmarked, []
            refused, self._unmarked_refused = self._unmarked_refused, []
            try:
                await self.writer.run(_record_outcomes, sent, refused)
            except Exception:  # the safety net publishes them again: harmless, deduplicated
                log.exception("marking outbox rows sent failed")
            self._known.difference_update(sent)
            self._known.difference_update(row.seq for row, _ in refused)

    async def _send(self, producer: AIOKafkaProducer, rows: list[OutgoingMessage]
                    ) -> list[tuple[OutgoingMessage, Exception | None]]:
        started = time.time()
        pending: list[tuple[OutgoingMessage, asyncio.Future | Exception]] = []
        unknown = await self._topics_without_metadata(
            producer, {row.topic for row in rows} - self._topics_with_metadata)
        pending += [(row, unknown[row.topic]) for row in rows if row.topic in unknown]
        rows = [row for row in rows if row.topic not in unknown]
        async with asyncio.timeout(self.settings.send_timeout):
            # send() can wait (metadata, a full batch): without the lock a later batch could
            # slip rows into a partition ahead of this one's.
            async with self._sending:
                for row in rows:
                    self.metrics.relay_pickup_seconds.observe(max(0.0, started - row.created_at))
                    try:
                        pending.append((row, await producer.send(
                            self.settings.topic(row.topic), row.value, key=row.key,
                            headers=row.headers)))
                    except UNPUBLISHABLE as refused:  # checked by the client before sending
                        pending.append((row, refused))
            futures = [item for _, item in pending if isinstance(item, asyncio.Future)]
            await asyncio.gather(*futures, return_exceptions=True)
        acknowledged = time.time() - started
        outcomes = []
        for row, item in pending:
            if isinstance(item, Exception):
                outcomes.append((row, item))
            else:
                outcomes.append((row, item.exception()))
                if item.exception() is None:
                    self.metrics.publish_seconds.observe(acknowledged)
        return outcomes

    async def _topics_without_metadata(self, producer: AIOKafkaProducer, topics: set[str]
                                       ) -> dict[str, Exception]:
        """The topics the broker does not know or lets us not write, each with its error.
        Asked before the batch's own timeout starts: a topic that does not exist takes the
        client a whole request timeout to give up on, and must not fail the batch with it."""
        errors: dict[str, Exception] = {}
        for topic in topics:
            try:
                async with asyncio.timeout(self.settings.send_timeout + 1):
                    await producer.partitions_for(self.settings.topic(topic))
            except TOPIC_ERRORS as error:
                errors[topic] = error
            else:
                self._topics_with_metadata.add(topic)
        return errors

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                **self.settings.client_options(), client_id=self.settings.service_name,
                enable_idempotence=True, acks="all", linger_ms=self.settings.producer_linger_ms,
                max_batch_size=self.settings.producer_batch_bytes,
                request_timeout_ms=int(self.settings.send_timeout * 1000))
            self._producer = producer  # closed by _close_producer() even if start() fails
            async with asyncio.timeout(self.settings.send_timeout):
                await producer.start()
        return self._producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        self._topics_with_metadata.clear()
        if producer is not None:
            # stop() flushes and can hang while the broker is down: bound it.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.send_timeout):
                    await producer.stop()


def _record_outcomes(db: Database, sent: list[int],
                     refused: list[tuple[OutgoingMessage, Exception]]) -> None:
    """On the writer thread. Without waiting for the disk: losing this update only means the
    rows are published once more (consumers deduplicate), and the next group commit makes it
    durable anyway (the log is written in order)."""
    with db.transaction(durable=False):
        outbox = Outbox(db)
        outbox.mark_sent(sent)
        for row, error in refused:
            outbox.mark_failed(row.seq, f"{type(error).__name__}: {error}")
