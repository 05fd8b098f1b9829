"""The compose mesh on three Kafka nodes (profile cluster, deploy/cluster.env), driven from the
host: every topic is replicated three times with two in sync, and a node SIGKILLed under a
running mesh loses no saga and stops none."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.compose import ROOT, ComposeMesh, brought_up
from tests.support.docker_engine import compose_command, docker_engine, ensure_base_images

pytestmark = pytest.mark.e2e
CLUSTER = ("--env-file", str(ROOT / "deploy" / "cluster.env"), "--profile", "cluster")


@pytest.fixture(scope="module")
def cluster_mesh():
    with docker_engine():
        ensure_base_images()
        with brought_up(ComposeMesh(compose_command(), options=CLUSTER)) as mesh:
            yield mesh


def described(mesh: ComposeMesh, topic: str) -> str:
    """kafka-topics.sh --describe, from inside the first node (its log lines may come first)."""
    ran = subprocess.run(["docker", "exec", mesh.container("kafka"),
                          "/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server", "localhost:9092",
                          "--describe", "--topic", topic], capture_output=True, text=True,
                         timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    return ran.stdout


def test_every_topic_has_three_replicas_two_of_them_in_sync(cluster_mesh):
    for topic in ("OrderCreated", "PaymentCharged.DLT", "__consumer_offsets"):
        summary = next(line for line in described(cluster_mesh, topic).splitlines()
                       if "PartitionCount:" in line)
        assert "ReplicationFactor: 3" in summary and "min.insync.replicas=2" in summary, summary


def test_sagas_complete_while_a_node_is_dead_and_after_it_is_back(cluster_mesh):
    mesh = cluster_mesh
    mesh.sagactl("stock", "add", "WIDGET-1", "100")
    mesh.sagactl("funds", "deposit", "alice", "1000.00")
    mesh.until(lambda: mesh.service_json("payment_service", "/accounts/alice"), what="seed data")
    assert mesh.final(mesh.place("-c", "alice", "-i", "WIDGET-1:1:9.95"))["status"] == "COMPLETED"

    node = mesh.container("kafka-2")
    subprocess.run(["docker", "kill", "--signal", "KILL", node], check=True, timeout=60)
    try:
        # Orders keyed across every partition, some of which kafka-2 led: each needs a new
        # leader, and a write two replicas acknowledge.
        during = [mesh.place("-c", "alice", "-i", "WIDGET-1:1:9.95") for _ in range(6)]
        assert [mesh.final(order)["status"] for order in during] == ["COMPLETED"] * 6
        assert "Leader: 2\t" not in described(mesh, "OrderCreated")
    finally:
        subprocess.run(["docker", "start", node], check=True, timeout=60)
    mesh.until(lambda: in_sync_replicas(described(mesh, "OrderCreated")) == [3, 3, 3],
               timeout=120, what="kafka-2 back in sync")
    after = mesh.place("-c", "alice", "-i", "WIDGET-1:1:9.95")
    assert mesh.final(after)["status"] == "COMPLETED"


def in_sync_replicas(description: str) -> list[int]:
    """Per partition, how many replicas are in sync ("Isr: 1,3,2" is three)."""
    return [len(line.split("Isr: ")[1].split()[0].split(","))
            for line in description.splitlines() if "Isr: " in line]
