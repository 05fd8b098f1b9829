"""Every path of the order saga, end to end, through every service and a real broker.

Orders placed through the API run the latest flow (version 2: screened by fraud_service
between the reservation and the charge); tests/integration/test_flow_versions.py runs the
first beside it. Each test checks the services' own databases, the events on the topics,
and — where something is undone — that compensations ran in reverse order, each caused by
the one before.
"""

from decimal import Decimal

import httpx
import pytest

from devtools.orders import BALANCES, STOCK, UNSERVED, order_body
from shared.events import FundsDeposited

pytestmark = [pytest.mark.integration,
              # Every path on each store: SQLite files, and one PostgreSQL database per service.
              pytest.mark.parametrize("mesh", ["sqlite", "postgres"], indirect=True)]
COMPENSATIONS = ("PaymentRefunded", "StockReleased", "OrderCancelled")
#: The start of the latest flow, up to the charge.
SCREENED = ["OrderCreated", "StockReserved", "FraudCheckPassed"]


async def _events_of(mesh, order_id: str) -> list:
    return [e for e in await mesh.events_on_topics() if e.order_id == order_id]


def _chain(events: list) -> list[str]:
    """The saga's causal line: from the outcome back to OrderCreated, each caused by the one
    before, then the notification the outcome caused."""
    by_id = {e.event_id: e for e in events}
    outcome = next(e for e in events if e.event_type in ("OrderCompleted", "OrderCancelled"))
    line = [outcome]
    while line[-1].causation_id in by_id:
        line.append(by_id[line[-1].causation_id])
    told = [e.event_type for e in events if e.causation_id == outcome.event_id]
    return [e.event_type for e in reversed(line)] + told


def _row(mesh, service: str, table: str, **where):
    rows = mesh.db(service).rows(f"SELECT * FROM {table} WHERE "
                                 + " AND ".join(f"{key} = ?" for key in where), list(where.values()))
    return rows[0] if len(rows) == 1 else rows


def _stock(mesh, sku: str) -> dict:
    return _row(mesh, "inventory_service", "stock", sku=sku)


def _balance(mesh, customer: str) -> Decimal:
    return Decimal(_row(mesh, "payment_service", "accounts", customer_id=customer)["balance"])


@pytest.fixture
async def running(mesh):
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    return mesh


async def test_happy_path_reserves_charges_ships_completes_and_notifies_once(running):
    order_id = await running.place_order(order_body(quantity=2))
    order = (await running.wait_until_final(order_id))[order_id]

    assert order["status"] == "COMPLETED"
    events = await _events_of(running, order_id)
    assert _chain(events) == [*SCREENED, "PaymentCharged", "OrderShipped", "OrderCompleted",
                              "CustomerNotified"]
    assert {event.saga_version for event in events} == {2}
    screening = _row(running, "fraud_service", "screenings", order_id=order_id)
    assert (screening["verdict"], screening["total"]) == ("PASSED", "19.90")
    assert _stock(running, "WIDGET-1") == {
        "sku": "WIDGET-1", "available": 8, "reserved": 0, "shipped": 2, "received": 10}
    assert _row(running, "payment_service", "payments", order_id=order_id)["status"] == "CHARGED"
    assert _balance(running, "alice") == Decimal("80.10")
    assert _row(running, "shipping_service", "shipments", order_id=order_id)["status"] == "SHIPPED"
    notes = _row(running, "notification_service", "notifications", order_id=order_id)
    assert notes["kind"] == "order_completed"


async def test_out_of_stock_cancels_the_order_and_reserves_nothing(running):
    order_id = await running.place_order(order_body(sku="GADGET-2", quantity=5))
    order = (await running.wait_until_final(order_id))[order_id]

    assert order["status"] == "CANCELLED"
    assert _chain(await _events_of(running, order_id)) == [
        "OrderCreated", "StockReservationFailed", "OrderCancelled", "CustomerNotified"]
    assert _stock(running, "GADGET-2")["available"] == 1
    assert _row(running, "inventory_service", "reservations", order_id=order_id)["status"] == (
        "REJECTED")
    assert _row(running, "payment_service", "payments", order_id=order_id) == []


async def test_a_rejected_screening_releases_stock_then_cancels_and_tells_the_customer(running):
    order_id = await running.place_order(order_body(customer="mallory", quantity=3))
    order = (await running.wait_until_final(order_id))[order_id]

    assert order["status"] == "CANCELLED"
    events = await _events_of(running, order_id)
    assert _chain(events) == ["OrderCreated", "StockReserved", "FraudCheckFailed",
                              "StockReleased", "OrderCancelled", "CustomerNotified"]
    assert [e.event_type for e in events if e.event_type in COMPENSATIONS] == [
        "StockReleased", "OrderCancelled"]
    assert _stock(running, "WIDGET-1")["available"] == 10
    assert _row(running, "inventory_service", "reservations", order_id=order_id)["status"] == (
        "RELEASED")
    assert _row(running, "fraud_service", "screenings", order_id=order_id)["verdict"] == (
        "REJECTED")
    assert _row(running, "payment_service", "payments", order_id=order_id) == []
    told = _row(running, "notification_service", "notifications", order_id=order_id)
    assert told["kind"] == "order_cancelled" and "mallory is on the blocklist" in told["message"]


async def test_payment_declined_releases_stock_then_cancels_order(running):
    order_id = await running.place_order(order_body(customer="bob", quantity=1))
    order = (await running.wait_until_final(order_id))[order_id]

    assert order["status"] == "CANCELLED"
    assert _chain(await _events_of(running, order_id)) == [
        *SCREENED, "PaymentFailed", "StockReleased", "OrderCancelled", "CustomerNotified"]
    assert _stock(running, "WIDGET-1")["available"] == 10
    assert _row(running, "inventory_service", "reservations", order_id=order_id)["status"] == (
        "RELEASED")
    assert _row(running, "payment_service", "payments", order_id=order_id)["status"] == "DECLINED"
    assert _balance(running, "bob") == Decimal("5.00")


async def test_shipping_failure_refunds_then_releases_then_cancels(running):
    order_id = await running.place_order(order_body(quantity=1, address=UNSERVED))
    await running.wait_until_final(order_id)
    await running.wait_for(lambda: running.db("notification_service").count("notifications") == 2)
    events = await _events_of(running, order_id)

    compensations = [e.event_type for e in events if e.event_type in COMPENSATIONS]
    assert compensations == ["PaymentRefunded", "StockReleased", "OrderCancelled"]
    assert _chain(events) == [
        *SCREENED, "PaymentCharged", "ShipmentFailed", "PaymentRefunded", "StockReleased",
        "OrderCancelled", "CustomerNotified"]
    assert _row(running, "payment_service", "refunds", order_id=order_id)["amount"] == "9.95"
    assert _row(running, "payment_service", "payments", order_id=order_id)["status"] == "CHARGED"
    assert _balance(running, "alice") == Decimal("100.00")
    assert _stock(running, "WIDGET-1")["available"] == 10
    kinds = {n["kind"] for n in _row(running, "notification_service", "notifications",
                                     order_id=order_id)}
    assert kinds == {"order_cancelled", "payment_refunded"}


async def test_a_cancellation_after_shipping_is_refused_and_changes_nothing(running):
    order_id = await running.place_order(order_body(quantity=1))
    await running.wait_until_final(order_id)
    response = await _cancel(running, order_id)
    assert response.status_code == 409 and "already shipped" in response.json()["detail"]
    assert (await running.order(order_id))["status"] == "COMPLETED"
    assert [e for e in await _events_of(running, order_id)
            if e.event_type == "OrderCancellationRequested"] == []


async def test_a_cancellation_while_payment_is_in_flight_compensates_what_was_done(mesh):
    # Neither screening nor payment runs yet: the order waits at those steps, mid-saga.
    await mesh.start("order_service", "inventory_service", "shipping_service",
                     "notification_service")
    await mesh.seed({"WIDGET-1": 10}, {})
    await mesh.publish(FundsDeposited(customer_id="alice", amount="100.00"))
    order_id = await mesh.place_order(order_body(quantity=3))
    await mesh.wait_for_async(lambda: _has(mesh, order_id, "StockReserved"))
    response = await _cancel(mesh, order_id)
    assert response.status_code == 202
    await mesh.wait_for_async(lambda: _has(mesh, order_id, "OrderCancellationAccepted"))
    await mesh.start("fraud_service", "payment_service")
    order = (await mesh.wait_until_final(order_id))[order_id]

    assert (order["status"], order["cancellation"]) == ("CANCELLED", "ACCEPTED")
    events = await _events_of(mesh, order_id)
    assert "OrderShipped" not in [e.event_type for e in events]
    compensations = [e.event_type for e in events if e.event_type in COMPENSATIONS]
    assert compensations in (["StockReleased", "OrderCancelled"],
                             ["PaymentRefunded", "StockReleased", "OrderCancelled"])
    assert _stock(mesh, "WIDGET-1")["reserved"] == 0
    await mesh.wait_for(lambda: _balance(mesh, "alice") == Decimal("100.00"))


async def _has(mesh, order_id: str, event_type: str) -> bool:
    order = await mesh.order(order_id)
    return any(h["event_type"] == event_type for h in order.get("history", []))


async def _cancel(mesh, order_id: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=mesh.api) as client:
        return await client.post(f"/orders/{order_id}/cancellation", json={"reason": "oops"})


async def test_no_order_ships_after_its_cancellation_was_accepted(running):
    order_ids = [await running.place_order(order_body(quantity=1)) for _ in range(8)]
    answers = [(await _cancel(running, order_id)).status_code for order_id in order_ids]
    assert set(answers) <= {202, 409}
    orders = await running.wait_until_final(*order_ids)

    decisions = {row["order_id"]: row["decision"]
                 for row in running.db("shipping_service").rows("SELECT * FROM cancellations")}
    shipped = {row["order_id"] for row in running.db("shipping_service").rows(
               "SELECT order_id FROM shipments WHERE status = 'SHIPPED'")}
    for order_id, order in orders.items():
        assert (order["status"] == "COMPLETED") == (order_id in shipped)
        if decisions.get(order_id) == "ACCEPTED":
            assert order_id not in shipped and order["status"] == "CANCELLED"
