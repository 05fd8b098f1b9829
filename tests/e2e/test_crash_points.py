"""A service killed (SIGKILL) at each dangerous moment finishes the saga after a restart,
with exactly one effect."""

import asyncio
import signal
import time

import pytest

from devtools.invariants import violations
from devtools.orders import BALANCES, STOCK, order_body
from sagactl.kafka import read_topics
from shared.events import decode

pytestmark = pytest.mark.integration


def _events(mesh, *types: str):
    async def read():
        return [decode(r.value, max_bytes=len(r.value)) async for r in read_topics(
            mesh.tool, list(types), follow=False, from_beginning=True)]
    return asyncio.run(read())


def _settled(data_dir, order_id: str, timeout: float = 60.0) -> list[str]:
    """Violations once the last outbox rows had time to leave; empty when all is well."""
    deadline = time.monotonic() + timeout
    while (found := violations(data_dir, {order_id})) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


#: crash point → (service, the event type that triggers it, the effect counted, order)
CASES = {
    # charged and outbox written, PaymentCharged not yet published (an order placed now runs
    # the screened flow: payment charges on FraudCheckPassed and takes no part in StockReserved)
    "after_local_commit": ("payment_service", "FraudCheckPassed", "PaymentCharged",
                           order_body(quantity=1)),
    # StockReserved acknowledged by the broker, outbox row not yet marked sent
    "after_publish": ("inventory_service", "StockReserved", "StockReserved",
                      order_body(quantity=1)),
    # shipment committed, Kafka offset of PaymentCharged not yet committed
    "before_offset_commit": ("shipping_service", "PaymentCharged", "OrderShipped",
                             order_body(quantity=1)),
    # inside the transaction that releases stock for a declined payment
    "during_compensation": ("inventory_service", "StockReleased", "StockReleased",
                            order_body(customer="bob", quantity=1)),
    # OrderCreated applied in its savepoint of a group commit, the batch not committed
    "inside_group_commit": ("inventory_service", "OrderCreated", "StockReserved",
                            order_body(quantity=1)),
}


@pytest.mark.parametrize("point", list(CASES))
def test_a_crash_at_this_point_finishes_with_exactly_one_effect(process_mesh, point):
    service, trigger, event_type, body = CASES[point]
    process_mesh.start(overrides={service: {"SAGA_CRASH_POINT": f"{point}:{trigger}"}})
    process_mesh.seed(process_mesh.tool, STOCK, BALANCES)
    order_id = process_mesh.place(body)

    victim = process_mesh[service]
    assert victim.wait_exit(timeout=60) == -signal.SIGKILL
    victim.start()  # this time without the crash point
    victim.wait_healthy()
    order = process_mesh.wait_final(order_id)

    assert order["status"] == ("CANCELLED" if body["customer_id"] == "bob" else "COMPLETED")
    assert _settled(process_mesh.data_dir, order_id) == []
    effects = [e for e in _events(process_mesh, event_type) if e.order_id == order_id]
    assert len({e.event_id for e in effects}) == 1, f"{event_type} decided twice"
    if point == "after_publish":
        assert len(effects) == 2, "the unmarked outbox row is published again after restart"


def test_a_crash_inside_the_group_commit_tells_the_customer_once(process_mesh):
    """The customer is told after the commit, not before it: the telling of a batch that a
    SIGKILL rolls back never happened, and its redelivery tells once."""
    process_mesh.start(overrides={"notification_service": {
        "SAGA_CRASH_POINT": "inside_group_commit:OrderCompleted"}})
    process_mesh.seed(process_mesh.tool, STOCK, BALANCES)
    order_id = process_mesh.place(order_body(quantity=1))

    victim = process_mesh["notification_service"]
    assert victim.wait_exit(timeout=60) == -signal.SIGKILL
    victim.start()
    victim.wait_healthy()
    assert process_mesh.wait_final(order_id)["status"] == "COMPLETED"
    assert _settled(process_mesh.data_dir, order_id) == []
    told = [line for line in victim.log_path.read_text().splitlines()
            if f"Your order {order_id}" in line]
    assert len(told) == 1, told
