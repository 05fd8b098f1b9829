"""The local launcher's three-node cluster: every topic on three brokers, and a broker lost,
frozen or restarted — the partition leader, the active controller — loses no acknowledged
write and stops no writer for longer than Kafka needs to notice."""

import asyncio
import os
import subprocess
import sys
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from devtools.secure import principal_settings
from localkafka import LocalKafka
from localkafka.config import BROKER_SESSION_TIMEOUT_MS
from shared.runtime.topics import ensure_topics
from shared.settings import Settings
from tests.support.admin import admin_client
from tests.support.jvm import jvm_alive

pytestmark = pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
                                reason="these tests start a cluster of their own")


@pytest.fixture(scope="module")
def three_nodes(tmp_path_factory):
    with LocalKafka(tmp_path_factory.mktemp("cluster"), brokers=3, heap="384m") as kafka:
        yield kafka


@pytest.fixture
def cluster(three_nodes):
    """The module's cluster; whatever a test killed or froze runs again, in sync, after it."""
    yield three_nodes
    for node in three_nodes.nodes:
        if node.frozen:
            node.thaw()
        if not node.alive():
            three_nodes.start_node(node.node_id)
    three_nodes.wait_in_sync()


@pytest.fixture
def replicated(cluster) -> Settings:
    """Settings as a service on the cluster has them: three replicas, two in sync."""
    return Settings(kafka_bootstrap_servers=cluster.bootstrap_servers,
                    topic_replication_factor=3, topic_prefix=f"c{uuid.uuid4().hex[:8]}.",
                    connect_timeout=30)


async def _write(settings: Settings, topic: str, values: range) -> None:
    producer = AIOKafkaProducer(**settings.client_options(), enable_idempotence=True,
                                acks="all", request_timeout_ms=15_000)
    await producer.start()
    try:
        for n in values:
            await producer.send_and_wait(topic, str(n).encode(), key=str(n % 7).encode())
    finally:
        await producer.stop()


async def _read_all(settings: Settings, topic: str, expected: int) -> list[int]:
    consumer = AIOKafkaConsumer(topic, **settings.client_options(), auto_offset_reset="earliest",
                                group_id=f"{topic}-reader", enable_auto_commit=False)
    await consumer.start()
    values: list[int] = []
    try:
        async with asyncio.timeout(60):
            while len(values) < expected:
                batches = await consumer.getmany(timeout_ms=1000)
                values += [int(r.value) for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    return sorted(values)


def test_a_cluster_lists_every_broker_and_replicates_its_internal_topics(cluster, replicated):
    assert len(cluster.bootstrap_servers.split(",")) == 3
    assert set(cluster.metadata().brokers) == {1, 2, 3}
    asyncio.run(_commit_once(replicated))
    offsets = cluster.metadata(["__consumer_offsets"]).partitions
    assert offsets and all(len(p.replicas) == 3 for p in offsets)


async def _commit_once(settings: Settings) -> None:
    await ensure_topics(settings, ["Probe"])
    consumer = AIOKafkaConsumer(settings.topic("Probe"), **settings.client_options(),
                                group_id=f"{settings.topic_prefix}probe", enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=2000)
        await consumer.commit({tp: 0 for tp in consumer.assignment()})
    finally:
        await consumer.stop()


async def test_topics_are_created_with_three_replicas_two_of_which_must_have_each_write(
        cluster, replicated):
    await ensure_topics(replicated, ["OrderCreated", "OrderCreated.DLT"])
    partitions = cluster.metadata([replicated.topic("OrderCreated")]).partitions
    assert len(partitions) == 3 and all(len(p.replicas) == 3 and p.in_sync for p in partitions)
    assert await _topic_config(replicated, "OrderCreated") >= {("min.insync.replicas", "2")}
    assert await _topic_config(replicated, "OrderCreated.DLT") >= {
        ("min.insync.replicas", "2"), ("retention.ms", "-1")}


async def _topic_config(settings: Settings, name: str) -> set[tuple[str, str]]:
    async with admin_client(settings) as admin:
        [described] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.topic(name))])
    return {(entry[0], entry[1]) for entry in described.resources[0][4]}


def test_killing_the_leader_loses_no_acknowledged_write(cluster, replicated):
    topic = replicated.topic("Writes")
    asyncio.run(ensure_topics(replicated, ["Writes"]))
    asyncio.run(_write(replicated, topic, range(0, 100)))
    leader = cluster.leaders([topic]).most_common(1)[0][0]
    cluster.node(leader).kill()
    asyncio.run(_write(replicated, topic, range(100, 200)))  # waits for a new leader
    assert leader not in {p.leader for p in cluster.metadata([topic]).partitions}
    cluster.start_node(leader)
    cluster.wait_in_sync()
    assert asyncio.run(_read_all(replicated, topic, 200)) == list(range(200))


def test_killing_the_active_controller_elects_another_and_topics_can_still_be_made(
        cluster, replicated):
    controller = cluster.active_controller()
    cluster.node(controller).kill()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            successor = cluster.active_controller()
            if successor != controller:
                break
        except OSError:
            pass
        time.sleep(0.2)
    assert successor != controller
    asyncio.run(ensure_topics(replicated, ["AfterElection"]))  # a lost answer is retried
    made = cluster.metadata([replicated.topic("AfterElection")]).partitions
    assert len(made) == 3 and all(p.leader >= 0 and len(p.replicas) == 3 for p in made)


def test_a_broker_frozen_past_its_session_is_fenced_and_rejoins_when_thawed(cluster, replicated):
    topic = replicated.topic("Frozen")
    asyncio.run(ensure_topics(replicated, ["Frozen"]))
    frozen = next(n for n in cluster.nodes if n.node_id != cluster.active_controller())
    frozen.freeze()
    deadline = time.monotonic() + BROKER_SESSION_TIMEOUT_MS / 1000 + 20
    while frozen.node_id in cluster.metadata().brokers and time.monotonic() < deadline:
        time.sleep(0.5)
    assert frozen.node_id not in cluster.metadata().brokers
    # A client that knows only the live brokers writes on: two replicas are in sync.
    survivors = replicated.model_copy(update={"kafka_bootstrap_servers": ",".join(
        n.address for n in cluster.nodes if n is not frozen)})
    asyncio.run(_write(survivors, topic, range(50)))
    frozen.thaw()
    cluster.wait_in_sync()
    assert set(cluster.metadata().brokers) == {1, 2, 3}


def _localkafka(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localkafka", *args], capture_output=True,
                          text=True, timeout=240)


def test_make_kafka_brokers_3_prints_every_address_and_stop_leaves_no_jvm(tmp_path):
    state = tmp_path / "state"
    started = _localkafka("start", "--brokers", "3", "--port", "0", "--state-dir", str(state))
    pids = [int((state / f"node-{n}" / "broker.pid").read_text()) for n in (1, 2, 3)]
    try:
        assert started.returncode == 0, started.stderr
        exported = started.stdout.strip().removeprefix("export ").split()
        assert exported[0].startswith("KAFKA_BOOTSTRAP_SERVERS=")
        assert len(exported[0].split(",")) == 3
        assert exported[1] == "SAGA_TOPIC_REPLICATION_FACTOR=3"
        assert _localkafka("status", "--state-dir", str(state)).returncode == 0
    finally:
        _localkafka("stop", "--state-dir", str(state))
    assert not any(jvm_alive(pid) for pid in pids)


async def test_a_secure_cluster_authenticates_between_its_nodes_and_its_clients(tmp_path):
    with LocalKafka(tmp_path, brokers=3, secure=True, heap="384m") as secure:
        admin = Settings(**principal_settings(secure.state_dir, "admin"),
                         topic_replication_factor=3, topic_prefix="s.", connect_timeout=30)
        await ensure_topics(admin, ["Secured"])
        leader = secure.leaders([admin.topic("Secured")]).most_common(1)[0][0]
        secure.node(leader).kill()  # replication between the survivors is SCRAM, too
        await _write(admin, admin.topic("Secured"), range(20))
        assert await _read_all(admin, admin.topic("Secured"), 20) == list(range(20))
