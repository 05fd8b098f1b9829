"""Sagas that cannot hang, on a real broker: a participant that does not answer before the
order's deadline gets the saga cancelled and compensated once it is back — the refund
included — and an order shipped in time completes whatever its deadline does later."""

import contextlib
import time

import pytest

from devtools.invariants import violations
from devtools.orders import BALANCES, STOCK, order_body

pytestmark = pytest.mark.integration
DEADLINE = 6.0


@pytest.fixture
async def mesh_with_deadlines(mesh):
    mesh.configure("order_service", order_deadline_seconds=DEADLINE, timer_tick=0.5)
    return mesh


async def _start_all_but(mesh, absent: str) -> None:
    await mesh.start(*(name for name in mesh.settings if name != absent))
    await mesh.seed(STOCK, BALANCES)


async def _until(mesh, order_id: str, **wanted) -> dict:
    async def reached():
        order = await mesh.order(order_id)
        return order if all(order.get(k) == v for k, v in wanted.items()) else None
    return await mesh.wait_for_async(reached, timeout=60)


async def _assert_settled_without_violations(mesh, order_id: str) -> None:
    """Settled first: the refund's own CustomerNotified can make the order look final
    (devtools.orders.is_final) before the outcome's notification is out."""
    with contextlib.suppress(TimeoutError):
        await mesh.wait_for(lambda: not violations(mesh.stores, {order_id}), timeout=30)
    assert violations(mesh.stores, {order_id}) == []


def _types(order: dict) -> list[str]:
    return [entry["event_type"] for entry in order["history"]]


async def test_with_payment_down_past_the_deadline_the_order_is_cancelled_when_payment_is_back(
        mesh_with_deadlines):
    mesh = mesh_with_deadlines
    await _start_all_but(mesh, "payment_service")
    order_id = await mesh.place_order(order_body(quantity=1))
    order = await _until(mesh, order_id, cancellation="ACCEPTED")  # the deadline asked; shipping
    assert order["status"] == "CANCELLING"                        # accepted: nothing shipped

    await mesh.start("payment_service")
    back = time.monotonic()
    order = (await mesh.wait_until_final(order_id))[order_id]
    assert order["status"] == "CANCELLED" and time.monotonic() - back < DEADLINE
    assert "StockReleased" in _types(order)
    await _assert_settled_without_violations(mesh, order_id)  # any charge was refunded


async def test_with_shipping_down_past_the_deadline_after_the_charge_it_is_refunded(
        mesh_with_deadlines):
    mesh = mesh_with_deadlines
    await _start_all_but(mesh, "shipping_service")
    order_id = await mesh.place_order(order_body(quantity=1))
    await _until(mesh, order_id, cancellation="REQUESTED")
    assert "PaymentCharged" in _types(await mesh.order(order_id))

    await mesh.start("shipping_service")
    order = (await mesh.wait_until_final(order_id))[order_id]
    assert order["status"] == "CANCELLED"
    assert {"ShipmentFailed", "PaymentRefunded", "StockReleased"} <= set(_types(order))
    await _assert_settled_without_violations(mesh, order_id)


async def test_an_order_shipped_before_its_deadline_completes_and_nothing_is_compensated(
        mesh_with_deadlines):
    mesh = mesh_with_deadlines
    await _start_all_but(mesh, "nobody")
    order_id = await mesh.place_order(order_body(quantity=1))
    assert (await mesh.wait_until_final(order_id))[order_id]["status"] == "COMPLETED"
    await mesh.wait_for(lambda: time.time() > DEADLINE + 1 + _created(mesh, order_id))

    order = await mesh.order(order_id)
    assert order["status"] == "COMPLETED"
    assert not {"PaymentRefunded", "StockReleased", "OrderCancelled"} & set(_types(order))


def _created(mesh, order_id: str) -> float:
    return mesh.db("order_service").scalar("SELECT created_at FROM orders WHERE order_id = ?",
                                           [order_id])
