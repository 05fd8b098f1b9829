"""Two versions of the saga's flow side by side on a real broker: a saga keeps the flow it
started with. With SAGA_FLOW_VERSION=1 the order service starts sagas of the first flow, which
fraud_service does not screen (payment charges on StockReserved); started again on the latest,
it starts screened ones, and both finish, each under its own flow."""

import pytest

from devtools.orders import BALANCES, STOCK, order_body

pytestmark = pytest.mark.integration


def _chain(events: list) -> list[str]:
    return [e.event_type for e in sorted(events, key=lambda e: e.occurred_at)
            if e.event_type != "CustomerNotified"]


async def _events_of(mesh, order_id: str) -> list:
    return [e for e in await mesh.events_on_topics() if e.order_id == order_id]


async def test_a_first_flow_saga_is_not_screened_and_finishes_beside_a_screened_one(mesh):
    mesh.configure("order_service", flow_version=1)
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    first = await mesh.place_order(order_body(quantity=1))
    blocked_in_v1 = await mesh.place_order(order_body(customer="mallory", quantity=1))
    await mesh.restart("order_service", flow_version=None)  # the latest: screened
    second = await mesh.place_order(order_body(quantity=1))
    orders = await mesh.wait_until_final(first, blocked_in_v1, second)

    assert [orders[oid]["status"] for oid in (first, blocked_in_v1, second)] == [
        "COMPLETED", "CANCELLED", "COMPLETED"]
    v1, v2 = await _events_of(mesh, first), await _events_of(mesh, second)
    assert {e.saga_version for e in v1} == {1} and {e.saga_version for e in v2} == {2}
    assert _chain(v1) == ["OrderCreated", "StockReserved", "PaymentCharged", "OrderShipped",
                          "OrderCompleted"]
    assert _chain(v2) == ["OrderCreated", "StockReserved", "FraudCheckPassed",
                          "PaymentCharged", "OrderShipped", "OrderCompleted"]
    # The first flow has no screening: the blocklist does not apply, payment declines
    # mallory (no account) and the stock is released as in version 1.
    assert "FraudCheckFailed" not in _chain(await _events_of(mesh, blocked_in_v1))
    screened = {row["order_id"] for row in mesh.db("fraud_service").rows(
        "SELECT order_id FROM screenings")}
    assert screened == {second}
