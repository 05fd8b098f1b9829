"""What happens to delivered messages: applied, queued behind their order, retried, parked,
or dead-lettered — always exactly one of them, durably, in one group commit per batch."""

import sqlite3

import pytest

from inventory_service import model
from inventory_service.handlers import SERVICE
from inventory_service.repository import InventoryUnitOfWork, create_tables
from shared.deadletters import MAX_DEAD_LETTER_BYTES, Delivery
from shared.errors import PermanentError
from shared.events import OrderShipped, StockAdded
from shared.metrics import ServiceMetrics
from shared.retry import RetryQueue
from shared.store import open_database
from tests.support.builders import event, order_created
from tests.support.processing import (
    Crashed,
    RaisingCrashPoints,
    dead_letters,
    delivery_of,
    drain,
    processor_for,
    statements_run,
)


def test_a_valid_event_is_applied_and_its_outbox_rows_are_returned(stocked_inventory, clock):
    [message] = processor_for(stocked_inventory, clock).process_batch([delivery_of(event(order_created()))])
    assert message.topic == "StockReserved" and stocked_inventory.outbox_types()[-1] == "StockReserved"


def test_a_batch_is_applied_in_one_transaction_with_each_event_in_its_own_savepoint(
        stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=1)
    first, second = event(order_created(), order_id="ord-a"), event(order_created(),
                                                                   order_id="ord-b")
    messages = processor.process_batch([delivery_of(first, offset=1),
                                        delivery_of(second, offset=2)])
    # The first handler failed: its effects are gone and it waits; the second was applied.
    assert [m.topic for m in messages] == ["StockReserved"]
    assert [r["order_id"] for r in stocked_inventory.rows("reservations")] == ["ord-b"]
    assert [r["order_id"] for r in stocked_inventory.rows("inbox") if r["order_id"]] == ["ord-b"]
    assert RetryQueue(stocked_inventory.db).counts()["WAITING"] == 1


def _orders(count: int) -> list[Delivery]:
    return [delivery_of(event(order_created(), order_id=f"ord-{n}"), offset=n)
            for n in range(1, count + 1)]


def test_a_batch_in_which_nothing_fails_is_decided_without_a_savepoint_per_event(
        stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock)
    with statements_run(stocked_inventory.db) as statements:
        processor.process_batch(_orders(3))
    assert [s for s in statements if s.split()[0] in ("BEGIN", "COMMIT", "SAVEPOINT",
                                                       "RELEASE", "ROLLBACK")] == [
        "BEGIN IMMEDIATE", "COMMIT"]
    assert len(stocked_inventory.rows("reservations")) == 3


def test_a_failing_handler_undoes_the_first_attempt_and_is_not_called_again_in_the_second(
        stocked_inventory, clock):
    metrics = ServiceMetrics()
    processor = processor_for(stocked_inventory, clock, metrics=metrics,
                              errors=[None, TimeoutError("gateway timeout")])
    with statements_run(stocked_inventory.db) as statements:
        processor.process_batch(_orders(3))
    # Without savepoints ord-1 was applied, then ord-2 failed: all undone. Then each event in a
    # savepoint of its own, ord-2's failure decided as it was (queued), without a second call.
    assert processor.dispatcher.orders == ["ord-1", "ord-2", "ord-1", "ord-3"]
    assert statements.count("ROLLBACK") == 1 and statements.count("SAVEPOINT step") == 2
    assert [r["order_id"] for r in stocked_inventory.rows("reservations")] == ["ord-1", "ord-3"]
    assert RetryQueue(stocked_inventory.db).counts()["WAITING"] == 1
    counted = metrics.registry.get_sample_value
    assert counted("saga_events_failed_total", {"event_type": "OrderCreated"}) == 1
    assert counted("saga_handler_seconds_count", {"event_type": "OrderCreated"}) == 2
    assert counted("saga_events_handled_total", {"event_type": "OrderCreated"}) == 2


def test_garbage_in_a_batch_is_dead_lettered_once_and_the_rest_applied(stocked_inventory, clock):
    metrics = ServiceMetrics()
    first, third = _orders(2)
    garbage = Delivery("OrderCreated", 0, 9, b"ord-x", b"{oops")
    processor_for(stocked_inventory, clock, metrics=metrics).process_batch(
        [first, garbage, third])
    assert len(dead_letters(stocked_inventory)) == 1
    assert metrics.registry.get_sample_value(
        "saga_events_dead_lettered_total", {"topic": "OrderCreated", "kind": "malformed"}) == 1
    assert len(stocked_inventory.rows("reservations")) == 2


def test_a_crash_inside_the_group_commit_leaves_nothing_of_the_batch(tmp_path, clock,
                                                                    service_under_test):
    path = tmp_path / "inventory.db"
    inventory = service_under_test(SERVICE, InventoryUnitOfWork, create_tables, path)
    processor = processor_for(inventory, clock)
    processor.crash_points = RaisingCrashPoints("inside_group_commit")
    with pytest.raises(Crashed):
        processor.process_batch([delivery_of(event(StockAdded(sku="WIDGET-1", quantity=3))),
                                 delivery_of(event(order_created()))])
    fresh = open_database(path)
    assert fresh["inbox"].count == 0 and fresh["outbox"].count == 0 and fresh["stock"].count == 0


def test_garbage_goes_to_the_dead_letter_topic_with_its_origin_and_reason(stocked_inventory, clock):
    processor_for(stocked_inventory, clock).process_batch(
        [Delivery("OrderCreated", 2, 41, b"ord-x", b"{oops")])
    [letter] = dead_letters(stocked_inventory)
    assert letter["topic"] == "OrderCreated.DLT" and letter["value"] == b"{oops"
    headers = letter["headers"]
    assert headers["dlt.kind"] == "malformed"
    assert (headers["dlt.source.topic"], headers["dlt.source.partition"],
            headers["dlt.source.offset"]) == ("OrderCreated", "2", "41")
    assert headers["dlt.service"] == "inventory_service" and headers["dlt.time"]


def test_a_record_that_cannot_be_read_is_set_aside_in_a_transaction_of_its_own(
        stocked_inventory, clock):
    [letter] = processor_for(stocked_inventory, clock).set_aside(
        Delivery("OrderCreated", 1, 9, b"ord-1", b"\x00garbled"), "unreadable",
        "CorruptRecordError: bad crc")
    assert (letter.topic, letter.key, letter.value) == ("OrderCreated.DLT", b"ord-1",
                                                        b"\x00garbled")
    [stored] = dead_letters(stocked_inventory)
    assert (stored["headers"]["dlt.kind"], stored["headers"]["dlt.reason"]) == (
        "unreadable", "CorruptRecordError: bad crc")
    assert not stocked_inventory.db.in_transaction


def test_a_failing_handler_is_retried_until_it_succeeds(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=2)
    processor.process_batch([delivery_of(event(order_created()))])
    assert RetryQueue(stocked_inventory.db).counts()["WAITING"] == 1
    drain(processor, clock)
    assert RetryQueue(stocked_inventory.db).counts() == {"WAITING": 0, "PARKED": 0}
    assert stocked_inventory.outbox_types()[-1] == "StockReserved"


def test_a_retry_waits_for_its_backoff(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=1)
    processor.process_batch([delivery_of(event(order_created()))])
    clock.advance(0.49)  # Backoff(base=1.0): the first delay is between 0.5 and 1.0 s
    assert processor.retry_due() == [] and processor.dispatcher.calls == 1
    clock.advance(0.52)
    assert [m.topic for m in processor.retry_due()] == ["StockReserved"]


def test_later_events_of_a_waiting_order_queue_behind_it_and_keep_their_order(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=1)
    created, shipped = event(order_created()), event(OrderShipped(
        shipment_id="s", carrier="c", tracking_number="t"))
    processor.process_batch([delivery_of(created), delivery_of(shipped)])
    assert RetryQueue(stocked_inventory.db).counts()["WAITING"] == 2
    drain(processor, clock)
    assert stocked_inventory.rows("reservations")[0]["status"] == "SHIPPED"


def test_other_orders_are_not_held_up_by_a_waiting_one(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=1)
    processor.process_batch([delivery_of(event(order_created(), order_id="ord-stuck")),
                             delivery_of(event(order_created(), order_id="ord-free"))])
    assert [r["order_id"] for r in stocked_inventory.rows("reservations")] == ["ord-free"]


def test_an_event_that_keeps_failing_is_parked_and_dead_lettered(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=99, max_attempts=3)
    processor.process_batch([delivery_of(event(order_created()))])
    drain(processor, clock)
    [parked] = RetryQueue(stocked_inventory.db).parked()
    assert parked.attempts == 3 and "gateway timeout" in parked.last_error
    [letter] = dead_letters(stocked_inventory)
    assert letter["headers"]["dlt.kind"] == "handler-failed"
    assert letter["headers"]["dlt.attempts"] == "3"


def test_a_permanent_error_is_parked_at_once_without_retries(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=99,
                              error=PermanentError("invariant broken"))
    processor.process_batch([delivery_of(event(order_created()))])
    [parked] = RetryQueue(stocked_inventory.db).parked()
    assert parked.attempts == 1 and "invariant broken" in parked.last_error
    drain(processor, clock)
    assert processor.dispatcher.calls == 1
    assert dead_letters(stocked_inventory)[0]["headers"]["dlt.kind"] == "handler-failed"


def test_replaying_a_parked_event_retries_it_from_the_start(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=3, max_attempts=3)
    created = event(order_created())
    processor.process_batch([delivery_of(created)])
    drain(processor, clock)
    assert len(RetryQueue(stocked_inventory.db).parked()) == 1
    processor.process_batch([delivery_of(created, offset=99)])  # what `sagactl dlq replay` sends
    drain(processor, clock)
    assert RetryQueue(stocked_inventory.db).counts() == {"WAITING": 0, "PARKED": 0}
    assert stocked_inventory.rows("reservations")[0]["status"] == "RESERVED"


def test_a_queued_event_that_no_longer_decodes_is_parked_with_its_reason(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=1)
    processor.process_batch([delivery_of(event(order_created()))])
    stocked_inventory.db.execute("UPDATE retry_queue SET value = ?", [b'{"event_type": "Gone"}'])
    drain(processor, clock)
    [parked] = RetryQueue(stocked_inventory.db).parked()
    assert parked.last_error == "cannot decode: unknown event_type 'Gone'"
    assert parked.attempts == 2
    headers = dead_letters(stocked_inventory)[0]["headers"]
    assert (headers["dlt.kind"], headers["dlt.attempts"]) == ("handler-failed", "2")


def test_the_next_wake_up_counts_only_heads_of_their_order(stocked_inventory, clock):
    processor = processor_for(stocked_inventory, clock, failures=99, max_attempts=1)
    created, shipped = event(order_created()), event(OrderShipped(
        shipment_id="s", carrier="c", tracking_number="t"))
    processor.process_batch([delivery_of(created)])
    drain(processor, clock)  # parked now, at the head of its order
    processor.process_batch([delivery_of(shipped)])  # waits behind it with no delay
    assert RetryQueue(stocked_inventory.db, clock).seconds_until_next() is None


def test_a_dead_letter_always_fits_in_one_kafka_message(stocked_inventory, clock):
    huge_key = b"k" * 560_000
    processor_for(stocked_inventory, clock).process_batch(
        [Delivery("StockAdded", 0, 3, huge_key, b"x" * 488_400)])
    [letter] = dead_letters(stocked_inventory)
    headers = letter["headers"]
    assert headers["dlt.kind"] == "oversized"
    assert headers["dlt.key-truncated-from"] == "560000"
    assert len(letter["value"]) == 488_400  # the value fits once the key is cut
    size = len(letter["key"]) + len(letter["value"]) + sum(
        len(k) + len(v.encode()) for k, v in headers.items())
    assert size <= MAX_DEAD_LETTER_BYTES


def test_a_value_too_big_to_republish_is_cut_and_the_letter_says_so(stocked_inventory, clock):
    processor_for(stocked_inventory, clock).process_batch(
        [Delivery("OrderCreated", 0, 3, None, b"x" * 900_000)])
    [letter] = dead_letters(stocked_inventory)
    assert letter["headers"]["dlt.truncated-from"] == "900000"
    assert len(letter["value"]) + sum(len(k) + len(v) for k, v in letter["headers"].items()) \
        <= MAX_DEAD_LETTER_BYTES


def test_a_handler_that_raises_after_emitting_leaves_no_inbox_state_or_outbox_row(
        service_under_test):
    from shared.choreography import Reaction, ServiceSpec
    from shared.events import StockReserved

    def reserve_then_fail(evt, uow):
        with uow:
            uow.inbox.claim(evt)
            uow.reservations.save(model.Reservation(evt.order_id, (), model.ReservationStatus.RESERVED))
            uow.emit(StockReserved(customer_id="alice", items=evt.payload.items,
                                   shipping_address=evt.payload.shipping_address), caused_by=evt)
            raise RuntimeError("the disk is full")

    spec = ServiceSpec("inventory_service", {type(order_created()): Reaction(
        reserve_then_fail, emits=(StockReserved,))})
    inventory = service_under_test(spec, InventoryUnitOfWork, create_tables)
    with pytest.raises(RuntimeError):
        inventory.deliver(event(order_created()))
    assert (inventory.db["inbox"].count, inventory.db["reservations"].count,
            inventory.db["outbox"].count) == (0, 0, 0)


class _DiskFillsUp:
    """The second event's handler finds the disk full; SQLite then rolls back the whole
    transaction by itself, savepoints and all."""

    def __init__(self, dispatcher, db) -> None:
        self.dispatcher, self.db, self.calls = dispatcher, db, 0
        db.execute("CREATE TABLE ballast (b BLOB)")

    def __getattr__(self, name):  # the rest of the dispatcher's interface, as it is
        return getattr(self.dispatcher, name)

    def handle(self, evt, headers=()):
        self.calls += 1
        if self.calls == 2:
            pages = self.db.execute("PRAGMA page_count").fetchone()[0]
            self.db.execute(f"PRAGMA max_page_count = {pages}")
            self.db.execute("INSERT INTO ballast VALUES (zeroblob(1000000))")
        return self.dispatcher.handle(evt, headers)


def test_a_batch_that_sqlite_rolls_back_whole_is_redelivered_not_half_applied(
        tmp_path, clock, service_under_test):
    path = tmp_path / "inventory.db"
    inventory = service_under_test(SERVICE, InventoryUnitOfWork, create_tables, path)
    processor = processor_for(inventory, clock)
    processor.dispatcher = _DiskFillsUp(inventory.dispatcher, inventory.db)
    batch = [delivery_of(event(StockAdded(sku=f"SKU-{n}", quantity=1)), offset=n)
             for n in range(3)]
    with pytest.raises(sqlite3.OperationalError, match="full"):
        processor.process_batch(batch)
    # Neither the first event (rolled back by SQLite) nor the third (which must not run in
    # autocommit after it) is applied, and nothing waits for a retry: the consumer redelivers.
    fresh = open_database(path)
    assert (fresh["stock"].count, fresh["inbox"].count, fresh["outbox"].count,
            fresh["retry_queue"].count) == (0, 0, 0, 0)
    inventory.db.execute("PRAGMA max_page_count = 1073741823")
    processor.process_batch(batch)  # the connection is usable again: the redelivery applies
    assert fresh["stock"].count == 3


def test_a_failed_reaction_is_an_error_in_its_trace(stocked_inventory, clock):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    from shared.tracing import Tracing

    processor = processor_for(stocked_inventory, clock, failures=1)
    processor.tracing, spans = Tracing("inventory_service"), InMemorySpanExporter()
    processor.tracing.add_exporter(spans)
    processor.process_batch([delivery_of(event(order_created()))])
    clock.advance(60)
    processor.retry_due()
    failed, succeeded = spans.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR and "gateway timeout" in (
        failed.status.description)
    assert [e.name for e in failed.events] == ["exception"]
    assert succeeded.status.status_code is StatusCode.UNSET
