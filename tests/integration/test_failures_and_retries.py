"""Transient failures are retried; what keeps failing is parked, listed, and replayed once fixed.
A consumer that stops making progress, as a whole or on one partition, is restarted."""

import asyncio
import logging

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from devtools.invariants import violations
from devtools.orders import BALANCES, STOCK, order_body
from shared.events import StockAdded
from shared.runtime.consumer import EventConsumer
from tests.support.cli import sagactl

pytestmark = pytest.mark.integration


async def _sagactl(mesh, *args: str) -> str:
    ran = await sagactl(mesh, *args)
    assert ran.code == 0, ran.output
    return ran.output


async def test_flaky_payment_and_mail_server_are_retried_until_every_saga_finishes(mesh, caplog):
    for flaky in ("payment_service", "notification_service"):  # gateway timeouts, mail down
        mesh.configure(flaky, fault_rate=0.5, retry_base_delay=0.02, retry_max_attempts=25)
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    caplog.set_level(logging.WARNING, logger="shared.processing")

    order_ids = [await mesh.place_order(order_body(quantity=1)) for _ in range(8)]
    orders = await mesh.wait_until_final(*order_ids)

    assert {o["status"] for o in orders.values()} == {"COMPLETED"}
    retried = {r.event_type for r in caplog.records if r.getMessage() == "handler failed, will retry"}
    assert {"FraudCheckPassed", "OrderCompleted"} <= retried  # payment charges on the screening
    await mesh.wait_for(lambda: not violations(mesh.data_dir, set(order_ids)))


async def test_a_parked_event_holds_its_order_until_replayed_then_the_saga_finishes(mesh):
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    # From now on every payment attempt fails, as if the gateway rejected our credentials.
    await mesh.restart("payment_service", fault_rate=1.0, retry_max_attempts=3,
                       retry_base_delay=0.02)
    order_id = await mesh.place_order(order_body(quantity=1))
    parked = await mesh.wait_for_async(lambda: _parked(mesh), timeout=30)
    assert parked[0]["order_key"] == order_id and parked[0]["attempts"] == 3

    # A later event of the same order waits behind the parked one: the saga skips no step.
    async with httpx.AsyncClient(base_url=mesh.api) as client:
        await client.post(f"/orders/{order_id}/cancellation", json={"reason": "taking too long"})
    await mesh.wait_for(lambda: mesh.db("payment_service")["retry_queue"].count == 2)
    listed = await _sagactl(mesh, "dlq", "list")
    assert order_id in listed and "handler-failed" in listed and "payment_service" in listed

    await mesh.restart("payment_service", fault_rate=0.0)  # the cause is fixed
    replayed = await _sagactl(mesh, "dlq", "replay")
    assert order_id in replayed
    order = (await mesh.wait_until_final(order_id))[order_id]

    assert (order["status"], order["cancellation"]) == ("CANCELLED", "ACCEPTED")
    await mesh.wait_for(lambda: mesh.db("payment_service")["retry_queue"].count == 0)
    assert order_id not in await _sagactl(mesh, "dlq", "list", "--pending")
    await mesh.wait_for(lambda: not violations(mesh.data_dir, {order_id}))


async def _parked(mesh) -> list[dict]:
    url = mesh.runtimes["payment_service"].http.url
    async with httpx.AsyncClient(base_url=url) as client:
        return (await client.get("/parked")).json()["parked"]


async def test_a_stalled_consumer_is_restarted_by_the_watchdog(mesh, monkeypatch, caplog):
    real_getmany, stalled = AIOKafkaConsumer.getmany, []

    async def hangs_once(self, *args, **kwargs):
        if not stalled:
            stalled.append(True)
            await asyncio.Event().wait()  # never returns, like a wedged fetch
        return await real_getmany(self, *args, **kwargs)

    monkeypatch.setattr(AIOKafkaConsumer, "getmany", hangs_once)
    mesh.configure("inventory_service", watchdog_timeout=2.0)
    await mesh.start("inventory_service")
    await mesh.publish(StockAdded(sku="WIDGET-1", quantity=3))

    await mesh.wait_for(lambda: mesh.db("inventory_service")["stock"].count == 1, timeout=30)
    assert any("consumer stalled" in r.getMessage() for r in caplog.records)


async def test_a_partition_that_stops_moving_while_others_flow_gets_the_consumer_restarted(
        mesh, monkeypatch, caplog):
    """The real aiokafka consumer stops fetching one topic (paused, as its fetcher can stop
    fetching a partition after a broker fault) while it keeps fetching the rest: the
    consumer as a whole looks busy, the stall check finds the topic behind its end."""
    monkeypatch.setattr(EventConsumer, "end_offsets_interval", 0.3)
    mesh.configure("inventory_service", watchdog_timeout=2.0)
    await mesh.start("inventory_service")
    runtime = mesh.runtimes["inventory_service"]
    topic = f"{mesh.prefix}StockAdded"
    stock_added = await mesh.wait_for_async(lambda: _owned(runtime, topic), timeout=30)
    runtime.consumer._consumer.pause(*stock_added)

    await mesh.publish(StockAdded(sku="WIDGET-1", quantity=3))

    await mesh.wait_for(lambda: mesh.db("inventory_service")["stock"].count == 1, timeout=30)
    stalled = [r for r in caplog.records if r.getMessage() == "consumer stalled; restarting it"]
    [partition] = stalled[0].partitions  # the one that holds the record
    assert partition.startswith(f"{topic}[")
    # (A loaded machine may restart the fresh consumer once more before it catches up.)
    assert runtime.metrics.registry.get_sample_value(
        "saga_consumer_restarts_total", {"reason": "partition"}) == len(stalled) >= 1


async def _owned(runtime, topic: str) -> list:
    consumer = runtime.consumer
    if consumer is None or not consumer.in_group:
        return []
    return [tp for tp in consumer.assigned if tp.topic == topic]
