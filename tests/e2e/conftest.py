import asyncio
import time

import httpx
import pytest

from devtools.orders import BALANCES, STOCK
from devtools.processes import Mesh
from sagactl.kafka import publish
from shared.events import Event, FundsDeposited, StockAdded
from shared.settings import Settings


class ProcessMesh(Mesh):
    """The five services as separate processes, with helpers for the tests."""

    def __init__(self, data_dir, bootstrap: str, prefix: str, **env: str) -> None:
        # A shorter session lets a restarted service take its partitions back sooner.
        super().__init__(data_dir, bootstrap, prefix, SAGA_LOG_FORMAT="text",
                         SAGA_SESSION_TIMEOUT_MS="6000", SAGA_HEARTBEAT_INTERVAL_MS="1500", **env)
        self.tool = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)

    def seed(self) -> None:
        events = [Event.new(StockAdded(sku=s, quantity=q)) for s, q in STOCK.items()]
        events += [Event.new(FundsDeposited(customer_id=c, amount=a)) for c, a in BALANCES.items()]
        asyncio.run(publish(self.tool, events))
        # Stock and orders travel on different topics: wait until the stock has arrived.
        deadline = time.monotonic() + 60
        while not self._seeded():
            assert time.monotonic() < deadline, "seed data did not arrive within 60s"
            time.sleep(0.2)

    def _seeded(self) -> bool:
        try:
            stock = httpx.get(f"{self['inventory_service'].url}/stock", timeout=5).json()["stock"]
            accounts = [httpx.get(f"{self['payment_service'].url}/accounts/{customer}", timeout=5)
                        for customer in BALANCES]
        except httpx.HTTPError:
            return False
        return len(stock) == len(STOCK) and all(a.status_code == 200 for a in accounts)

    def place(self, body: dict) -> str:
        response = httpx.post(f"{self.order_api}/orders", json=body, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()["order_id"]

    def wait_final(self, order_id: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            order = httpx.get(f"{self.order_api}/orders/{order_id}", timeout=10).json()
            if order.get("status") in ("COMPLETED", "CANCELLED") and any(
                    h["event_type"] == "CustomerNotified" for h in order["history"]):
                return order
            time.sleep(0.2)
        raise TimeoutError(f"order {order_id} not final after {timeout}s")


@pytest.fixture
def process_mesh(kafka_bootstrap, topic_prefix, tmp_path):
    mesh = ProcessMesh(tmp_path, kafka_bootstrap, topic_prefix)
    yield mesh
    mesh.stop()
