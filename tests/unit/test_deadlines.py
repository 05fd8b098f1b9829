"""Sagas that cannot hang: an order's deadline is a durable timer in the order service's store;
when it passes before shipping, the order is cancelled as an accepted cancellation would be;
shipping ships nothing past it; after the pivot a deadline only logs."""

from datetime import UTC, datetime

import pytest

from order_service import commands, model
from order_service.handlers import SERVICE as ORDERS
from order_service.repository import DEADLINE, OrderRepository, OrderUnitOfWork
from order_service.repository import create_tables as order_tables
from shared.events import OrderCancellationRequested, OrderShipped, PaymentCharged
from shared.testing import ServiceKit
from shared.timers import Timers
from shipping_service.handlers import SERVICE as SHIPPING
from shipping_service.repository import ShippingUnitOfWork
from shipping_service.repository import create_tables as shipping_tables
from tests.support.builders import ADDRESS, event, order_created

DEADLINE_SECONDS = 60.0


@pytest.fixture
def orders(clock):
    return ServiceKit(ORDERS, OrderUnitOfWork, order_tables, clock=clock,
                      deadline_seconds=DEADLINE_SECONDS)


def _fire(orders) -> list[str]:
    return [row.topic for row in orders.processor(max_attempts=3).fire_due_timers()]


def test_a_placed_order_is_cancelled_once_when_its_deadline_passes_before_shipping(orders, clock):
    commands.place_order("ord-1", order_created(), None, orders.new_uow())
    clock.advance(DEADLINE_SECONDS - 1)
    assert _fire(orders) == []
    clock.advance(1)
    assert _fire(orders) == ["OrderCancellationRequested"]
    assert _fire(orders) == []  # once
    [request] = [e for e in orders.outbox_types() if e == "OrderCancellationRequested"]
    order = OrderRepository(orders.db).get("ord-1")
    assert order.cancellation is model.Cancellation.REQUESTED
    reason = orders.db.scalar("SELECT detail FROM order_history WHERE event_type = ?", [request])
    assert reason.startswith("deadline passed (")


def test_an_order_asks_for_its_own_deadline_and_a_kafka_order_gets_the_default(orders, clock):
    commands.place_order("ord-1", order_created(), 10.0, orders.new_uow())
    at = datetime.fromtimestamp(clock.now + 30, UTC)
    orders.deliver(event(order_created(), order_id="ord-2", deadline_at=at))
    orders.deliver(event(order_created(), order_id="ord-3"))
    deadlines = Timers(orders.db)
    assert [deadlines.due_at(DEADLINE, oid) - clock.now for oid in ("ord-1", "ord-2", "ord-3")
            ] == [10.0, 30.0, DEADLINE_SECONDS]


def test_a_deadline_that_passes_after_shipping_only_logs(orders, clock):
    orders.deliver(event(order_created()), event(OrderShipped(shipment_id="s", carrier="c",
                                                              tracking_number="PX1")))
    clock.advance(DEADLINE_SECONDS)
    assert _fire(orders) == []
    assert OrderRepository(orders.db).get("ord-1").status is model.OrderStatus.COMPLETED


def test_a_deadline_leaves_a_cancellation_under_way_alone(orders, clock):
    commands.place_order("ord-1", order_created(), None, orders.new_uow())
    commands.request_cancellation("ord-1", "changed my mind", orders.new_uow())
    clock.advance(DEADLINE_SECONDS)
    assert _fire(orders) == []


def test_the_timers_survive_a_restart(orders, clock, tmp_path):
    path = tmp_path / "order.db"
    first = ServiceKit(ORDERS, OrderUnitOfWork, order_tables, path, clock=clock)
    commands.place_order("ord-1", order_created(), 5.0, first.new_uow())
    first.db.close()
    again = ServiceKit(ORDERS, OrderUnitOfWork, order_tables, path)
    assert [t.key for t in Timers(again.db).due(clock.now + 5)] == ["ord-1"]


def test_looking_for_due_timers_is_one_scan_of_an_index_of_unfired_timers(orders):
    plan = " ".join(row[-1] for row in orders.db.execute(
        "EXPLAIN QUERY PLAN SELECT kind, key, due_at FROM timers WHERE fired_at IS NULL "
        "AND due_at <= ? ORDER BY due_at LIMIT ?", [0, 100]).fetchall())
    assert "USING INDEX timers_due" in plan and "TEMP B-TREE" not in plan


@pytest.fixture
def shipping(clock):
    return ServiceKit(SHIPPING, ShippingUnitOfWork, shipping_tables, clock=clock)


def _paid(clock, seconds_left: float):
    return event(PaymentCharged(payment_id="pay-1", customer_id="alice", amount="19.90",
                                shipping_address=ADDRESS),
                 deadline_at=datetime.fromtimestamp(clock.now + seconds_left, UTC))


def test_shipping_ships_nothing_past_the_orders_deadline(shipping, clock):
    [failed] = shipping.deliver(_paid(clock, seconds_left=-1))
    assert failed.event_type == "ShipmentFailed" and "deadline passed" in failed.payload.reason


def test_shipping_ships_before_the_deadline(shipping, clock):
    [shipped] = shipping.deliver(_paid(clock, seconds_left=1))
    assert shipped.event_type == "OrderShipped"


def test_a_deadline_racing_a_late_payment_is_decided_by_shipping(shipping, clock):
    """The deadline's cancellation request and a late PaymentCharged: whichever shipping sees
    first wins, as for any cancellation — accepted means the charge is failed (refunded)."""
    request = event(OrderCancellationRequested(reason="deadline passed"))
    [accepted] = shipping.deliver(request)
    [failed] = shipping.deliver(_paid(clock, seconds_left=60))
    assert (accepted.event_type, failed.event_type) == ("OrderCancellationAccepted",
                                                        "ShipmentFailed")


@pytest.mark.parametrize(("order", "said"), [
    ({"deadline_at": 1060.0, "status": "PENDING", "cancellation": None},
     "deadline 1970-01-01 00:17:40 UTC (1m00s left)"),
    ({"deadline_at": 990.0, "status": "CANCELLING", "cancellation": "ACCEPTED"},
     "deadline 1970-01-01 00:16:30 UTC (passed 10s ago: cancellation ACCEPTED)"),
    ({"deadline_at": 990.0, "status": "COMPLETED", "cancellation": None},
     "deadline 1970-01-01 00:16:30 UTC (over: COMPLETED)"),
    ({"deadline_at": None, "status": "PENDING", "cancellation": None}, "deadline: none"),
])
def test_sagactl_says_how_much_time_an_order_has_left_or_what_its_deadline_did(order, said):
    from sagactl.orders import deadline_said
    assert deadline_said(order, now=1000.0) == said
