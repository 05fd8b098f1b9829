"""How the processor uses the retry queue: every outcome handed on, the backoff of the attempt
that failed, redeliveries absorbed, permanent errors parked with how many tries they had."""

from shared.errors import PermanentError
from shared.events import OrderShipped, PaymentFailed
from shared.retry import PARKED, WAITING, RetryQueue
from tests.support.builders import event, order_created
from tests.support.processing import (
    FakeBackoff,
    dead_letters,
    delivery_of,
    drain,
    processor_for,
)

SHIPPED = OrderShipped(shipment_id="s", carrier="c", tracking_number="t")


def _queue(service) -> list[dict]:
    return service.db.execute(
        "SELECT event_type, attempts, status, next_attempt_at, last_error FROM retry_queue "
        "ORDER BY seq").fetchall()


def test_every_event_of_a_batch_hands_its_outbox_rows_to_the_relay(stocked_inventory, clock):
    messages = processor_for(stocked_inventory, clock).process_batch(
        [delivery_of(event(order_created(), order_id=order)) for order in ("ord-a", "ord-b")])
    assert [(m.topic, m.key) for m in messages] == [("StockReserved", b"ord-a"),
                                                     ("StockReserved", b"ord-b")]


def test_every_event_retried_in_one_round_hands_its_outbox_rows_to_the_relay(
        stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=2)
    processor.process_batch(
        [delivery_of(event(order_created(), order_id=order)) for order in ("ord-a", "ord-b")])
    clock.advance(60)
    assert [m.key for m in processor.retry_due()] == [b"ord-a", b"ord-b"]


def test_a_transient_failure_waits_the_backoff_of_the_attempt_that_failed(
        stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=3, backoff=FakeBackoff())
    processor.process_batch([delivery_of(event(order_created()))])
    queue = RetryQueue(stocked_inventory.db, clock)
    assert queue.seconds_until_next() == 10.0
    assert _queue(stocked_inventory)[0][4] == "TimeoutError: gateway timeout"
    clock.advance(10)
    assert processor.retry_due() == [] and queue.seconds_until_next() == 20.0
    clock.advance(20)
    processor.retry_due()
    assert [(q.attempts, q.status) for q in queue.parked()] == [(3, PARKED)]


def test_an_error_that_turns_permanent_on_a_retry_is_parked_at_once(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, max_attempts=5, errors=[
        TimeoutError("gateway timeout"), PermanentError("invariant broken")])
    processor.process_batch([delivery_of(event(order_created()))])
    clock.advance(60)
    processor.retry_due()
    [parked] = RetryQueue(stocked_inventory.db).parked()
    assert (parked.attempts, parked.last_error) == (2, "PermanentError: invariant broken")
    headers = dead_letters(stocked_inventory)[0]["headers"]
    assert (headers["dlt.attempts"], headers["dlt.reason"]) == (
        "2", "PermanentError: invariant broken")


def test_an_event_queued_behind_its_order_keeps_all_its_attempts_and_is_due_at_once(
        stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=1, backoff=FakeBackoff())
    processor.process_batch([delivery_of(event(order_created())), delivery_of(event(SHIPPED))])
    assert _queue(stocked_inventory) == [
        ("OrderCreated", 1, WAITING, clock.now + 10, "TimeoutError: gateway timeout"),
        ("OrderShipped", 0, WAITING, clock.now, "")]


def test_an_event_redelivered_while_it_waits_is_not_queued_twice(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=1, backoff=FakeBackoff())
    created = event(order_created())
    processor.process_batch([delivery_of(created), delivery_of(event(SHIPPED))])
    processor.process_batch([delivery_of(created, offset=8)])  # Kafka redelivers it
    assert [(row[0], row[1]) for row in _queue(stocked_inventory)] == [
        ("OrderCreated", 1), ("OrderShipped", 0)]
    drain(processor, clock)
    assert stocked_inventory.rows("reservations")[0]["status"] == "SHIPPED"


def test_a_permanent_error_is_dead_lettered_with_its_one_attempt_and_reason(
        stocked_inventory, clock):
    processor_for(stocked_inventory, clock, failures=1,
                  error=PermanentError("invariant broken")).process_batch(
        [delivery_of(event(order_created()))])
    headers = dead_letters(stocked_inventory)[0]["headers"]
    assert (headers["dlt.attempts"], headers["dlt.reason"]) == (
        "1", "PermanentError: invariant broken")


def test_an_event_on_another_types_topic_is_dead_lettered_not_applied(stocked_inventory, clock):
    created = event(order_created())
    processor_for(stocked_inventory, clock).process_batch(
        [delivery_of(created, topic="PaymentFailed")])
    assert dead_letters(stocked_inventory)[0]["headers"]["dlt.kind"] == "schema-invalid"
    assert stocked_inventory.rows("reservations") == []


def test_a_message_over_the_services_own_size_limit_is_dead_lettered(stocked_inventory, clock):
    failed = event(PaymentFailed(customer_id="alice", amount="1.00", reason="x" * 2_000))
    processor_for(stocked_inventory, clock, max_message_bytes=1_024).process_batch(
        [delivery_of(failed)])
    assert dead_letters(stocked_inventory)[0]["headers"]["dlt.kind"] == "oversized"


def test_a_queued_event_above_the_default_size_limit_is_still_retried(stocked_inventory, clock):
    failed = event(PaymentFailed(customer_id="alice", amount="1.00", reason="x" * 100_000))
    processor = processor_for(stocked_inventory, clock, failures=1,
                              max_message_bytes=256 * 1024)
    processor.process_batch([delivery_of(failed)])
    drain(processor, clock)
    assert RetryQueue(stocked_inventory.db).counts() == {WAITING: 0, PARKED: 0}
    assert dead_letters(stocked_inventory) == []
