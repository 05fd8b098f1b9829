import pytest

from tests.support.mesh import InProcessMesh
from tests.support.monitor import MonitorProcess


@pytest.fixture
async def mesh(kafka_bootstrap, topic_prefix, tmp_path):
    """All five services running; tests start nothing else and stop nothing themselves."""
    mesh = InProcessMesh(kafka_bootstrap, topic_prefix, tmp_path)
    yield mesh
    await mesh.stop()


@pytest.fixture
def saga_monitor(mesh, tmp_path):
    """``saga_monitor(**env)`` starts the real monitor process on the mesh's topics."""
    started: list[MonitorProcess] = []

    def start(**env: str) -> MonitorProcess:
        monitor = MonitorProcess(mesh.tool.kafka_bootstrap_servers, mesh.prefix,
                                 tmp_path / f"monitor-{len(started)}", **env)
        started.append(monitor)
        return monitor

    yield start
    for monitor in started:
        monitor.stop()
