"""The stall check: a partition behind its end that does not move, measured only by what
was observed."""

from aiokafka import TopicPartition

from shared.runtime.stalls import StallDetector

TP = TopicPartition("OrderCreated", 0)


def test_a_partition_behind_at_the_same_position_stalls_from_first_to_last_look():
    stalls = StallDetector(max_gap=20.0)
    for now in (10.0, 15.0, 25.0, 40.0):
        stalls.observe(TP, 7, 12, now)

    assert stalls.stalled() == {TP: 30.0}


def test_a_partition_that_moves_starts_over():
    stalls = StallDetector(max_gap=20.0)
    stalls.observe(TP, 7, 12, 10.0)
    stalls.observe(TP, 7, 12, 20.0)
    stalls.observe(TP, 9, 14, 30.0)

    assert stalls.stalled() == {}
    stalls.observe(TP, 9, 14, 35.0)
    assert stalls.stalled() == {TP: 5.0}


def test_a_partition_at_its_end_or_empty_is_not_behind():
    stalls = StallDetector(max_gap=20.0)
    stalls.observe(TP, 7, 12, 10.0)
    stalls.observe(TP, 12, 12, 20.0)
    stalls.observe(TopicPartition("OrderCreated", 1), None, 0, 20.0)
    stalls.observe(TopicPartition("OrderCreated", 1), None, 0, 30.0)

    assert stalls.stalled() == {}


def test_an_unknown_position_with_records_waiting_counts_as_behind():
    stalls = StallDetector(max_gap=20.0)
    stalls.observe(TP, None, 3, 10.0)
    stalls.observe(TP, None, 3, 25.0)

    assert stalls.stalled() == {TP: 15.0}


def test_without_new_looks_the_stall_does_not_grow():
    """A broker that cannot be asked is no evidence: the consumer is not restarted for it."""
    stalls = StallDetector(max_gap=20.0)
    stalls.observe(TP, 7, 12, 10.0)
    stalls.observe(TP, 7, 12, 12.0)

    assert stalls.stalled() == {TP: 2.0}  # whatever time passes until the next look


def test_a_gap_in_the_looks_starts_the_evidence_over():
    """The broker was down for a while: the consumer gets its chance to resume by itself."""
    stalls = StallDetector(max_gap=20.0)
    stalls.observe(TP, 7, 12, 10.0)
    stalls.observe(TP, 7, 12, 15.0)
    stalls.observe(TP, 7, 12, 135.0)

    assert stalls.stalled() == {}
    stalls.observe(TP, 7, 12, 140.0)
    assert stalls.stalled() == {TP: 5.0}


def test_revoked_partitions_are_forgotten():
    stalls = StallDetector(max_gap=20.0)
    stalls.observe(TP, 7, 12, 10.0)
    stalls.observe(TP, 7, 12, 20.0)
    stalls.forget({TP})

    assert stalls.stalled() == {}
