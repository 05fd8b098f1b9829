"""The compose mesh in secure mode (docker-compose.secure.yml), driven from the host as the
sagactl principal: a saga completes, a forged event and an API write without the token are
refused, and the monitor follows as its own principal."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import httpx
import pytest

from tests.support.compose import ROOT, ComposeMesh, brought_up
from tests.support.docker_engine import compose_command, docker_engine, ensure_base_images

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def secure_mesh(tmp_path_factory):
    material = tmp_path_factory.mktemp("compose-secure")
    with docker_engine():
        ensure_base_images()
        mesh = ComposeMesh(compose_command(), overlays=("docker-compose.secure.yml",),
                           env={"SECURE_COMPOSE_DIR": str(material)})
        made = subprocess.run([sys.executable, "-m", "devtools.secure", "compose",
                               str(material), "--host-port", str(mesh.kafka_port)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        mesh.sagactl_env = dict(line.split("=", 1) for line in
                                (material / "clients" / "sagactl.env").read_text().splitlines())
        mesh.token = (material / "secrets" / "api_token").read_text().strip()
        with brought_up(mesh):
            yield mesh


def test_a_saga_completes_with_every_service_its_own_principal(secure_mesh):
    for args in (("stock", "add", "WIDGET-1", "10"), ("funds", "deposit", "alice", "100.00")):
        secure_mesh.sagactl(*args)
    secure_mesh.until(lambda: secure_mesh.service_json("payment_service", "/accounts/alice"),
                      what="seed data")
    order_id = secure_mesh.place("-c", "alice", "-i", "WIDGET-1:2:9.95")
    assert secure_mesh.final(order_id)["status"] == "COMPLETED"

    monitor = f"http://127.0.0.1:{secure_mesh.monitor_port}"

    def followed():
        with contextlib.suppress(httpx.HTTPError):
            saga = httpx.get(f"{monitor}/api/sagas/{order_id}", timeout=5)
            return saga.status_code == 200 and saga.json()["finished"]
    secure_mesh.until(followed, timeout=120, what="the monitor followed the saga")


def test_the_sagactl_principal_cannot_forge_a_payment(secure_mesh):
    forged = secure_mesh.sagactl(
        "publish", "PaymentCharged", "-o", "ord-forged", "--set", "payment_id=p-1",
        "--set", "customer_id=alice", "--set", "amount=60.00", "--set",
        'shipping_address={"name": "A", "street": "1 Main St", "city": "Berlin", '
        '"country": "DE"}', check=False)
    assert forged.returncode == 3 and "refused sagactl" in forged.stderr


def test_an_api_write_or_read_without_the_token_is_refused(secure_mesh):
    assert httpx.post(f"{secure_mesh.api}/orders", json={}, timeout=10).status_code == 401
    assert httpx.get(f"{secure_mesh.api}/orders", timeout=10).status_code == 401
