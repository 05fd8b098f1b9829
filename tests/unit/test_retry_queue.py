"""The retry queue's promises: one line per order, first in first out; a redelivery changes
nothing; a parked event blocks its order until it is replayed; the backoff doubles to a cap."""

import random

import pytest

from shared.deadletters import Delivery
from shared.events import Event, encode
from shared.retry import PARKED, WAITING, Backoff, QueuedEvent, RetryQueue
from shared.store import open_database
from tests.support.builders import event, order_created


@pytest.fixture
def queue(clock) -> RetryQueue:
    db = open_database(":memory:")
    RetryQueue.create(db)
    return RetryQueue(db, clock)


def enqueue(queue: RetryQueue, order_id: str = "ord-1", *, evt: Event | None = None,
            offset: int = 0, attempts: int = 0, delay: float = 0.0, error: str = "",
            status: str = WAITING) -> Event:
    evt = evt or event(order_created(), order_id=order_id)
    queue.add(evt, Delivery("OrderCreated", 0, offset, evt.key.encode(), encode(evt)),
              attempts=attempts, delay=delay, error=error, status=status)
    return evt


def due_ids(queue: RetryQueue) -> list[str]:
    return [queued.event_id for queued in queue.due()]


def test_only_the_oldest_event_of_each_order_is_due(queue):
    a1, b1, a2, _ = (enqueue(queue, order) for order in ("ord-a", "ord-b", "ord-a", "ord-b"))
    assert due_ids(queue) == [a1.event_id, b1.event_id]
    queue.remove(queue.due()[0].seq)
    assert due_ids(queue) == [b1.event_id, a2.event_id]


def test_a_parked_event_blocks_its_order_and_no_other(queue):
    enqueue(queue, "ord-a", status=PARKED)
    enqueue(queue, "ord-a")
    b1 = enqueue(queue, "ord-b")
    assert due_ids(queue) == [b1.event_id]
    assert queue.holds("ord-a") and queue.holds("ord-b") and not queue.holds("ord-c")


def test_an_event_is_due_once_its_delay_has_passed_and_not_before(queue, clock):
    queued = enqueue(queue, delay=5.0)
    clock.advance(4.9)
    assert due_ids(queue) == []
    clock.advance(0.1)
    assert due_ids(queue) == [queued.event_id]


def test_one_retry_round_takes_at_most_fifty_events(queue):
    for number in range(51):
        enqueue(queue, f"ord-{number}")
    assert len(queue.due()) == 50


def test_a_redelivered_event_is_queued_once_and_keeps_its_place_and_attempts(queue):
    first = enqueue(queue, "ord-a", attempts=2, error="TimeoutError: gateway timeout")
    enqueue(queue, "ord-a")
    enqueue(queue, evt=first, offset=99)  # Kafka delivers it again while it waits
    assert queue.counts() == {WAITING: 2, PARKED: 0}
    [head] = queue.due()
    assert (head.event_id, head.attempts) == (first.event_id, 2)
    assert head.last_error == "TimeoutError: gateway timeout" and head.delivery.offset == 0


def test_a_queued_event_reads_back_with_its_origin_and_its_bytes(queue):
    evt = event(order_created())
    value = encode(evt)
    queue.add(evt, Delivery("OrderCreated", 3, 41, b"ord-1", value), attempts=1, delay=0)
    assert queue.due() == [QueuedEvent(1, "ord-1", evt.event_id, value,
                                       Delivery("OrderCreated", 3, 41, b"ord-1", value),
                                       1, WAITING, "")]


def test_a_queued_event_keeps_its_trace_context_for_the_retry(queue):
    evt, traceparent = event(order_created()), b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    queue.add(evt, Delivery("OrderCreated", 0, 1, b"ord-1", encode(evt),
                            (("baggage", b"k=v"), ("traceparent", traceparent))),
              attempts=1, delay=0)
    assert queue.due()[0].delivery.headers == (("traceparent", traceparent),)


def test_a_garbled_trace_header_does_not_keep_an_event_out_of_the_queue(queue):
    evt = event(order_created())
    queue.add(evt, Delivery("OrderCreated", 0, 1, b"ord-1", encode(evt),
                            (("traceparent", b"00-\xff-01"),)), attempts=1, delay=0)
    assert queue.due()[0].delivery.headers == (("traceparent", "00-\ufffd-01".encode()),)


def test_replaying_revives_only_the_parked_event_it_names(queue):
    a1 = enqueue(queue, "ord-a", attempts=3, status=PARKED)
    b1 = enqueue(queue, "ord-b", attempts=3, status=PARKED)
    assert [parked.event_id for parked in queue.parked()] == [a1.event_id, b1.event_id]
    assert queue.revive(a1.event_id) is True
    assert [parked.event_id for parked in queue.parked()] == [b1.event_id]
    [revived] = queue.due()
    assert (revived.event_id, revived.attempts, revived.status) == (a1.event_id, 0, WAITING)


def test_replaying_an_event_that_is_not_parked_changes_nothing(queue):
    waiting = enqueue(queue, "ord-a", attempts=2, delay=30.0)
    enqueue(queue, "ord-b", status=PARKED)
    assert queue.revive(waiting.event_id) is False
    assert queue.revive("never-queued") is False
    assert due_ids(queue) == [] and queue.counts() == {WAITING: 1, PARKED: 1}


def test_rescheduling_counts_the_attempt_and_waits_the_new_delay(queue, clock):
    enqueue(queue)
    [head] = queue.due()
    queue.reschedule(head.seq, 2, 30.0, "TimeoutError: again")
    clock.advance(29.9)
    assert queue.due() == []
    clock.advance(0.1)
    [again] = queue.due()
    assert (again.attempts, again.last_error) == (2, "TimeoutError: again")


def test_parking_keeps_the_event_with_its_attempts_and_reason(queue):
    enqueue(queue, "ord-a")
    enqueue(queue, "ord-b")
    [head, _] = queue.due()
    queue.park(head.seq, 5, "InvariantViolation: no")
    [parked] = queue.parked()
    assert (parked.seq, parked.attempts, parked.status, parked.last_error) == (
        head.seq, 5, PARKED, "InvariantViolation: no")
    assert queue.counts() == {WAITING: 1, PARKED: 1}


def test_errors_are_kept_to_five_hundred_characters(queue):
    enqueue(queue, "ord-a", error="a" * 600)
    enqueue(queue, "ord-b")
    enqueue(queue, "ord-c")
    first, second, third = queue.due()
    queue.reschedule(second.seq, 1, 0.0, "b" * 600)
    queue.park(third.seq, 1, "c" * 600)
    assert [len(queued.last_error) for queued in queue.due() + queue.parked()] == [500, 500, 500]


def test_the_next_wake_up_is_when_the_earliest_head_is_due(queue, clock):
    assert queue.seconds_until_next() is None
    enqueue(queue, "ord-a", delay=30.0)
    enqueue(queue, "ord-a", delay=0.0)  # behind a waiting head: not due before it
    enqueue(queue, "ord-b", delay=45.0)
    assert queue.seconds_until_next() == 30.0
    clock.advance(10)
    assert queue.seconds_until_next() == 20.0
    clock.advance(25)
    assert queue.seconds_until_next() == 0.0


@pytest.mark.parametrize(("attempt", "ceiling"), [(0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0),
                                                  (4, 8.0), (5, 8.0), (12, 8.0)])
def test_the_backoff_doubles_with_each_attempt_up_to_its_cap(attempt, ceiling):
    backoff = Backoff(base=1.0, cap=8.0)
    assert backoff.delay(attempt, rng=FakeJitter(0.0)) == ceiling / 2
    assert backoff.delay(attempt, rng=FakeJitter(1.0)) == ceiling


def test_the_jitter_spreads_retries_between_half_and_all_of_the_ceiling():
    delays = [Backoff(base=0.2, cap=30.0).delay(4, rng=random.Random(seed)) for seed in range(200)]
    assert all(0.8 <= delay <= 1.6 for delay in delays)
    assert min(delays) < 0.9 and max(delays) > 1.5


class FakeJitter(random.Random):
    """Always draws the same fraction of the range: 0.0 its low end, 1.0 its high end."""

    def __init__(self, fraction: float) -> None:
        super().__init__()
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction
