"""Offset commits in the background: the consumer loop never waits for the broker's answer.

Guarantee: the consumer hands offsets over only after their batch is durable in SQLite, so
a committed offset never runs ahead of the local state. Offsets only grow: the latest for a
partition replaces any earlier one not yet sent, and one commit is in flight at a time.
Losing a commit (a crash, a rebalance) only redelivers records the inbox has already seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from shared.faults import CrashPoints

log = logging.getLogger(__name__)


class OffsetCommitter:
    def __init__(self, consumer: AIOKafkaConsumer, crash_points: CrashPoints,
                 topic_prefix: str = "", interval: float = 0.0) -> None:
        self.consumer, self.crash_points, self.prefix = consumer, crash_points, topic_prefix
        self.interval = interval
        self._pending: dict[TopicPartition, int] = {}
        self._wakeup = asyncio.Event()

    def add(self, offsets: dict[TopicPartition, int]) -> None:
        self._pending.update(offsets)
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self.flush()
            await asyncio.sleep(self.interval)  # fewer, larger commits: less work for the broker

    async def flush(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit what is pending now (only these partitions, if given)."""
        chosen = {tp: offset for tp, offset in self._pending.items()
                  if partitions is None or tp in partitions}
        if not chosen:
            return
        for tp in chosen:
            if self._pending.get(tp) == chosen[tp]:
                del self._pending[tp]
        self.crash_points.reached("before_offset_commit", *(
            tp.topic.removeprefix(self.prefix) for tp in chosen))
        try:
            await self.consumer.commit(chosen)
        except (CommitFailedError, KafkaError) as error:
            # Harmless: the records come back to whoever owns the partition, and the inbox
            # makes their second application a no-op.
            log.warning("offset commit failed", extra={"error": repr(error)})

    async def close(self, timeout: float) -> None:
        """The last offsets, before the consumer leaves its group."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                await self.flush()
