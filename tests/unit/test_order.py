"""Orders: status from the facts in any arrival order, concluded exactly once."""

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_service import commands, model
from order_service.handlers import SERVICE
from order_service.repository import OrderRepository, OrderUnitOfWork, create_tables
from shared.events import (
    FraudCheckFailed,
    OrderCancellationAccepted,
    OrderCancellationRejected,
    OrderCancelled,
    OrderCompleted,
    OrderShipped,
    PaymentFailed,
    StockReleased,
    StockReservationFailed,
    decode,
)
from tests.support.builders import event, order_created

SHIPPED = OrderShipped(shipment_id="s", carrier="c", tracking_number="PX1")
DECLINED = PaymentFailed(customer_id="alice", amount="19.90", reason="insufficient funds")
RELEASED = StockReleased(items=[{"sku": "WIDGET-1", "quantity": 2}], reason="compensating")


@pytest.fixture
def orders(service_under_test):
    return service_under_test(SERVICE, OrderUnitOfWork, create_tables)


def _order(orders, order_id="ord-1") -> model.Order:
    return OrderRepository(orders.db).get(order_id)


def test_an_order_published_by_anyone_is_recorded_as_pending(orders):
    orders.deliver(event(order_created(), producer="kcat"))
    assert _order(orders) == model.Order("ord-1", "alice", Decimal("19.90"))


def test_shipping_completes_the_order_once(orders):
    orders.deliver(event(order_created()))
    emitted = orders.deliver(event(SHIPPED), event(SHIPPED))
    assert [type(e.payload) for e in emitted] == [OrderCompleted]
    assert emitted[0].payload.total == Decimal("19.90")
    assert _order(orders).status is model.OrderStatus.COMPLETED


def test_a_rejected_screening_compensates_and_cancels_with_its_reason(orders):
    rejected = FraudCheckFailed(customer_id="mallory", reason="customer mallory is on the "
                                                              "blocklist")
    orders.deliver(event(order_created(), saga_version=2), event(rejected, saga_version=2))
    assert _order(orders).status is model.OrderStatus.CANCELLING
    [cancelled] = orders.deliver(event(RELEASED, saga_version=2))
    assert cancelled.payload.reason == "FraudCheckFailed: customer mallory is on the blocklist"


def test_a_failed_payment_is_compensating_until_the_stock_is_released(orders):
    orders.deliver(event(order_created()), event(DECLINED))
    assert _order(orders).status is model.OrderStatus.CANCELLING
    [cancelled] = orders.deliver(event(RELEASED))
    assert isinstance(cancelled.payload, OrderCancelled)
    assert cancelled.payload.reason == "PaymentFailed: insufficient funds"


def test_a_reservation_failure_cancels_at_once(orders):
    orders.deliver(event(order_created()))
    [cancelled] = orders.deliver(event(StockReservationFailed(reason="insufficient stock")))
    assert cancelled.payload.reason == "StockReservationFailed: insufficient stock"


def test_facts_arriving_before_the_order_conclude_it_when_it_arrives(orders):
    assert orders.deliver(event(DECLINED), event(RELEASED)) == []
    [cancelled] = orders.deliver(event(order_created()))
    assert isinstance(cancelled.payload, OrderCancelled)
    assert _order(orders).status is model.OrderStatus.CANCELLED


@pytest.mark.parametrize("arrival", list(itertools.permutations(["created", "declined",
                                                                  "released"])))
def test_the_outcome_does_not_depend_on_arrival_order(service_under_test, arrival):
    orders = service_under_test(SERVICE, OrderUnitOfWork, create_tables)
    facts = {"created": order_created(), "declined": DECLINED, "released": RELEASED}
    emitted = orders.deliver(*(event(facts[name]) for name in arrival))
    assert [e.event_type for e in emitted] == ["OrderCancelled"]


def test_a_terminal_order_never_changes_status(orders):
    orders.deliver(event(order_created()), event(SHIPPED))
    assert orders.deliver(event(RELEASED)) == []
    assert _order(orders).status is model.OrderStatus.COMPLETED


def test_history_keeps_every_fact_once_in_arrival_order(orders):
    created = event(order_created())
    orders.deliver(created, created, event(SHIPPED))
    types = [row["event_type"] for row in orders.rows("order_history")]
    assert types == ["OrderCreated", "OrderShipped", "OrderCompleted"]


def test_placing_an_order_records_it_and_its_own_copy_is_a_duplicate(orders):
    commands.place_order("ord-9", order_created(), None, orders.new_uow())
    assert orders.outbox_types() == ["OrderCreated"]
    [published] = orders.rows("outbox")
    assert orders.deliver(decode(published["value"])) == []
    assert _order(orders, "ord-9").status is model.OrderStatus.PENDING


def test_placing_the_same_order_id_twice_is_refused(orders):
    commands.place_order("ord-9", order_created(), None, orders.new_uow())
    with pytest.raises(commands.OrderAlreadyExists):
        commands.place_order("ord-9", order_created(), None, orders.new_uow())
    assert orders.outbox_types() == ["OrderCreated"]


def test_a_cancellation_request_goes_to_shipping_once(orders):
    commands.place_order("ord-9", order_created(), None, orders.new_uow())
    commands.request_cancellation("ord-9", "changed my mind", orders.new_uow())
    commands.request_cancellation("ord-9", "really", orders.new_uow())
    assert orders.outbox_types() == ["OrderCreated", "OrderCancellationRequested"]
    assert _order(orders, "ord-9").cancellation is model.Cancellation.REQUESTED


def test_an_accepted_cancellation_moves_the_order_to_cancelling(orders):
    commands.place_order("ord-1", order_created(), None, orders.new_uow())
    orders.deliver(event(OrderCancellationAccepted(reason="the order will not ship")))
    assert _order(orders).status is model.OrderStatus.CANCELLING


def test_a_shipped_order_cannot_be_cancelled(orders):
    commands.place_order("ord-1", order_created(), None, orders.new_uow())
    orders.deliver(event(SHIPPED))
    with pytest.raises(model.CancellationRefused, match="already shipped"):
        commands.request_cancellation("ord-1", "too late", orders.new_uow())


def test_a_rejected_cancellation_is_refused_when_asked_again(orders):
    commands.place_order("ord-1", order_created(), None, orders.new_uow())
    orders.deliver(event(OrderCancellationRejected(reason="order already shipped (PX1)")))
    with pytest.raises(model.CancellationRefused):
        commands.request_cancellation("ord-1", "again", orders.new_uow())


def test_cancelling_an_unknown_order_says_so(orders):
    with pytest.raises(commands.OrderNotFound):
        commands.request_cancellation("nope", "x", orders.new_uow())


def test_a_requested_then_accepted_cancellation_says_accepted(orders):
    commands.place_order("ord-1", order_created(), None, orders.new_uow())
    commands.request_cancellation("ord-1", "changed my mind", orders.new_uow())
    orders.deliver(event(OrderCancellationAccepted(reason="the order will not ship")))
    assert _order(orders).cancellation is model.Cancellation.ACCEPTED


@pytest.mark.parametrize(("seen", "decision"), [
    ([], None),
    (["OrderCancellationRequested"], model.Cancellation.REQUESTED),
    (["OrderCancellationRequested", "OrderCancellationAccepted"], model.Cancellation.ACCEPTED),
    (["OrderCancellationAccepted", "OrderCancellationRequested"], model.Cancellation.ACCEPTED),
    (["OrderCancellationRequested", "OrderCancellationRejected"], model.Cancellation.REJECTED),
])
def test_the_cancellation_is_the_furthest_decision_seen(seen, decision):
    assert model.cancellation_after([model.Fact(name) for name in seen]) is decision


def test_a_cancelled_order_stays_cancelled_when_a_late_shipment_arrives():
    cancelled = model.Order("ord-1", "alice", Decimal("19.90"), model.OrderStatus.CANCELLED)
    facts = [model.Fact("StockReservationFailed"), model.Fact("OrderShipped")]
    assert model.advance(cancelled, facts).status is model.OrderStatus.CANCELLED


@pytest.mark.parametrize(("facts", "reason"), [
    ([model.Fact("OrderCreated"), model.Fact("ShipmentFailed")], "ShipmentFailed"),
    ([model.Fact("PaymentFailed", "declined"), model.Fact("StockReleased", "compensating")],
     "PaymentFailed: declined"),
    ([model.Fact("OrderCreated")], "cancelled"),
])
def test_the_cancellation_reason_is_the_first_failure_seen(facts, reason):
    assert model.cancellation_reason(facts) == reason


#: Every fact the order service records (what it consumes and what it originates, in every
#: flow version): those that move the status or the cancellation, and those that move nothing.
FACTS = st.tuples(st.sampled_from(sorted({
    payload.event_type() for payload in (*SERVICE.consumes, *SERVICE.originates)})),
    st.sampled_from(["", "no carrier", "declined"])).map(lambda pair: model.Fact(*pair))


@given(st.lists(FACTS, max_size=14))
def test_one_fact_at_a_time_gives_what_folding_every_fact_seen_so_far_gives(facts):
    """The stored order plus the new fact is all it takes: the same status, cancellation and
    reason as the fold over the whole history after each fact, in any order of facts."""
    incremental = full = model.Order("ord-1", "alice", Decimal("19.90"))
    for seen in range(1, len(facts) + 1):
        incremental = model.apply(incremental, facts[seen - 1])
        full = model.advance(full, facts[:seen])
        assert incremental == full


def test_a_fact_that_changes_nothing_gives_back_the_same_order():
    order = model.Order("ord-1", "alice", Decimal("19.90"), model.OrderStatus.CANCELLING,
                        cancel_reason="PaymentFailed")
    assert model.apply(order, model.Fact("CustomerNotified")) is order


def test_recording_a_fact_reads_only_its_order_never_the_history(orders, monkeypatch):
    orders.deliver(event(order_created()))
    monkeypatch.setattr(OrderRepository, "facts", lambda *_: pytest.fail("history read"))
    orders.deliver(event(DECLINED), event(RELEASED))
    assert _order(orders).status is model.OrderStatus.CANCELLED


def test_an_order_an_older_version_left_running_is_cancelled_with_its_first_failure(tmp_path):
    from shared.processing import create_all_tables
    from shared.store import open_database
    from shared.testing import ServiceKit

    path = tmp_path / "order.db"
    older = open_database(path)  # the tables as the version before cancel_reason made them
    older.execute("CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer_id TEXT, status "
                  "TEXT, cancellation TEXT, total TEXT, items TEXT, shipping_address TEXT, "
                  "created_at FLOAT, updated_at FLOAT)")
    older.execute("INSERT INTO orders VALUES ('ord-1', 'alice', 'CANCELLING', NULL, '19.90', "
                  "'[]', '{}', 1.0, 1.0)")
    older.execute("CREATE TABLE order_history (seq INTEGER PRIMARY KEY, order_id TEXT, event_id "
                  "TEXT, event_type TEXT, producer TEXT, causation_id TEXT, occurred_at TEXT, "
                  "detail TEXT)")
    older.execute("INSERT INTO order_history (order_id, event_id, event_type, detail) VALUES "
                  "('ord-1', 'e1', 'PaymentFailed', 'declined')")
    create_all_tables(older, create_tables)
    older.conn.close()

    orders = ServiceKit(SERVICE, OrderUnitOfWork, create_tables, path)
    [cancelled] = orders.deliver(event(RELEASED))
    assert cancelled.payload.reason == "PaymentFailed: declined"
