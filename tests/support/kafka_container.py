"""The official ``apache/kafka`` image as a testcontainers container (KRaft, one node).

testcontainers' own ``KafkaContainer`` drives Confluent's image scripts, so we
use a generic container with the image's documented ``KAFKA_*`` variables.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from devtools.processes import free_port
from localkafka.config import new_cluster_id
from localkafka.jars import KAFKA_VERSION

IMAGE = f"apache/kafka:{KAFKA_VERSION}"


def docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
        return True
    except Exception:
        return False


def image_available(image: str = IMAGE) -> bool:
    """Present locally, or pulled now; False on a machine that can reach no registry."""
    import docker

    client = docker.from_env(timeout=120)
    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(image)
        return True
    except docker.errors.APIError:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def apache_kafka_container(image: str = IMAGE) -> Iterator[str]:
    # Ryuk (the reaper container) cannot be pulled without a registry; the
    # with-block below removes the container instead.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    host_port = free_port()
    container = DockerContainer(image).waiting_for(
        LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    # Published on loopback only; with_bind_ports() would bind every interface.
    container.ports["9092/tcp"] = ("127.0.0.1", host_port)
    for key, value in _broker_environment(host_port).items():
        container = container.with_env(key, value)
    with container:
        yield f"127.0.0.1:{host_port}"


def _broker_environment(host_port: int) -> dict[str, str]:
    return {
        "CLUSTER_ID": new_cluster_id(),
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{host_port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }

