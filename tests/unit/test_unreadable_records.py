"""Finding the unreadable record after a failed fetch (``shared.runtime.unreadable``), the
search alone: the consumer is a stand-in that holds records per partition and says what
aiokafka's consumer says of them (assignment, high-water mark, position). The real broker's
side is in tests/integration/test_hostile_records.py and test_garbage_run.py."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.errors import UnsupportedCodecError

from shared.runtime.unreadable import UnreadableRecords


class Partitions:
    """Records per partition up to its end; a read that meets one of the ``bad`` offsets
    raises and returns nothing."""

    def __init__(self, ends: dict[TopicPartition, int], bad: set[tuple] = frozenset(),
                 unfetched: set[TopicPartition] = frozenset()) -> None:
        self.ends, self.bad, self.unfetched = ends, bad, unfetched
        self.positions = dict.fromkeys(ends, 0)
        self.read: list[TopicPartition] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, tp: TopicPartition) -> int | None:
        return None if tp in self.unfetched else self.ends[tp]

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, tp: TopicPartition, *, timeout_ms: int, max_records: int) -> dict:
        self.read.append(tp)
        start = self.positions[tp]
        end = min(self.ends[tp], start + max_records)
        if any((tp, offset) in self.bad for offset in range(start, end)):
            raise UnsupportedCodecError("snappy")  # and what it read is dropped, as aiokafka does
        self.positions[tp] = end
        return {tp: list(range(start, end))} if end > start else {}

    def pause(self, tp: TopicPartition) -> None:
        pass


def _search(consumer: Partitions, set_aside: list) -> UnreadableRecords:
    async def rewind(partitions):
        for tp in partitions:
            consumer.positions[tp] = 0

    async def aside(tp, position, error):
        set_aside.append((tp, position))
        return True

    return UnreadableRecords(consumer, max_tries=1, batch_max=10, rewind=rewind,
                             set_aside=aside)


async def test_only_partitions_with_records_left_are_read_alone_after_a_failed_fetch():
    bad, empty = TopicPartition("StockAdded", 0), TopicPartition("StockAdded", 1)
    others = {TopicPartition(f"Topic{n}", 0): 0 for n in range(20)}  # read to their end
    unknown = TopicPartition("OrderCreated", 2)  # no fetch has said how far it goes
    consumer = Partitions({bad: 3, empty: 0, unknown: 2, **others}, bad={(bad, 0)},
                          unfetched={unknown})
    set_aside: list = []

    found = await _search(consumer, set_aside).read_around(consumer.assignment())

    assert set(consumer.read) == {bad, unknown}
    assert found == {unknown: [0, 1]}
    assert set_aside == [(bad, 0)]


async def test_good_records_in_front_of_an_unreadable_one_come_back():
    tp = TopicPartition("StockAdded", 0)
    consumer = Partitions({tp: 5}, bad={(tp, 2)})
    set_aside: list = []

    found = await _search(consumer, set_aside).read_around({tp})

    assert found == {tp: [0, 1]} and set_aside == []
