"""What happens to a delivered message: applied, queued behind its order, retried, parked,
or dead-lettered — always exactly one of them, durably."""

import json
import time

import pytest

from inventory_service.handlers import SERVICE
from inventory_service.repository import InventoryUnitOfWork, create_tables
from shared.deadletters import DeadLetters, Delivery
from shared.events import OrderShipped, StockAdded, encode
from shared.processing import EventProcessor
from shared.retry import Backoff, RetryQueue
from tests.support.builders import event, order_created


class FlakyHandlers:
    """Wraps the dispatcher: the first ``failures`` calls raise, as a broken dependency would."""

    def __init__(self, dispatcher, failures: int) -> None:
        self.dispatcher, self.failures, self.calls = dispatcher, failures, 0

    def handle(self, evt):
        self.calls += 1
        if self.calls <= self.failures:
            raise TimeoutError("gateway timeout")
        return self.dispatcher.handle(evt)


@pytest.fixture
def inventory(service_under_test):
    inventory = service_under_test(SERVICE, InventoryUnitOfWork, create_tables)
    inventory.deliver(event(StockAdded(sku="WIDGET-1", quantity=10)))
    return inventory


def processor_for(inventory, failures=0, max_attempts=3) -> EventProcessor:
    handlers = FlakyHandlers(inventory.dispatcher, failures)
    return EventProcessor(inventory.db, handlers, DeadLetters(inventory.db, "inventory_service",
                                                              "inventory_service"),
                          max_attempts=max_attempts, backoff=Backoff(base=0.001, cap=0.001),
                          max_message_bytes=64 * 1024)


def delivery_of(evt, topic=None, offset=7) -> Delivery:
    return Delivery(topic or evt.event_type, 0, offset, evt.key.encode(), encode(evt))


def _dead_letters(inventory) -> list[dict]:
    rows = inventory.db.execute("SELECT topic, value, headers FROM outbox WHERE topic LIKE "
                                "'%.DLT' ORDER BY seq").fetchall()
    return [{"topic": t, "value": v, "headers": dict(json.loads(h))} for t, v, h in rows]


def _drain(processor, rounds=20):
    for _ in range(rounds):
        time.sleep(0.005)
        processor.retry_due()


def test_a_valid_event_is_applied(inventory):
    processor_for(inventory).process(delivery_of(event(order_created())))
    assert inventory.outbox_types()[-1] == "StockReserved"


def test_garbage_goes_to_the_dead_letter_topic_with_its_origin_and_reason(inventory):
    processor_for(inventory).process(Delivery("OrderCreated", 2, 41, b"ord-x", b"{oops"))
    [letter] = _dead_letters(inventory)
    assert letter["topic"] == "OrderCreated.DLT" and letter["value"] == b"{oops"
    headers = letter["headers"]
    assert headers["dlt.kind"] == "malformed"
    assert (headers["dlt.source.topic"], headers["dlt.source.partition"],
            headers["dlt.source.offset"]) == ("OrderCreated", "2", "41")
    assert headers["dlt.service"] == "inventory_service" and headers["dlt.time"]


def test_a_failing_handler_is_retried_until_it_succeeds(inventory):
    processor = processor_for(inventory, failures=2)
    processor.process(delivery_of(event(order_created())))
    assert RetryQueue(inventory.db).counts()["WAITING"] == 1
    _drain(processor)
    assert RetryQueue(inventory.db).counts() == {"WAITING": 0, "PARKED": 0}
    assert inventory.outbox_types()[-1] == "StockReserved"


def test_later_events_of_a_waiting_order_queue_behind_it_and_keep_their_order(inventory):
    processor = processor_for(inventory, failures=1)
    created, shipped = event(order_created()), event(OrderShipped(
        shipment_id="s", carrier="c", tracking_number="t"))
    processor.process(delivery_of(created))
    processor.process(delivery_of(shipped))
    assert RetryQueue(inventory.db).counts()["WAITING"] == 2
    _drain(processor)
    assert inventory.rows("reservations")[0]["status"] == "SHIPPED"


def test_other_orders_are_not_held_up_by_a_waiting_one(inventory):
    processor = processor_for(inventory, failures=1)
    processor.process(delivery_of(event(order_created(), order_id="ord-stuck")))
    processor.process(delivery_of(event(order_created(), order_id="ord-free")))
    assert [r["order_id"] for r in inventory.rows("reservations")] == ["ord-free"]


def test_an_event_that_keeps_failing_is_parked_and_dead_lettered(inventory):
    processor = processor_for(inventory, failures=99, max_attempts=3)
    processor.process(delivery_of(event(order_created())))
    _drain(processor)
    [parked] = RetryQueue(inventory.db).parked()
    assert parked.attempts == 3 and "gateway timeout" in parked.last_error
    [letter] = _dead_letters(inventory)
    assert letter["headers"]["dlt.kind"] == "handler-failed"
    assert letter["headers"]["dlt.attempts"] == "3"


def test_replaying_a_parked_event_retries_it_from_the_start(inventory):
    processor = processor_for(inventory, failures=3, max_attempts=3)
    created = event(order_created())
    processor.process(delivery_of(created))
    _drain(processor)
    assert len(RetryQueue(inventory.db).parked()) == 1
    processor.process(delivery_of(created, offset=99))  # what `sagactl dlq replay` sends
    _drain(processor)
    assert RetryQueue(inventory.db).counts() == {"WAITING": 0, "PARKED": 0}
    assert inventory.rows("reservations")[0]["status"] == "RESERVED"


def test_a_dead_letter_too_big_to_republish_is_truncated_and_says_so(inventory):
    processor_for(inventory).process(Delivery("OrderCreated", 0, 3, None, b"x" * 900_000))
    [letter] = _dead_letters(inventory)
    assert letter["headers"]["dlt.kind"] == "oversized"
    assert letter["headers"]["dlt.truncated-from"] == "900000"
    assert len(letter["value"]) == 512 * 1024
