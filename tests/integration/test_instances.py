"""Several instances of a service on one PostgreSQL database: they split the partitions so
that an order's events all reach one of them, and together they never oversell a SKU or
overdraw a balance — however their transactions interleave."""

import asyncio
from collections import Counter
from decimal import Decimal

import pytest
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

from devtools.orders import order_body
from participants import INVENTORY

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("mesh", ["postgres"], indirect=True)]


def _partitions_by_topic(runtime) -> dict[str, set[int]]:
    owned: dict[str, set[int]] = {}
    for tp in runtime.consumer.assigned:
        owned.setdefault(tp.topic, set()).add(tp.partition)
    return owned


async def _two_inventories(mesh):
    await mesh.start("inventory_service")
    second = await mesh.start_instance("inventory_service", 2)
    first = mesh.runtimes["inventory_service"]

    def split():  # both in the group, each with partitions, all of them taken
        owned = [_partitions_by_topic(r) for r in (first, second)]
        taken = sum(len(p) for o in owned for p in o.values())
        return all(owned) and taken == first.settings.topic_partitions * len(
            INVENTORY.consumed_topics)
    await mesh.wait_for(split, timeout=60)
    return first, second


async def test_each_instance_owns_the_same_partitions_of_every_topic_it_reads(mesh):
    for runtime in await _two_inventories(mesh):
        numbers = {frozenset(partitions) for partitions in _partitions_by_topic(runtime).values()}
        assert len(numbers) == 1, f"{runtime.settings.instance} owns {numbers}"


async def test_round_robin_would_split_an_orders_events_between_instances(mesh, monkeypatch):
    """The check above can fail: with the round-robin assignor it does."""
    import shared.runtime.consumer as consumer
    monkeypatch.setattr(consumer, "RangePartitionAssignor", RoundRobinPartitionAssignor)
    owned = [_partitions_by_topic(runtime) for runtime in await _two_inventories(mesh)]
    assert any(len({frozenset(p) for p in o.values()}) > 1 for o in owned)


async def test_two_instances_never_oversell_a_scarce_sku_or_overdraw_a_thin_balance(mesh):
    await mesh.start()
    for service in ("inventory_service", "payment_service", "order_service"):
        await mesh.start_instance(service, 2)
    await mesh.seed({"SCARCE-1": 7}, {"thin": "20.00", "rich": "1000.00"})
    bodies = [order_body(customer="thin" if n % 2 else "rich", sku="SCARCE-1", quantity=1,
                         price="3.00") for n in range(40)]
    order_ids = await asyncio.gather(*(mesh.place_order(body) for body in bodies))
    orders = await mesh.wait_until_final(*order_ids, timeout=180)

    completed = [oid for oid, order in orders.items() if order["status"] == "COMPLETED"]
    [stock] = mesh.db("inventory_service").rows("SELECT * FROM stock WHERE sku = 'SCARCE-1'")
    assert len(completed) == stock["shipped"] <= 7 and stock["available"] >= 0
    charged = Counter({customer: Decimal(balance) for customer, balance in mesh.db(
        "payment_service").execute("SELECT customer_id, balance FROM accounts").fetchall()})
    assert all(balance >= 0 for balance in charged.values())
    assert Decimal("20.00") - charged["thin"] == 3 * sum(
        1 for oid in completed if orders[oid]["customer_id"] == "thin")
    from devtools.invariants import violations
    assert violations(mesh.stores, set(order_ids)) == []
