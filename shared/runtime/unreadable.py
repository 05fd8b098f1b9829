"""Records the consumer cannot read: find the one that fails on its own, and only that one.

aiokafka unpacks a fetched partition lazily. When it meets a record batch it cannot read — a
corrupt CRC, a codec this process lacks, a header key that is not UTF-8 — it raises from
``getmany`` and drops what that call had read so far, from every partition; it does not say
which partition failed. So the consumer goes back to its own positions and reads alone each
partition that has records left (the last fetch says which: a read of a partition already
read to its end only waits); the partition that fails is then read **one record at a time**,
so the good records in front of the bad one come back and are handled like any others. Only a
record that fails with nothing read before it is blamed. It is tried again with a backoff (its
partition paused meanwhile, the others flowing), and set aside — dead-lettered by its
coordinates — after ``SAGA_UNREADABLE_MAX_TRIES``. A broker's error (not authorized, not the
leader, …) blames no record: it is not about one record, and it ends the consumer instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CorruptRecordException, KafkaError, UnsupportedCodecError

log = logging.getLogger(__name__)
#: aiokafka raises these from getmany() when it cannot unpack a fetched record batch.
UNREADABLE = (CorruptRecordException, UnsupportedCodecError)
Records = dict[TopicPartition, list]


def about_a_record(error: BaseException) -> bool:
    """An error from a fetch that comes from unpacking records (any error that is not the
    broker's), as opposed to the broker refusing or failing the fetch."""
    return isinstance(error, UNREADABLE) or (isinstance(error, Exception)
                                            and not isinstance(error, KafkaError))


class UnreadableRecords:
    def __init__(self, consumer: AIOKafkaConsumer, *, max_tries: int, batch_max: int,
                 rewind: Callable[[set[TopicPartition]], Awaitable[None]],
                 set_aside: Callable[[TopicPartition, int, Exception], Awaitable[bool]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.consumer, self.max_tries, self.batch_max = consumer, max_tries, batch_max
        self.rewind, self.set_aside, self.clock = rewind, set_aside, clock
        self._tries: dict[tuple[TopicPartition, int], int] = {}
        self._paused: dict[TopicPartition, float] = {}  # until when
        self._last_skipped: tuple[TopicPartition, int] | None = None

    async def read_around(self, owned: set[TopicPartition]) -> Records:
        """After a fetch failed: every readable record of the owned partitions, in order, up
        to the first unreadable one of each; the unreadable one is tried or set aside."""
        await self.rewind(owned)
        found: Records = {}
        for tp in sorted(owned - set(self._paused)):
            if not await self._has_unread_records(tp):
                continue  # nothing there: its next records come with the next fetch
            try:
                # Short waits: after the rewind one fetch brings every partition's records.
                found.update(await self.consumer.getmany(tp, timeout_ms=200,
                                                         max_records=self.batch_max))
            except Exception as error:
                if not about_a_record(error):
                    raise
                records, error = await self._one_by_one(tp, error)
                if records:
                    found[tp] = records  # the unreadable one is met again on the next read
                else:
                    await self._blame(tp, error)
        return found

    async def _has_unread_records(self, tp: TopicPartition) -> bool:
        """Unless the last fetch of the partition found it read to its end (its high-water
        mark). A service owns dozens of partitions and a read of an empty one waits its whole
        timeout: reading each took seconds per unreadable record, most of it waiting."""
        if tp not in self.consumer.assignment():
            return False
        highwater = self.consumer.highwater(tp)
        return highwater is None or await self.consumer.position(tp) < highwater

    def resume_due(self) -> None:
        """Partitions whose backoff is over are read again."""
        now = self.clock()
        for tp in [tp for tp, until in self._paused.items() if until <= now]:
            del self._paused[tp]
            if tp in self.consumer.assignment():
                self.consumer.resume(tp)

    def forget(self, partitions: set[TopicPartition]) -> None:
        """Revoked: their new owner finds their unreadable records itself."""
        for tp in partitions:
            self._paused.pop(tp, None)

    async def _one_by_one(self, tp: TopicPartition, error: Exception
                          ) -> tuple[list, Exception]:
        await self.rewind({tp})
        records: list = []
        while len(records) < self.batch_max:
            try:
                got = await self.consumer.getmany(tp, timeout_ms=200, max_records=1)
            except Exception as failed:
                if not about_a_record(failed):
                    raise
                return records, failed
            if not got:
                break
            records += got[tp]
        return records, error

    async def _blame(self, tp: TopicPartition, error: Exception) -> None:
        position = await self.consumer.position(tp)
        key = (tp, position)
        tries = self._tries[key] = self._tries.get(key, 0) + 1
        # Inside a run of unreadable offsets (one bad batch) one try per offset is enough.
        limit = 1 if self._last_skipped == (tp, position - 1) else self.max_tries
        if tries < limit:
            delay = min(5.0, 0.5 * 2 ** (tries - 1))
            log.warning("a record cannot be read; trying it again after a pause", extra={
                "topic": tp.topic, "partition": tp.partition, "offset": position,
                "tries": tries, "pause": delay, "error": repr(error)})
            self.consumer.pause(tp)
            self._paused[tp] = self.clock() + delay
            return
        del self._tries[key]
        if await self.set_aside(tp, position, error):
            self._last_skipped = key
