import pytest

from tests.support.mesh import InProcessMesh


@pytest.fixture
async def mesh(kafka_bootstrap, topic_prefix, tmp_path):
    """All five services running; tests start nothing else and stop nothing themselves."""
    mesh = InProcessMesh(kafka_bootstrap, topic_prefix, tmp_path)
    yield mesh
    await mesh.stop()
