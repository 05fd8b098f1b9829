"""Explicit topic creation: every event type gets its topic and its dead-letter topic.

Brokers here run with ``auto.create.topics.enable=false``; nothing relies on a topic appearing
by accident with the broker's default partition count. Dead-letter topics keep their messages
until someone deals with them (``retention.ms=-1``): a parked event must never outlive the
record of why it was set aside. (A replay sends the original record from the saga topic, so it
works while that topic keeps it; later the service retries it in place, ``POST /parked/<id>/
retry``.) Every topic gets the settings' replication factor
and ``min.insync.replicas`` (3 and 2 on a cluster: an acknowledged write is on two brokers, and
one broker may be down without stopping writes). Waiting for an unreachable broker is bounded and
said; a refusal that waiting cannot fix (an invalid name, more replicas than brokers, no
permission) fails at once with the broker's own reason — except that a caller who knows the
cluster is still starting (compose's topics job) may wait for enough brokers too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from shared.deadletters import DLT_SUFFIX, with_dead_letters
from shared.events import CATALOG, COMMANDS
from shared.runtime.clients import start_bounded
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
TOPIC_ALREADY_EXISTS = 36
INVALID_REPLICATION_FACTOR = 38
#: Error codes of CreateTopics that no retry can fix.
REFUSALS = {17: "invalid topic name", 29: "not authorized for this topic",
            31: "not authorized on the cluster", 37: "invalid number of partitions",
            38: "invalid replication factor (more replicas than brokers?)",
            40: "invalid topic configuration", 44: "rejected by the broker's policy"}
DEAD_LETTER_CONFIG = {"retention.ms": "-1"}


class TopicsRefused(RuntimeError):
    """The broker answered, and said no in a way waiting cannot change."""


class BrokerUnreachable(RuntimeError):
    """No answer from the broker within the time we were willing to wait."""


class TooFewBrokers(KafkaError):
    """Fewer brokers are registered than a topic needs replicas (a cluster still starting?)."""


def catalog_topics(mode: str | None = None) -> list[str]:
    """Logical names (without prefix) of every topic the saga uses; in ``mode`` only (a
    choreography has no command topics), or in either mode when None."""
    return with_dead_letters(name for name, payload in CATALOG.items()
                             if mode != "choreographed" or payload not in COMMANDS)


async def ensure_topics(settings: KafkaSettings, names: Iterable[str] | None = None,
                        *, wait: float = 120.0, partitions: int | None = None,
                        config: dict[str, str] | None = None,
                        wait_for_brokers: bool = False) -> list[str]:
    """Create missing topics; waits for the broker up to ``wait`` seconds. Returns created.
    ``config`` replaces the default topic config (dead letters: kept forever), not the
    replication settings. ``wait_for_brokers``: fewer brokers than replicas is waited out (a
    cluster still starting) instead of refused at once."""
    replication = {"min.insync.replicas": str(settings.min_insync_replicas)}
    wanted = [NewTopic(settings.topic(name), partitions or settings.topic_partitions,
                       settings.topic_replication_factor,
                       topic_configs={**replication, **(config or (
                           DEAD_LETTER_CONFIG if name.endswith(DLT_SUFFIX) else {}))})
              for name in (names or catalog_topics())]
    deadline = asyncio.get_running_loop().time() + wait
    attempt = 0
    while True:
        attempt += 1
        try:
            return await _create_missing(settings, wanted, wait_for_brokers)
        except TooFewBrokers as error:
            if asyncio.get_running_loop().time() > deadline:
                raise TopicsRefused(f"waited {wait:.0f}s for brokers: {error.args[0]}") from None
            log.warning("waiting for brokers", extra={"reason": error.args[0]})
            await asyncio.sleep(1.0)
        except (KafkaError, OSError, TimeoutError) as error:
            if asyncio.get_running_loop().time() > deadline:
                raise BrokerUnreachable(f"Kafka at {settings.kafka_bootstrap_servers} unreachable "
                                        f"for {wait:.0f}s: {error or type(error).__name__}"
                                        ) from error
            log.warning("waiting for Kafka", extra={
                "bootstrap": settings.kafka_bootstrap_servers, "attempt": attempt,
                "error": str(error) or type(error).__name__})
            await asyncio.sleep(min(5.0, 0.5 * attempt))


async def _create_missing(settings: KafkaSettings, wanted: list[NewTopic],
                          wait_for_brokers: bool) -> list[str]:
    admin = AIOKafkaAdminClient(**settings.client_options(),
                                client_id=f"{settings.service_name}-admin")
    await start_bounded(admin, settings.connect_timeout)
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic.name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            _raise_on_errors(response.topic_errors, wait_for_brokers)
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


def _raise_on_errors(topic_errors: list, wait_for_brokers: bool = False) -> None:
    if wait_for_brokers:  # the controller counts the brokers registered now: more may come
        for topic, code, message, *_ in topic_errors:
            if code == INVALID_REPLICATION_FACTOR:
                raise TooFewBrokers(f"{topic}: {message or REFUSALS[code]}")
    refused = [(topic, code, message) for topic, code, message, *_ in topic_errors
               if code in REFUSALS]
    if refused:
        topic, code, message = refused[0]
        raise TopicsRefused(f"the broker refused to create {topic}: {REFUSALS[code]}"
                            f"{f' ({message})' if message else ''}")
    for topic, code, message, *_ in topic_errors:
        if code not in (0, TOPIC_ALREADY_EXISTS):
            raise KafkaError(f"creating topic {topic} failed: error {code} {message}")
