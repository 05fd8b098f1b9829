import pytest

from tests.support.mesh import InProcessMesh
from tests.support.monitor import MonitorProcess


@pytest.fixture
async def mesh(request, kafka_bootstrap, topic_prefix, tmp_path):
    """All the services running; tests start nothing else and stop nothing themselves. On
    SQLite files, or — a test parametrized ``indirect`` with "postgres" — each on a PostgreSQL
    database of its own."""
    store = getattr(request, "param", "sqlite")
    databases = request.getfixturevalue("postgres_databases") if store == "postgres" else None
    mesh = InProcessMesh(kafka_bootstrap, topic_prefix, tmp_path, databases=databases)
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
