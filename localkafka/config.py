"""Configuration files for a single combined broker+controller KRaft node."""

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


def server_properties(*, host: str, port: int, controller_port: int, data_dir: Path,
                      security: dict[str, str] | None = None) -> str:
    """One combined broker+controller; with ``security``, clients and the controller listener
    speak SASL_SSL instead of PLAINTEXT (see localkafka.secrets)."""
    client = "SASL_SSL" if security else "PLAINTEXT"
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "listeners": f"{client}://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"{client}://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": client,
        "listener.security.protocol.map": f"CONTROLLER:{client},{client}:{client}",
        "log.dirs": str(data_dir),
        # One node: every internal topic has exactly one replica.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
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
