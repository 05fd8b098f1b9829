"""Explicit topic creation: every event type gets its topic and its dead-letter topic.

Brokers here run with ``auto.create.topics.enable=false``; nothing relies on
a topic appearing by accident with the broker's default partition count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from shared.deadletters import DLT_SUFFIX
from shared.events import CATALOG
from shared.settings import Settings

log = logging.getLogger(__name__)
TOPIC_ALREADY_EXISTS = 36


def catalog_topics() -> list[str]:
    """Logical names (without prefix) of every topic the saga uses."""
    return [name for event_type in CATALOG for name in (event_type, event_type + DLT_SUFFIX)]


async def ensure_topics(settings: Settings, names: Iterable[str] | None = None,
                        *, wait: float = 120.0, partitions: int | None = None,
                        config: dict[str, str] | None = None) -> list[str]:
    """Create missing topics; waits for the broker up to ``wait`` seconds. Returns created."""
    wanted = [NewTopic(settings.topic(name), partitions or settings.topic_partitions,
                       settings.topic_replication_factor, topic_configs=config or {})
              for name in (names or catalog_topics())]
    deadline = asyncio.get_running_loop().time() + wait
    attempt = 0
    while True:
        attempt += 1
        try:
            return await _create_missing(settings, wanted)
        except (KafkaError, OSError) as error:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"Kafka at {settings.kafka_bootstrap_servers} unreachable "
                                   f"for {wait:.0f}s: {error}") from error
            log.info("waiting for Kafka", extra={"bootstrap": settings.kafka_bootstrap_servers,
                                                 "attempt": attempt, "error": str(error)})
            await asyncio.sleep(min(5.0, 0.5 * attempt))


async def _create_missing(settings: Settings, wanted: list[NewTopic]) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                                client_id=f"{settings.service_name}-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic.name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            _raise_on_errors(response.topic_errors)
            await _until_led(admin, [topic.name for topic in missing])
        return [topic.name for topic in missing]
    finally:
        await admin.close()


async def _until_led(admin: AIOKafkaAdminClient, topics: list[str], timeout: float = 30.0) -> None:
    """New partitions answer NotLeaderForPartition until a leader is elected: wait for it."""
    async with asyncio.timeout(timeout):
        while True:
            described = await admin.describe_topics(topics)
            if all(topic["error_code"] == 0 and topic["partitions"] and
                   all(p["leader"] >= 0 for p in topic["partitions"]) for topic in described):
                return
            await asyncio.sleep(0.1)


def _raise_on_errors(topic_errors: list) -> None:
    for topic, code, message, *_ in topic_errors:
        if code not in (0, TOPIC_ALREADY_EXISTS):
            raise KafkaError(f"creating topic {topic} failed: error {code} {message}")
