"""The consumer loop: at-least-once in, offsets committed only after local commits.

Guarantees: a record's offset (+1) is committed only after
:meth:`EventProcessor.process` returned, i.e. after the record's effect, retry
entry or dead letter is durable in SQLite. A crash anywhere before that
redelivers the record, and the inbox turns the redelivery into a no-op.
Ordering is per partition, hence per order id (the message key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from shared.deadletters import Delivery
from shared.faults import CrashPoints
from shared.processing import EventProcessor
from shared.settings import Settings

log = logging.getLogger(__name__)


class EventConsumer:
    def __init__(self, settings: Settings, event_types: list[str], processor: EventProcessor,
                 crash_points: CrashPoints | None = None) -> None:
        self.settings = settings
        self.topics = [settings.topic(name) for name in event_types]
        self.processor = processor
        self.crash_points = crash_points or CrashPoints(None)
        self.last_progress = time.monotonic()
        self.assigned: set[TopicPartition] = set()
        self._done: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self.started = False

    async def run(self, stopping: asyncio.Event) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.consumer_group, client_id=self.settings.service_name,
            enable_auto_commit=False, auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=self.settings.session_timeout_ms,
            heartbeat_interval_ms=self.settings.heartbeat_interval_ms,
            max_poll_interval_ms=self.settings.max_poll_interval_ms)
        self._consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))
        try:
            await self._consumer.start()
            self.started = True
            while not stopping.is_set():
                batches = await self._consumer.getmany(timeout_ms=500, max_records=200)
                self.last_progress = time.monotonic()
                failed = self._process(batches)
                await self._commit_done()
                if failed:
                    await asyncio.sleep(1.0)  # e.g. the disk is full: do not spin
        finally:
            await self._stop_consumer()

    def _process(self, batches: dict[TopicPartition, list]) -> bool:
        """Process in order per partition; True if a record must be read again."""
        failed = False
        for partition, records in batches.items():
            for record in records:
                delivery = Delivery(record.topic.removeprefix(self.settings.topic_prefix),
                                    record.partition, record.offset, record.key, record.value)
                try:
                    self.processor.process(delivery)
                except Exception:
                    # Nothing was decided for this record: read it again, after the others.
                    log.exception("processing failed; the record will be redelivered",
                                  extra={"topic": record.topic, "offset": record.offset})
                    self._consumer.seek(partition, record.offset)
                    failed = True
                    break
                self._done[partition] = record.offset + 1
        return failed

    async def _commit_done(self) -> None:
        if not self._done:
            return
        self.crash_points.reached("before_offset_commit", *(
            tp.topic.removeprefix(self.settings.topic_prefix) for tp in self._done))
        offsets, self._done = self._done, {}
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as error:
            # Harmless: the records come back to whoever owns the partition, and the inbox
            # makes their second application a no-op.
            log.warning("offset commit failed", extra={"error": repr(error)})

    async def commit_revoked(self, revoked: set[TopicPartition]) -> None:
        offsets = {tp: offset for tp, offset in self._done.items() if tp in revoked}
        for tp in offsets:
            self._done.pop(tp)
        if offsets:
            with contextlib.suppress(CommitFailedError, KafkaError):
                await self._consumer.commit(offsets)

    async def _stop_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.settings.send_timeout):
                await consumer.stop()


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Hand over finished work before partitions move to another member."""

    def __init__(self, owner: EventConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.owner.commit_revoked(set(revoked))
        self.owner.assigned -= set(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.owner.assigned |= set(assigned)
