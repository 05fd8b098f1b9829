"""The consumer loop: at-least-once in, offsets committed only after the batch is durable.

Guarantees: a record's offset (+1) is committed only after the group commit that decided it
(applied, queued, parked or dead-lettered) returned, i.e. after it is durable in SQLite
(the commit itself runs in the background: :mod:`shared.runtime.offsets`). A
crash anywhere before that redelivers the record, and the inbox turns the redelivery into a
no-op. Ordering is per partition, hence per order id (the message key). The event loop only
awaits: decoding, handlers and the fsync run on the service's writer thread.

A record that cannot be read at all (a corrupt CRC, a codec this process lacks, a header
that is not UTF-8) is found among the good ones around it, tried again a few times with a
backoff, then dead-lettered by its coordinates and skipped: never a crash loop, and never a
good record blamed for it (:mod:`shared.runtime.unreadable`).

Several instances of a service share its consumer group. The assignment is co-partitioned
(the range assignor): partition p of every topic goes to one member, so all events of an order
(its id is the key) reach one instance, in order. When partitions move, the old owner lets the
batch it is deciding commit before it gives them up, so their new owner never decides beside
it.

Membership is static by default (``group_instance_id``: the instance's name, KIP-345): the
group keeps this instance's partitions for it across a restart, so an instance killed and
started again gets them back at once instead of after the session timeout. A static member
does not leave its group when it stops (aiokafka sends no LeaveGroup for one): an instance
that stops for good keeps its partitions until the session timeout, then the others take them.
The group also keeps the *assignment* across the restart, even one made while a topic was
missing from the metadata (a broker of a cluster that had not heard of a new topic yet) or
before this version subscribed to a topic: a member that owns partition p of some topics but
not of all asks the group for a new assignment.

Every few seconds the consumer reads the end offsets of the partitions it owns: that is the
lag it exports, and how it notices a partition that is behind and not moving while the
others flow (:mod:`shared.runtime.stalls`); the service's watchdog restarts it then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError

from shared.deadletters import Delivery
from shared.faults import CrashPoints
from shared.metrics import ServiceMetrics
from shared.outbox import OutgoingMessage
from shared.processing import EventProcessor
from shared.runtime.offsets import OffsetCommitter
from shared.runtime.stalls import StallDetector
from shared.runtime.store import StoreWriter
from shared.runtime.unreadable import UnreadableRecords, about_a_record
from shared.settings import Settings

log = logging.getLogger(__name__)
#: Seconds between two requests for a new assignment (each is a rebalance of the group).
REASSIGN_INTERVAL = 10.0


class EventConsumer:
    #: Seconds between two reads of the owned partitions' end offsets (lag, stalls); a class
    #: attribute so that tests can make it short.
    end_offsets_interval = 5.0

    def __init__(self, settings: Settings, event_types: list[str], writer: StoreWriter,
                 processor: EventProcessor, on_committed: Callable[[list[OutgoingMessage]], None],
                 *, metrics: ServiceMetrics | None = None,
                 crash_points: CrashPoints | None = None) -> None:
        self.settings = settings
        self.topics = [settings.topic(name) for name in event_types]
        self.writer, self.processor, self.on_committed = writer, processor, on_committed
        self.metrics = metrics or ServiceMetrics()
        self.crash_points = crash_points or CrashPoints(None)
        self.last_progress = time.monotonic()
        self.assigned: set[TopicPartition] = set()
        #: An assignment arrived and was not revoked since (it may be empty).
        self.in_group = False
        #: Next offset to process, per partition: where to go back to after a failure.
        self.positions: dict[TopicPartition, int] = {}
        #: Consecutive rounds that failed (a batch not decided, or a batch not readable).
        self.failures = 0
        self.last_error = ""
        #: Batches (or unreadable records) decided: this consumer has made progress.
        self.decided = 0
        #: The group commit in progress, if any.
        self.deciding: asyncio.Future | None = None
        # Looks come every interval, each bounded by the send timeout.
        self.stalls = StallDetector(max_gap=2 * self.end_offsets_interval + settings.send_timeout)
        self._reassign_asked = 0.0
        self._consumer: AIOKafkaConsumer | None = None
        self.started = False

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        self._consumer = AIOKafkaConsumer(
            **s.client_options(), group_id=s.consumer_group,
            group_instance_id=s.consumer_instance_id,
            client_id=s.service_name, enable_auto_commit=False, auto_offset_reset="earliest",
            isolation_level="read_committed", session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            max_poll_interval_ms=s.max_poll_interval_ms, fetch_max_wait_ms=s.fetch_max_wait_ms,
            max_partition_fetch_bytes=s.max_partition_fetch_bytes,
            # Partition p of every input topic to the same member: an order's events (keyed
            # by its id) all reach one instance, in order (round robin would split them).
            partition_assignment_strategy=(RangePartitionAssignor,))
        self._consumer.subscribe(self.topics, listener=_TrackAssignment(self))
        self._unreadable = UnreadableRecords(
            self._consumer, max_tries=s.unreadable_max_tries, batch_max=s.batch_max_events,
            rewind=self._rewind, set_aside=self._set_aside)
        self.committer = OffsetCommitter(self._consumer, self.crash_points, s.topic_prefix,
                                         s.offset_commit_interval_ms / 1000)
        committing = asyncio.create_task(self.committer.run())
        watching: asyncio.Task | None = None
        try:
            await self._consumer.start()
            self.started = True
            watching = asyncio.create_task(self._watch_partitions())
            while not stopping.is_set():
                batches = await self._fetch()
                self.last_progress = time.monotonic()
                if batches:
                    await self._handle(batches)
                self._claim_every_topic()
        finally:
            committing.cancel()
            if watching is not None:
                watching.cancel()
            await self.committer.close(self.settings.send_timeout)
            await self._stop_consumer()

    @property
    def failing(self) -> bool:
        return self.failures >= 3

    async def _fetch(self) -> dict[TopicPartition, list]:
        self._unreadable.resume_due()
        try:
            return await self._consumer.getmany(timeout_ms=500,
                                                max_records=self.settings.batch_max_events)
        except Exception as error:
            if not about_a_record(error):
                raise
            self._failed(error)
            log.warning("a fetched record could not be read; finding it",
                        extra={"error": self.last_error, "failures": self.failures})
            return await self._unreadable.read_around(self.assigned)

    async def _set_aside(self, tp: TopicPartition, position: int, error: Exception) -> bool:
        """Dead-letter the unreadable record at ``position`` by its coordinates and move past
        it; False if the partition was revoked meanwhile (its new owner reads the record
        again, and dead-lettering the same coordinates twice writes one letter)."""
        delivery = Delivery(tp.topic.removeprefix(self.settings.topic_prefix), tp.partition,
                            position, None, None)
        log.error("record unreadable; dead-lettering it by its coordinates and moving on",
                  extra={"topic": tp.topic, "partition": tp.partition, "offset": position,
                         "error": repr(error)})
        self.on_committed(await self.writer.call(
            self.processor.set_aside, delivery, "unreadable", f"{type(error).__name__}: {error}"))
        if tp not in self._consumer.assignment():
            return False
        self._consumer.seek(tp, position + 1)
        self.positions[tp] = position + 1
        self.committer.add({tp: position + 1})
        self.failures = 0  # skipped: the partition flows again
        self.decided += 1
        return True

    async def _handle(self, batches: dict[TopicPartition, list]) -> None:
        now = time.time()
        deliveries = []
        for records in batches.values():
            for r in records:
                deliveries.append(Delivery(
                    r.topic.removeprefix(self.settings.topic_prefix), r.partition, r.offset,
                    r.key, r.value, tuple(r.headers or ()), r.timestamp))
                self.metrics.event_wait_seconds.observe(max(0.0, now - r.timestamp / 1000))
        try:
            self.deciding = asyncio.ensure_future(
                self.writer.call(self.processor.process_batch, deliveries))
            messages = await self.deciding
        except Exception as error:
            # Nothing of the batch was decided: read it all again, after a pause (a full disk?).
            log.exception("processing a batch failed; it will be redelivered",
                          extra={"records": len(deliveries)})
            self._failed(error)
            await self._rewind(set(batches))
            await asyncio.sleep(1.0)
            return
        self.failures = 0
        self.decided += 1
        self.on_committed(messages)
        # A rebalance can revoke a partition while its batch is being decided: its new owner
        # reads it from the last committed offset (the inbox absorbs the repeat).
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()
                   if tp in self.assigned}
        self.positions.update(offsets)
        self.committer.add(offsets)

    async def _rewind(self, partitions: set[TopicPartition]) -> None:
        """Back to the next offset we have not decided, for each partition."""
        for tp in partitions & self._consumer.assignment():
            if tp in self.positions:
                self._consumer.seek(tp, self.positions[tp])
                continue
            committed = await self._consumer.committed(tp)
            if committed is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)

    def _claim_every_topic(self) -> None:
        """The assignment is co-partitioned: a member that owns partition p of one topic owns
        partition p of every topic it reads (and the only instance on SQLite owns them all).
        When it does not — the group kept an assignment made without some topic —
        re-subscribing makes this member rejoin, which rebalances the group and assigns
        afresh from the metadata as it is now."""
        missing = self._topics_missing()
        if (not self.in_group or not missing
                or time.monotonic() - self._reassign_asked < REASSIGN_INTERVAL):
            return
        self._reassign_asked = time.monotonic()
        unknown = sorted(t for t in missing if not self._consumer.partitions_for_topic(t))
        log.warning("this member owns no partition of some of its topics; asking the group "
                    "for a new assignment", extra={"missing": sorted(missing),
                                                   "unknown_to_metadata": unknown})
        if unknown:
            # The assignment is made from this client's metadata, which is refreshed only
            # every metadata_max_age_ms (5 min) and not by subscribing to the same topics
            # again: ask for it now (aiokafka has no public call for this).
            self._consumer._client.force_metadata_update()
        self._consumer.subscribe(self.topics, listener=_TrackAssignment(self))

    def _topics_missing(self) -> set[str]:
        """Topics this member should own a partition of and does not. The only instance
        (SQLite) must own some of every topic; one of several, partition p of every topic for
        each p it owns of any (it may own none, with more instances than partitions)."""
        if self.settings.database_url is None:
            return set(self.topics) - {tp.topic for tp in self.assigned}
        numbers = {tp.partition for tp in self.assigned}
        return {topic for topic in self.topics for number in numbers
                if TopicPartition(topic, number) not in self.assigned}

    def _failed(self, error: Exception) -> None:
        self.failures += 1
        self.last_error = f"{type(error).__name__}: {error}"[:300]

    async def _watch_partitions(self) -> None:
        """The owned partitions' end offsets, every few seconds: the lag metric and the
        stall check. A broker that does not answer only means nothing new is observed."""
        while True:
            owned = set(self.assigned)
            if owned:
                try:
                    async with asyncio.timeout(self.settings.send_timeout):
                        ends = await self._consumer.end_offsets(sorted(owned))
                        await self._observe(ends)
                except (KafkaError, OSError, TimeoutError) as error:
                    log.debug("end offsets unknown for now", extra={"error": repr(error)})
            await asyncio.sleep(self.end_offsets_interval if owned else 1.0)

    async def _observe(self, ends: dict[TopicPartition, int]) -> None:
        now = time.monotonic()
        for tp, end in ends.items():
            position = self.positions.get(tp)
            if position is None:
                # Nothing processed here since the assignment: where the client stands.
                with contextlib.suppress(KafkaError, TimeoutError):  # revoked meanwhile, too
                    async with asyncio.timeout(1.0):
                        position = await self._consumer.position(tp)
            if tp not in self.assigned:
                continue  # revoked meanwhile
            self.stalls.observe(tp, position, end, now)
            if position is not None:
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(0, end - position))

    def forget_unreadable(self, partitions: set[TopicPartition]) -> None:
        self._unreadable.forget(partitions)

    def stalled_partitions(self) -> dict[TopicPartition, float]:
        """Owned partitions behind their end, and for how many seconds they have not moved."""
        return self.stalls.stalled()

    async def _stop_consumer(self) -> None:
        """Close every connection (a dynamic member also leaves its group), bounded; a
        cancellation arriving meanwhile does not cut the stop short (it would leave
        heartbeats running)."""
        consumer, self._consumer = self._consumer, None
        stopping = asyncio.ensure_future(consumer.stop())
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(stopping), self.settings.send_timeout)


class _TrackAssignment(ConsumerRebalanceListener):
    """Hands finished work over before partitions move to another member, and keeps track of
    which partitions this member owns (for /health)."""

    def __init__(self, owner: EventConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        try:
            async with asyncio.timeout(self.owner.settings.send_timeout):
                # The batch being decided may hold their records: let it commit first, so
                # that their next owner starts after it instead of deciding beside it.
                if self.owner.deciding is not None and not self.owner.deciding.done():
                    await asyncio.wait([self.owner.deciding])
                await self.owner.committer.flush(set(revoked))
        except Exception as error:  # the new owner redelivers; the inbox absorbs it
            log.warning("offsets of revoked partitions not committed",
                        extra={"error": repr(error)})
        self.owner.assigned -= set(revoked)
        self.owner.in_group = False
        for tp in revoked:
            self.owner.positions.pop(tp, None)
        self.owner.stalls.forget(set(revoked))
        self.owner.forget_unreadable(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.owner.assigned |= set(assigned)
        self.owner.in_group = True
