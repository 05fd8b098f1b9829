"""`make up HA=1`'s compose files (docker-compose.yml + docker-compose.ha.yml): PostgreSQL and
two replicas of every service. One replica of each service is SIGKILLed while orders flow and
stays down; the other takes its partitions over, and every saga completes."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from devtools.compose_ha import compose_material
from devtools.processes import SERVICES, free_port
from tests.support.compose import CONTAINERS, ComposeMesh, brought_up
from tests.support.docker_engine import compose_command, docker_engine, ensure_base_images

pytestmark = pytest.mark.e2e
# Killed and left down: the second order API (the first is the one sagactl uses) and the
# first replica of every other service, so that either replica of a service may be the one lost.
KILLED = ["order-service-2", *(CONTAINERS[name] for name in SERVICES if name != "order_service")]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    material = tmp_path_factory.mktemp("compose-ha")
    compose_material(material)
    second_api = free_port()
    with docker_engine():
        ensure_base_images()
        mesh = ComposeMesh(compose_command(), overlays=("docker-compose.ha.yml",), env={
            "HA_COMPOSE_DIR": str(material), "ORDER_API_2_PORT": str(second_api),
            "POSTGRES_HOST_PORT": str(free_port())})
        mesh.second_api = f"http://127.0.0.1:{second_api}"
        with brought_up(mesh, timeout=300):
            mesh.until(lambda: _every_replica_healthy(mesh), timeout=180,
                       what="every second replica healthy")
            mesh.sagactl("stock", "add", "WIDGET-1", "100")
            mesh.sagactl("funds", "deposit", "alice", "1000.00")
            mesh.until(lambda: mesh.service_json("payment_service", "/accounts/alice")
                       and mesh.service_json("inventory_service", "/stock").get("stock"),
                       what="seed data")
            yield mesh


def _every_replica_healthy(mesh: ComposeMesh) -> bool:
    return all(_health(mesh, f"{CONTAINERS[name]}-2") == "healthy" for name in SERVICES)


def _health(mesh: ComposeMesh, service: str) -> str:
    return subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}",
                           mesh.container(service)], capture_output=True, text=True).stdout.strip()


def test_both_order_apis_serve_every_order_and_name_their_own_instance(mesh):
    order_id = mesh.place("-c", "alice", "-i", "WIDGET-1:1:1.00")
    assert mesh.final(order_id)["status"] == "COMPLETED"
    on_the_other = httpx.get(f"{mesh.second_api}/orders/{order_id}", timeout=10)
    assert on_the_other.status_code == 200 and on_the_other.json()["status"] == "COMPLETED"
    instances = {httpx.get(f"{api}/health", timeout=10).json()["instance"]
                 for api in (mesh.api, mesh.second_api)}
    assert instances == {"order_service-1", "order_service-2"}
    assert mesh.service_json("payment-service-2", "/health")["store"].startswith("postgresql://")


def test_every_saga_completes_when_one_replica_of_each_service_is_killed_mid_run(mesh):
    order_ids = [mesh.place("-c", "alice", "-i", "WIDGET-1:1:1.00") for _ in range(5)]
    for service in KILLED:  # stays down: `docker kill` is not restarted by the policy
        subprocess.run(["docker", "kill", "-s", "KILL", mesh.container(service)],
                       check=True, capture_output=True)
    order_ids += [mesh.place("-c", "alice", "-i", "WIDGET-1:1:1.00") for _ in range(10)]

    finals = {order_id: mesh.until(lambda o=order_id: _completed(mesh, o), timeout=120,
                                   what=f"order {order_id} completed by the survivors")
              for order_id in order_ids}
    assert set(finals.values()) == {"COMPLETED"}
    for service in KILLED:
        assert _health(mesh, service) != "healthy"  # it really was the survivor that did it
    for order_id in order_ids:  # the telling follows the order's conclusion
        mesh.seen(order_id, "CustomerNotified")
    notified = [h for order_id in order_ids for h in mesh.order(order_id)["history"]
                if h["event_type"] == "CustomerNotified"]
    assert len(notified) == len(order_ids)  # told once each, not once per replica


def _completed(mesh: ComposeMesh, order_id: str) -> str | None:
    status = mesh.order(order_id)["status"]
    return status if status in ("COMPLETED", "CANCELLED") else None
