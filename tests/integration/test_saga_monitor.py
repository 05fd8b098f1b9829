"""The faust saga monitor folds the real topics into per-order progress and spots stalls."""

import os
import subprocess
import sys

import httpx
import pytest

from devtools.orders import BALANCES, STOCK, UNSERVED, order_body
from devtools.processes import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def monitor(mesh, tmp_path):
    port = free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": mesh.tool.kafka_bootstrap_servers,
           "SAGA_TOPIC_PREFIX": mesh.prefix, "SAGA_HTTP_PORT": str(port),
           "SAGA_DATABASE_PATH": str(tmp_path / "monitor" / "saga_monitor.db"),
           "SAGA_STALL_AFTER_SECONDS": "3", "SAGA_LOG_LEVEL": "WARNING"}
    log = (tmp_path / "saga_monitor.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "saga_monitor"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    yield f"http://127.0.0.1:{port}"
    worker.terminate()
    worker.wait(30)
    log.close()


async def _get(url: str) -> dict | None:
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(url, timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


async def test_the_monitor_shows_each_sagas_steps_and_compensations_in_causal_order(
        mesh, monitor):
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    happy = await mesh.place_order(order_body(quantity=1))
    no_carrier = await mesh.place_order(order_body(quantity=1, address=UNSERVED))
    await mesh.wait_until_final(happy, no_carrier)

    async def seen(order_id: str, last: str):
        saga = await _get(f"{monitor}/sagas/{order_id}/")
        return saga if saga and saga["steps"].count("CustomerNotified") and last in saga[
            "steps"] and saga["status"] != "running" else None

    completed = await mesh.wait_for_async(lambda: seen(happy, "OrderCompleted"), timeout=90)
    cancelled = await mesh.wait_for_async(lambda: seen(no_carrier, "OrderCancelled"), timeout=90)

    assert completed["status"] == "completed" and completed["compensations"] == []
    assert completed["steps"][:5] == ["OrderCreated", "StockReserved", "PaymentCharged",
                                      "OrderShipped", "OrderCompleted"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["compensations"] == ["PaymentRefunded", "StockReleased", "OrderCancelled"]


async def test_the_monitor_reports_a_saga_that_stopped_moving(mesh, monitor):
    await mesh.start("order_service", "inventory_service")  # nobody will take the payment
    await mesh.seed({"WIDGET-1": 5}, {})
    stuck = await mesh.place_order(order_body(quantity=1))

    async def stalled():
        stats = await _get(f"{monitor}/stats/")
        return stats if stats and stuck in stats["stalled"] else None

    stats = await mesh.wait_for_async(stalled, timeout=90)
    assert stats["by_status"] == {"running": 1}
