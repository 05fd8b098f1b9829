"""`docker compose up` of the real docker-compose.yml and Dockerfile, driven from the host with
sagactl: every saga path, the monitor, Prometheus, a killed container, and a clean `down -v`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

import httpx
import pytest

from devtools.invariants import violations
from devtools.processes import SERVICES
from tests.support.compose import CONTAINERS, ComposeMesh, brought_up
from tests.support.docker_engine import compose_command, docker_engine, ensure_base_images

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mesh():
    with docker_engine():
        ensure_base_images()
        with brought_up(ComposeMesh(compose_command()), timeout=240) as mesh:
            yield mesh


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
    # A larger share of the cores than a service's, as the kernel sees it (cgroup v2's
    # cpu.weight or v1's cpu.shares, read inside each container).
    monitor, service = (int(subprocess.run(
        ["docker", "exec", mesh.container(name), "sh", "-c",
         "cat /sys/fs/cgroup/cpu.weight 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.shares"],
        capture_output=True, text=True, check=True).stdout) for name in ("saga-monitor",
                                                                          "order_service"))
    assert monitor > service


def test_prometheus_scrapes_every_service_and_the_monitor_and_sees_the_sagas(mesh):
    up = mesh.run("--profile", "observability", "up", "-d", "prometheus")
    assert up.returncode == 0, up.stderr
    prometheus = f"http://127.0.0.1:{mesh.prometheus_port}/api/v1"

    def every_target_up():
        # Prometheus answers in plain text while it starts (ValueError: not JSON yet).
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            targets = httpx.get(f"{prometheus}/targets", timeout=5).json()["data"]["activeTargets"]
            every = len(targets) == len(CONTAINERS) + 1  # each service, and the monitor
            return targets if every and all(t["health"] == "up" for t in targets) else None
    targets = mesh.until(every_target_up, timeout=120, what="every target scraped")
    assert {t["labels"]["instance"].split(":")[0] for t in targets} == {
        *CONTAINERS.values(), "saga-monitor"}

    def handled():
        result = httpx.get(f"{prometheus}/query", timeout=5, params={
            "query": 'sum(saga_events_handled_total{event_type="OrderCreated"})'}).json()
        values = result["data"]["result"]
        return float(values[0]["value"][1]) if values else None
    assert mesh.until(handled, timeout=60, what="a scraped counter") >= 1


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
    down = mesh.run("--profile", "observability", "down", "-v", "--remove-orphans")
    assert down.returncode == 0, down.stderr
    assert mesh.leftovers() == {"container": "", "network": "", "volume": ""}


def _host_pid(container: str) -> int:
    return int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container],
                              capture_output=True, text=True, check=True).stdout)


def _restart_count(container: str) -> int:
    return int(subprocess.run(["docker", "inspect", "-f", "{{.RestartCount}}", container],
                              capture_output=True, text=True, check=True).stdout)
