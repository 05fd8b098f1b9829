"""Offset commits in the background: the consumer loop never waits for the broker's answer.

Guarantee: the consumer hands offsets over only after their batch is durable in SQLite, so
a committed offset never runs ahead of the local state. Offsets only grow: the latest for a
partition replaces any earlier one not yet sent, one commit is in flight at a time (the
background loop, the hand-over at a rebalance and the last commit at close take turns), and
only partitions this member still owns are committed. A commit that fails is tried again.
Losing a commit (a crash, a rebalance) only redelivers records the inbox has already seen.
"""

from __future__ import annotations

import asyncio
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
        self._committing = asyncio.Lock()

    def add(self, offsets: dict[TopicPartition, int]) -> None:
        self._pending.update(offsets)
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            committed = await self.flush()
            # Fewer, larger commits: less work for the broker; after a failure, a longer pause.
            await asyncio.sleep(self.interval if committed else max(self.interval, 1.0))

    async def flush(self, partitions: set[TopicPartition] | None = None) -> bool:
        """Commit what is pending now (only these partitions, if given); False if it failed."""
        async with self._committing:
            owned = self.consumer.assignment()
            for tp in [tp for tp in self._pending if tp not in owned]:
                del self._pending[tp]  # revoked: its new owner redelivers from the last commit
            chosen = {tp: offset for tp, offset in self._pending.items()
                      if partitions is None or tp in partitions}
            if not chosen:
                return True
            for tp in chosen:
                del self._pending[tp]
            self.crash_points.reached("before_offset_commit", *(
                tp.topic.removeprefix(self.prefix) for tp in chosen))
            try:
                await self.consumer.commit(chosen)
            except (CommitFailedError, KafkaError) as error:
                # Harmless for correctness (the records come back and the inbox makes their
                # second application a no-op), but try again so the committed position — and
                # the lag it shows — does not stay behind.
                log.warning("offset commit failed; will try again", extra={"error": repr(error)})
                for tp, offset in chosen.items():
                    self._pending.setdefault(tp, offset)  # unless a newer one arrived meanwhile
                self._wakeup.set()
                return False
            return True

    async def close(self, timeout: float) -> None:
        """The last offsets, before the consumer leaves its group."""
        try:
            async with asyncio.timeout(timeout):
                await self.flush()
        except (TimeoutError, KafkaError, OSError) as error:
            log.warning("last offset commit failed; those records are redelivered",
                        extra={"error": repr(error)})
