"""Configuration files for combined broker+controller KRaft nodes: one alone, or several that
form one cluster with a static quorum of voters (every node votes)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path


def new_cluster_id() -> str:
    """16 random bytes, base64url without padding: what ``kafka-storage random-uuid`` prints."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


#: How long a broker may miss heartbeats to the controller before it is fenced (Kafka's
#: default, said explicitly: chaos freezes a broker for longer than this).
BROKER_SESSION_TIMEOUT_MS = 9000


def server_properties(*, node_id: int, host: str, port: int, controller_port: int,
                      voters: str, nodes: int, data_dir: Path,
                      security: dict[str, str] | None = None) -> str:
    """One combined broker+controller of a cluster of ``nodes`` (``voters``: every node's
    ``id@host:controller_port``). With three or more nodes every internal topic has three
    replicas, two of which must acknowledge a write; with ``security``, clients, brokers and
    controllers speak SASL_SSL instead of PLAINTEXT (see localkafka.secrets)."""
    client = "SASL_SSL" if security else "PLAINTEXT"
    replicas, min_isr = (3, 2) if nodes >= 3 else (1, 1)
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "listeners": f"{client}://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"{client}://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": client,
        "listener.security.protocol.map": f"CONTROLLER:{client},{client}:{client}",
        "log.dirs": str(data_dir),
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        # Only for topics created without a replication factor; ours always say theirs
        # (SAGA_TOPIC_REPLICATION_FACTOR), and their min.insync.replicas with it.
        "default.replication.factor": str(replicas),
        "broker.session.timeout.ms": str(BROKER_SESSION_TIMEOUT_MS),
        # A node back from a crash leads its preferred partitions again within a minute
        # (default: five), so that leadership does not pile up on the nodes that stayed.
        "leader.imbalance.check.interval.seconds": "30",
        # Tests join many short-lived groups; waiting for more members only slows them.
        "group.initial.rebalance.delay.ms": "0",
        # Topics are created explicitly with a chosen partition count, never by accident.
        "auto.create.topics.enable": "false",
        **(security or {}),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


LOG4J2_PROPERTIES = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
# The readiness line "Kafka Server started" comes from this logger.
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
"""
