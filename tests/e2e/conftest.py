import time

import httpx
import pytest

from devtools.orders import is_final
from devtools.processes import Mesh
from shared.settings import Settings


class ProcessMesh(Mesh):
    """The services as separate processes, with helpers for the tests."""

    def __init__(self, data_dir, bootstrap: str, prefix: str, **env: str) -> None:
        # A shorter session lets a restarted service take its partitions back sooner.
        super().__init__(data_dir, bootstrap, prefix, SAGA_LOG_FORMAT="text",
                         SAGA_SESSION_TIMEOUT_MS="6000", SAGA_HEARTBEAT_INTERVAL_MS="1500", **env)
        self.tool = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)

    def place(self, body: dict) -> str:
        response = httpx.post(f"{self.order_api}/orders", json=body, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()["order_id"]

    def wait_final(self, order_id: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            order = httpx.get(f"{self.order_api}/orders/{order_id}", timeout=10).json()
            if is_final(order):
                return order
            time.sleep(0.2)
        raise TimeoutError(f"order {order_id} not final after {timeout}s")


@pytest.fixture
def process_mesh(kafka_bootstrap, topic_prefix, tmp_path):
    mesh = ProcessMesh(tmp_path, kafka_bootstrap, topic_prefix)
    yield mesh
    mesh.stop()
