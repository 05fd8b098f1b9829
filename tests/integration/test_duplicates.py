"""At-least-once delivery, exactly-once effects: duplicates change nothing."""

from decimal import Decimal

import pytest

from devtools.orders import BALANCES, STOCK
from shared.events import Event
from tests.support.builders import order_created

pytestmark = pytest.mark.integration


@pytest.fixture
async def running(mesh):
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    return mesh


def _count(mesh, service: str, table: str, order_id: str) -> int:
    return mesh.db(service)[table].count_where("order_id = ?", [order_id])


async def _effects(mesh, order_id: str) -> dict[str, int]:
    await mesh.wait_until_final(order_id)
    await mesh.wait_for(lambda: _count(mesh, "order_service", "order_history", order_id) >= 6)
    events = [e for e in await mesh.events_on_topics() if e.order_id == order_id]
    return {
        "reservations": _count(mesh, "inventory_service", "reservations", order_id),
        "payments": _count(mesh, "payment_service", "payments", order_id),
        "shipments": _count(mesh, "shipping_service", "shipments", order_id),
        "notifications": _count(mesh, "notification_service", "notifications", order_id),
        **{t: sum(e.event_type == t for e in events)
           for t in ("StockReserved", "PaymentCharged", "OrderShipped", "OrderCompleted",
                     "CustomerNotified")},
    }


ONCE = {"reservations": 1, "payments": 1, "shipments": 1, "notifications": 1,
        "StockReserved": 1, "PaymentCharged": 1, "OrderShipped": 1, "OrderCompleted": 1,
        "CustomerNotified": 1}


async def test_the_same_event_delivered_twice_has_one_effect(running):
    created = Event.new(order_created(lines={"WIDGET-1": (1, "9.95")}), order_id="dup-event",
                        producer="tests")
    await running.publish(created, created)

    assert await _effects(running, "dup-event") == ONCE
    assert running.db("payment_service")["accounts"].get("alice")["balance"] == "90.05"


async def test_the_same_order_under_two_event_ids_is_handled_once(running):
    first = Event.new(order_created(lines={"WIDGET-1": (1, "9.95")}), order_id="dup-order",
                      producer="tests")
    second = Event.new(first.payload, order_id="dup-order", producer="another-client")
    assert first.event_id != second.event_id
    await running.publish(first, second)

    assert await _effects(running, "dup-order") == ONCE
    stock = running.db("inventory_service")["stock"].get("WIDGET-1")
    assert (stock["available"], stock["shipped"]) == (9, 1)
    assert Decimal(running.db("payment_service")["accounts"].get("alice")["balance"]) == (
        Decimal("90.05"))
