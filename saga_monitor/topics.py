"""The topics the monitor reads, and whether it can really read them.

Every saga topic and its ``.DLT`` are created before the worker subscribes (as every service
does, ``shared.runtime.topics.ensure_topics``), so the monitor does not depend on start order.
While it runs, :class:`TopicWatch` checks every few seconds that each of those topics exists
and that this worker is assigned partitions of it; until both hold, ``/health`` answers 503 and
the log says which topics are missing, loudly. The operator's decisions about dead letters are
another matter: their topic may not exist, and is read apart (``saga_monitor.decisions``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError, UnknownTopicOrPartitionError
from aiokafka.protocol.metadata import MetadataRequest

from shared.deadletters import with_dead_letters
from shared.events import COMMANDS, SAGA_EVENTS
from shared.runtime.topics import TopicsRefused, catalog_topics, ensure_topics
from shared.settings import Settings

log = logging.getLogger(__name__)
APP_ID = "saga_monitor"
#: Every saga topic and its dead-letter topic, without the deployment's prefix: the events, and
#: the orchestrator's commands (empty unless SAGA_MODE=orchestrated).
READ = tuple(with_dead_letters(payload.event_type() for payload in (*SAGA_EVENTS, *COMMANDS)))
REPEAT_WARNING_SECONDS = 30.0
#: What the cluster answers about a topic that is not there, or not there for this worker.
_ABSENT = (UnknownTopicOrPartitionError.errno, TopicAuthorizationFailedError.errno)


async def create_topics(settings: Settings, retry_after: float = 10.0) -> None:
    """Every catalog topic and dead-letter topic (as ``sagactl topics create`` does), then
    faust's own: a worker that races its own topic creation starts without them. Where the
    monitor may not create topics (secure mode: the setup creates them), it waits for them,
    saying so loudly, and its worker does not start until they exist."""
    while True:
        try:
            created = await ensure_topics(settings, catalog_topics())
            break
        except TopicsRefused as refused:
            log.error("the saga monitor cannot create the topics it must read (%s); it waits "
                      "for them (sagactl topics create) and is NOT ready until then", refused)
            await asyncio.sleep(retry_after)
    if created:
        log.info("created topics", extra={"topics": created})
    await ensure_topics(settings, [f"{APP_ID}-sagas-changelog"],
                        config={"cleanup.policy": "compact"})
    await ensure_topics(settings, [f"{APP_ID}-__assignor-__leader"], partitions=1)


class TopicWatch:
    def __init__(self, settings: Settings, clock=time.monotonic) -> None:
        self.settings, self.clock = settings, clock
        self.missing: list[str] = []
        self.unassigned: list[str] = []
        self.error: str | None = "topics not checked yet"
        self._said: tuple = ()
        self._said_at = 0.0

    @property
    def ready(self) -> bool:
        return not (self.error or self.missing or self.unassigned)

    def problems(self) -> list[str]:
        problems = [self.error] if self.error else []
        if self.missing:
            problems.append(f"topics missing from the cluster: {', '.join(self.missing)}")
        if self.unassigned:
            problems.append("topics this worker is assigned no partition of: "
                            + ", ".join(self.unassigned))
        return problems

    async def follow(self, assigned: Callable[[], set[str]], interval: float) -> None:
        """:meth:`check` every ``interval`` seconds on one client, kept open (a new one after
        a failure); until cancelled. ``assigned``: full names of the topics this worker has
        partitions of."""
        while True:
            client = AIOKafkaClient(**self.settings.client_options(),
                                    client_id=f"{APP_ID}-topic-watch")
            try:
                async with asyncio.timeout(self.settings.connect_timeout):
                    await client.bootstrap()
                while True:
                    await self.check(client, assigned())
                    await asyncio.sleep(interval)
            except (KafkaError, OSError, TimeoutError) as error:
                self.error = f"cannot ask the cluster about its topics: {error!r}"
                self._say()
                await asyncio.sleep(interval)
            finally:
                with contextlib.suppress(Exception):
                    await client.close()

    async def check(self, client: AIOKafkaClient, assigned: set[str]) -> None:
        full = {self.settings.topic(name): name for name in READ}
        existing = await self._existing(client, list(full))
        self.error = None
        self.missing = sorted(name for topic, name in full.items() if topic not in existing)
        self.unassigned = sorted(name for topic, name in full.items()
                                 if topic in existing and topic not in assigned)
        self._say()

    async def _existing(self, client: AIOKafkaClient, topics: list[str]) -> set[str]:
        """Which of ``topics`` the cluster has and lets this worker see. Only they are asked
        about: listing every topic of the cluster, every few seconds, was 6 % of the monitor's
        CPU in a burst on a broker holding a thousand. Never creates one (a broker may allow
        that on a request for metadata)."""
        async with asyncio.timeout(self.settings.connect_timeout):
            response = await client.send(client.get_random_node(), MetadataRequest(
                topics, allow_auto_topic_creation=False))
        return {topic["topic"] for topic in response.to_object()["topics"]
                if topic["error_code"] not in _ABSENT}

    def _say(self) -> None:
        """Loud when something is wrong (again every 30 s while it lasts), once when it is
        fixed."""
        said = tuple(self.problems())
        now = self.clock()
        if said and (said != self._said or now - self._said_at > REPEAT_WARNING_SECONDS):
            log.error("the saga monitor cannot see every topic it must read; it is NOT ready "
                      "and its counts are incomplete: %s", "; ".join(said))
            self._said_at = now
        elif not said and self._said:
            log.warning("the saga monitor sees every topic it reads again; ready")
        self._said = said
