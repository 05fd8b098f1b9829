"""The stall check: a partition behind its end that does not move, measured only by what
was observed."""

from aiokafka import TopicPartition

from shared.runtime.stalls import StallDetector

TP = TopicPartition("OrderCreated", 0)


def looked(*times: float, stalls: StallDetector | None = None, position: int | None = 7,
           end: int = 12, tp: TopicPartition = TP) -> StallDetector:
    """``stalls`` (a fresh one with a 20 s gap bound by default) after looks at these times
    that all found ``tp`` at ``position`` of ``end``."""
    stalls = stalls or StallDetector(max_gap=20.0)
    for now in times:
        stalls.observe(tp, position, end, now)
    return stalls


def test_a_partition_behind_at_the_same_position_stalls_from_first_to_last_look():
    assert looked(10.0, 15.0, 25.0, 40.0).stalled() == {TP: 30.0}


def test_a_partition_that_moves_starts_over():
    stalls = looked(30.0, stalls=looked(10.0, 20.0), position=9, end=14)

    assert stalls.stalled() == {}
    assert looked(35.0, stalls=stalls, position=9, end=14).stalled() == {TP: 5.0}


def test_a_partition_at_its_end_or_empty_is_not_behind():
    stalls = looked(20.0, stalls=looked(10.0), position=12)
    looked(20.0, 30.0, stalls=stalls, position=None, end=0,
           tp=TopicPartition("OrderCreated", 1))

    assert stalls.stalled() == {}


def test_an_unknown_position_is_no_evidence_of_a_stall():
    """The group coordinator did not say where the consumer stands: a look that learnt
    nothing, however long it goes on."""
    assert looked(10.0, 25.0, 40.0, position=None, end=3).stalled() == {}


def test_an_unknown_position_neither_grows_nor_ends_a_stall_seen_before():
    stalls = looked(30.0, 40.0, stalls=looked(10.0, 20.0), position=None)

    assert stalls.stalled() == {TP: 10.0}


def test_without_new_looks_the_stall_does_not_grow():
    """A broker that cannot be asked is no evidence: the consumer is not restarted for it."""
    # whatever time passes until the next look
    assert looked(10.0, 12.0).stalled() == {TP: 2.0}


def test_a_gap_in_the_looks_starts_the_evidence_over():
    """The broker was down for a while: the consumer gets its chance to resume by itself."""
    stalls = looked(10.0, 15.0, 135.0)

    assert stalls.stalled() == {}
    assert looked(140.0, stalls=stalls).stalled() == {TP: 5.0}


def test_revoked_partitions_are_forgotten():
    stalls = looked(10.0, 20.0)
    stalls.forget({TP})

    assert stalls.stalled() == {}
