"""The offset committer's promises, against a fake of the consumer's commit call (the
real one is exercised by every integration test): it commits only partitions this member
owns, tries a failed commit again, and never lets an older offset replace a newer one."""

import asyncio

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from shared.faults import CrashPoints
from shared.runtime.offsets import OffsetCommitter

P0, P1 = TopicPartition("OrderCreated", 0), TopicPartition("OrderCreated", 1)


class FakeConsumer:
    def __init__(self, owned, failures=0) -> None:
        self.owned, self.failures, self.commits = set(owned), failures, []

    def assignment(self):
        return set(self.owned)

    async def commit(self, offsets):
        await asyncio.sleep(0)
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("coordinator unreachable")
        self.commits.append(dict(offsets))


def committer_for(consumer) -> OffsetCommitter:
    return OffsetCommitter(consumer, CrashPoints(None))


async def test_offsets_of_a_partition_no_longer_owned_are_dropped_not_sent():
    consumer = FakeConsumer(owned={P0})
    committer = committer_for(consumer)
    committer.add({P0: 5, P1: 9})
    assert await committer.flush()
    assert consumer.commits == [{P0: 5}]


async def test_a_failed_commit_is_tried_again_unless_a_newer_offset_arrived():
    consumer = FakeConsumer(owned={P0, P1}, failures=1)
    committer = committer_for(consumer)
    committer.add({P0: 5, P1: 9})
    assert not await committer.flush()
    committer.add({P1: 12})  # a later batch of P1 was decided meanwhile
    assert await committer.flush()
    assert consumer.commits == [{P0: 5, P1: 12}]


async def test_a_flush_of_some_partitions_leaves_the_others_pending():
    consumer = FakeConsumer(owned={P0, P1})
    committer = committer_for(consumer)
    committer.add({P0: 5, P1: 9})
    await committer.flush({P1})
    await committer.flush()
    assert consumer.commits == [{P1: 9}, {P0: 5}]


async def test_commits_never_overlap_so_they_reach_the_broker_in_order():
    consumer = FakeConsumer(owned={P0})
    in_flight, overlapped = 0, False
    plain_commit = consumer.commit

    async def commit(offsets):
        nonlocal in_flight, overlapped
        in_flight += 1
        overlapped |= in_flight > 1
        await asyncio.sleep(0.01)
        await plain_commit(offsets)
        in_flight -= 1

    consumer.commit = commit
    committer = committer_for(consumer)
    committer.add({P0: 5})
    first = asyncio.create_task(committer.flush())
    await asyncio.sleep(0)
    committer.add({P0: 7})
    await asyncio.gather(first, committer.flush())
    assert not overlapped and consumer.commits == [{P0: 5}, {P0: 7}]
