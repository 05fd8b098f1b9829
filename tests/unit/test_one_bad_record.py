"""One bad record, one unlucky crash, one forged id: each is decided on its own, once, and
nothing else of its batch is lost, doubled or skipped."""

import logging

import pytest

from notification_service.handlers import SERVICE as NOTIFICATION
from notification_service.repository import NotificationUnitOfWork
from notification_service.repository import create_tables as notification_tables
from payment_service.handlers import SERVICE as PAYMENT
from payment_service.repository import PaymentUnitOfWork
from payment_service.repository import create_tables as payment_tables
from shared.deadletters import Delivery
from shared.errors import PermanentError
from shared.events import (
    FundsDeposited,
    OrderCompleted,
    PaymentCharged,
    ShipmentFailed,
    StockAdded,
    encode,
)
from shared.faults import CrashPoints
from shared.retry import PARKED, RetryQueue
from tests.support.builders import ADDRESS, event, order_created
from tests.support.processing import (
    Crashed,
    RaisingCrashPoints,
    dead_letters,
    delivery_of,
    processor_for,
)


def _stock_added(sku: str, offset: int) -> Delivery:
    return delivery_of(event(StockAdded(sku=sku, quantity=1)), offset=offset)


def test_records_no_parser_survives_are_dead_lettered_and_the_rest_of_their_batch_applies(
        stocked_inventory, clock):
    too_deep = Delivery("StockAdded", 0, 1, b"k", b"[" * 2048)
    too_long = Delivery("StockAdded", 0, 2, b"k", b'{"event_id": ' + b"9" * 5000 + b"}")
    processor_for(stocked_inventory, clock).process_batch(
        [too_deep, too_long, _stock_added("GOOD-1", offset=3)])

    assert {row["sku"] for row in stocked_inventory.rows("stock")} == {"WIDGET-1", "GOOD-1"}
    assert [(letter["headers"]["dlt.source.offset"], letter["headers"]["dlt.kind"])
            for letter in dead_letters(stocked_inventory)] == [("1", "malformed"),
                                                               ("2", "malformed")]


def test_a_trace_header_without_a_value_is_no_trace_context(stocked_inventory, clock):
    headerless = Delivery("OrderCreated", 0, 5, b"ord-1", encode(event(order_created())),
                          (("traceparent", None),))
    [reserved] = processor_for(stocked_inventory, clock).process_batch([headerless])
    # The reaction started a trace of its own, and its follow-up carries it.
    assert reserved.topic == "StockReserved" and dict(reserved.headers)["traceparent"]

    failing = Delivery("OrderCreated", 0, 6, b"ord-2",
                       encode(event(order_created(), order_id="ord-2")), (("traceparent", None),))
    processor_for(stocked_inventory, clock, failures=1).process_batch([failing])
    assert RetryQueue(stocked_inventory.db).counts()["WAITING"] == 1


def test_the_same_unreadable_record_read_twice_is_dead_lettered_once(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock)
    garbage = Delivery("StockAdded", 1, 9, b"k", b"{oops", timestamp_ms=1700000000000)
    processor.process_batch([garbage])
    processor.process_batch([garbage])  # redelivered: a crash before the offset commit
    unreadable = Delivery("StockAdded", 2, 4, None, None)
    assert len(processor.set_aside(unreadable, "unreadable", "bad crc")) == 1
    assert processor.set_aside(unreadable, "unreadable", "bad crc") == []  # its next owner

    assert [letter["headers"]["dlt.source.offset"]
            for letter in dead_letters(stocked_inventory)] == ["9", "4"]


def test_a_parked_event_delivered_again_stays_parked_but_a_replay_of_it_is_retried(
        stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, errors=[PermanentError("broken")])
    reserve = event(order_created())
    processor.process_batch([delivery_of(reserve, offset=11)])
    processor.process_batch([delivery_of(reserve, offset=11)])  # the same record again
    queue = RetryQueue(stocked_inventory.db)

    assert queue.counts() == {"WAITING": 0, PARKED: 1}
    assert len(dead_letters(stocked_inventory)) == 1
    processor.process_batch([delivery_of(reserve, offset=40)])  # replayed: a new record
    assert queue.counts()["WAITING"] == 1


def test_pruning_keeps_an_inbox_entry_whose_twin_waits_in_the_retry_queue(
        stocked_inventory, clock):
    applied = event(StockAdded(sku="LATE-1", quantity=5))
    processor = processor_for(stocked_inventory, clock, errors=[PermanentError("broken")])
    processor.process_batch([delivery_of(event(StockAdded(sku="LATE-1", quantity=1)), offset=1)])
    processor.process_batch([delivery_of(applied, offset=2)])  # queued behind the parked one
    stocked_inventory.db.execute("INSERT INTO inbox (event_id, event_type, received_at) "
                                 "VALUES (?, 'StockAdded', 0)", [applied.event_id])

    from shared.inbox import Inbox
    Inbox(stocked_inventory.db).prune(8)
    assert not Inbox(stocked_inventory.db).claim(applied), "the twin would apply a second time"


def test_an_event_that_reuses_another_types_id_does_not_hide_it():
    from shared.testing import ServiceKit
    payment = ServiceKit(PAYMENT, PaymentUnitOfWork, payment_tables)
    payment.deliver(event(FundsDeposited(customer_id="alice", amount="50.00")))
    charged = event(PaymentCharged(payment_id="pay-1", customer_id="alice", amount="19.90",
                                   shipping_address=ADDRESS))
    payment.db.execute("INSERT INTO payments (payment_id, order_id, customer_id, amount, status, "
                       "reason, created_at) VALUES ('pay-1', 'ord-1', 'alice', '19.90', "
                       "'CHARGED', '', 0)")
    failed = event(ShipmentFailed(reason="no carrier"), causation_id=charged.event_id)
    forged = event(FundsDeposited(customer_id="mallory", amount="1.00"), event_id=failed.event_id)

    payment.deliver(forged, failed)
    assert payment.outbox_types() == ["PaymentRefunded"]


def test_the_customer_is_told_only_once_the_group_commit_has_committed(clock, caplog):
    from shared.testing import ServiceKit
    notification = ServiceKit(NOTIFICATION, NotificationUnitOfWork, notification_tables,
                              clock=clock)
    processor = notification.processor(max_attempts=3,
                                       crash_points=RaisingCrashPoints("inside_group_commit"))
    completed = delivery_of(event(OrderCompleted(customer_id="alice", total="19.90")))
    caplog.set_level(logging.INFO, logger="notification_service.sink")
    with pytest.raises(Crashed):  # as a SIGKILL before COMMIT: nothing of the batch is durable
        processor.process_batch([completed])
    assert caplog.records == []

    processor.crash_points = CrashPoints(None)
    processor.process_batch([completed])  # redelivered
    processor.process_batch([completed])  # and once more: a duplicate
    assert [record.getMessage() for record in caplog.records] == [
        "Your order ord-1 (19.90) is on its way."]
