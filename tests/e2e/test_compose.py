"""`docker compose up` of the real docker-compose.yml and Dockerfile, driven from the host with
sagactl: every saga path, a killed container, and a clean `down -v`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from devtools.invariants import violations
from devtools.orders import is_final
from devtools.processes import SERVICES, free_port
from tests.support.docker_engine import compose_command, docker_engine, ensure_base_images

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.integration
CONTAINERS = {name: name.replace("_", "-") for name in SERVICES}


class ComposeMesh:
    def __init__(self) -> None:
        self.project = f"sagae2e{uuid.uuid4().hex[:8]}"
        self.api_port, self.kafka_port, self.monitor_port = free_port(), free_port(), free_port()
        self.env = {**os.environ, "ORDER_API_PORT": str(self.api_port),
                    "KAFKA_HOST_PORT": str(self.kafka_port), "MONITOR_PORT": str(self.monitor_port)}
        self.compose = [*compose_command(), "-p", self.project, "-f", str(ROOT / "docker-compose.yml")]

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([*self.compose, *args], env=self.env, cwd=ROOT, timeout=timeout,
                              capture_output=True, text=True)

    def sagactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "sagactl", "-b", f"127.0.0.1:{self.kafka_port}",
             "--api", self.api, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def container(self, service: str) -> str:
        return self.run("ps", "-q", CONTAINERS.get(service, service)).stdout.strip()

    def service_json(self, service: str, path: str) -> dict:
        """Services other than the order API publish no port: ask from inside the container."""
        probe = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
                 f"'http://127.0.0.1:8000{path}', timeout=5).read().decode())")
        result = subprocess.run(["docker", "exec", self.container(service), "python", "-c",
                                 probe], capture_output=True, text=True, timeout=30)
        return json.loads(result.stdout) if result.returncode == 0 else {}

    def order(self, order_id: str) -> dict:
        return httpx.get(f"{self.api}/orders/{order_id}", timeout=10).json()

    def until(self, condition, timeout: float = 90, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.5)
        raise TimeoutError(f"{what} not met within {timeout}s")

    def final(self, order_id: str) -> dict:
        def done():
            order = self.order(order_id)
            return order if is_final(order) else None
        return self.until(done, what=f"order {order_id} final")

    def seen(self, order_id: str, event_type: str) -> None:
        self.until(lambda: any(h["event_type"] == event_type
                               for h in self.order(order_id)["history"]), what=event_type)

    def place(self, *args: str) -> str:
        return self.sagactl("order", "place", *args).stdout.split()[0]

    def leftovers(self) -> dict[str, str]:
        label = f"label=com.docker.compose.project={self.project}"
        listings = {"container": ["docker", "ps", "-aq"], "network": ["docker", "network", "ls", "-q"],
                    "volume": ["docker", "volume", "ls", "-q"]}
        return {kind: subprocess.run([*command, "--filter", label], capture_output=True,
                                     text=True).stdout.strip()
                for kind, command in listings.items()}


@pytest.fixture(scope="module")
def mesh():
    with docker_engine():
        ensure_base_images()
        mesh = ComposeMesh()
        up = mesh.run("up", "-d", "--build")
        try:
            assert up.returncode == 0, up.stdout + up.stderr
            mesh.until(lambda: _healthy(mesh), timeout=240, what="every container healthy")
            yield mesh
        finally:
            mesh.run("down", "-v", "--remove-orphans")


def _healthy(mesh: ComposeMesh) -> bool:
    try:
        ok = httpx.get(f"{mesh.api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
    states = [subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}",
                              mesh.container(s)], capture_output=True, text=True).stdout.strip()
              for s in SERVICES]
    return ok and states == ["healthy"] * len(SERVICES)


def test_every_saga_path_through_the_containerised_mesh(mesh):
    for args in (("stock", "add", "WIDGET-1", "100"), ("stock", "add", "GADGET-2", "1"),
                 ("funds", "deposit", "alice", "1000.00"), ("funds", "deposit", "bob", "5.00")):
        mesh.sagactl(*args)
    mesh.until(lambda: len(mesh.service_json("inventory_service", "/stock").get("stock", [])) == 2
               and mesh.service_json("payment_service", "/accounts/bob"), what="seed data")

    outcomes = {
        "happy": mesh.final(mesh.place("-c", "alice", "-i", "WIDGET-1:2:9.95"))["status"],
        "out of stock": mesh.final(mesh.place("-c", "alice", "-i", "GADGET-2:5:9.95"))["status"],
        "declined": mesh.final(mesh.place("-c", "bob", "-i", "WIDGET-1:1:9.95"))["status"],
        "no carrier": mesh.final(mesh.place("-c", "alice", "-i", "WIDGET-1:1:9.95",
                                            "--country", "AQ"))["status"],
        "direct": mesh.final(mesh.place("-c", "alice", "-i", "WIDGET-1:1:9.95",
                                        "--direct"))["status"],
    }
    assert outcomes == {"happy": "COMPLETED", "out of stock": "CANCELLED",
                        "declined": "CANCELLED", "no carrier": "CANCELLED", "direct": "COMPLETED"}

    shipped = mesh.place("-c", "alice", "-i", "WIDGET-1:1:9.95")
    mesh.final(shipped)
    refused = mesh.sagactl("order", "cancel", shipped, check=False)
    assert refused.returncode == 2 and "already shipped" in refused.stderr

    payment = mesh.container("payment_service")
    subprocess.run(["docker", "pause", payment], check=True)  # hold the saga mid-flight
    try:
        held = mesh.place("-c", "alice", "-i", "WIDGET-1:1:9.95")
        mesh.seen(held, "StockReserved")
        mesh.sagactl("order", "cancel", held)
        mesh.seen(held, "OrderCancellationAccepted")
    finally:
        subprocess.run(["docker", "unpause", payment], check=True)
    order = mesh.final(held)
    assert (order["status"], order["cancellation"]) == ("CANCELLED", "ACCEPTED")


def test_the_monitor_runs_by_default_and_follows_every_saga(mesh):
    monitor = f"http://127.0.0.1:{mesh.monitor_port}"
    placed = len(httpx.get(f"{mesh.api}/orders", timeout=10).json()["orders"])

    def settled():
        with contextlib.suppress(httpx.HTTPError):
            stats = httpx.get(f"{monitor}/api/stats", timeout=5).json()
            return stats if stats["finished"] >= placed else None

    stats = mesh.until(settled, timeout=180, what="monitor caught up")
    assert stats["by_status"]["running"] == stats["by_status"]["compensating"] == 0
    assert httpx.get(f"{monitor}/health", timeout=5).json()["ready"]
    assert "Saga monitor" in httpx.get(f"{monitor}/", timeout=5).text
    assert "saga_monitor_saga_duration_seconds" in httpx.get(f"{monitor}/metrics", timeout=5).text


def test_a_killed_service_container_restarts_and_nothing_is_lost(mesh, tmp_path):
    order_ids = [mesh.place("-c", "alice", "-i", "WIDGET-1:1:1.00") for _ in range(5)]
    payment = mesh.container("payment_service")
    restarts = _restart_count(payment)
    os.kill(_host_pid(payment), signal.SIGKILL)  # as the OOM killer would
    order_ids += [mesh.place("-c", "alice", "-i", "WIDGET-1:1:1.00") for _ in range(10)]

    mesh.until(lambda: _restart_count(payment) > restarts, what="restart policy")
    assert {mesh.final(order_id)["status"] for order_id in order_ids} == {"COMPLETED"}
    assert mesh.run("stop").returncode == 0  # quiet databases, then read them
    for service in SERVICES:
        subprocess.run(["docker", "cp", f"{mesh.container(service)}:/data/.",
                        str(tmp_path)], check=True)
    assert violations(tmp_path) == []


def test_down_removes_every_container_network_and_volume(mesh):
    down = mesh.run("down", "-v", "--remove-orphans")
    assert down.returncode == 0, down.stderr
    assert mesh.leftovers() == {"container": "", "network": "", "volume": ""}


def _host_pid(container: str) -> int:
    return int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container],
                              capture_output=True, text=True, check=True).stdout)


def _restart_count(container: str) -> int:
    return int(subprocess.run(["docker", "inspect", "-f", "{{.RestartCount}}", container],
                              capture_output=True, text=True, check=True).stdout)
