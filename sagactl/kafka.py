"""sagactl's Kafka client: publish events, read topics from a point in time or follow them.

Every step that talks to the broker is bounded (``--connect-timeout`` to reach it,
``send_timeout`` for a publish); a broker that cannot be reached becomes one clear
:class:`~sagactl.errors.Unreachable` error, never a traceback or an endless wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)
from aiokafka.structs import RecordMetadata

from sagactl.errors import Unreachable
from shared.events import Event, encode
from shared.runtime.clients import start_bounded
from shared.settings import KafkaSettings

Message = tuple[str, bytes | None, bytes, list]
REFUSALS = (SaslAuthenticationFailed, TopicAuthorizationFailedError,
            ClusterAuthorizationFailedError, GroupAuthorizationFailedError)
#: How often a follower looks for topics that appeared since it started.
NEW_TOPICS_EVERY = 5.0


@contextlib.asynccontextmanager
async def reaching(settings: KafkaSettings, what: str = "Kafka"):
    """Turn a broker that does not answer, or refuses who we are, into one clear error."""
    try:
        yield
    except REFUSALS as error:
        raise Unreachable(
            f"{what} at {settings.kafka_bootstrap_servers} refused {settings.principal} "
            f"({type(error).__name__}); check the credentials (SAGA_KAFKA_USERNAME, "
            "SAGA_KAFKA_PASSWORD_FILE) and docs/acls.md for what this principal may do.") from None
    except KafkaConnectionError as error:
        if settings.kafka_security_protocol == "PLAINTEXT":
            raise Unreachable(_unreachable(settings, what, "no broker answered")) from error
        # aiokafka only logs why a secure connection failed: say both possibilities.
        raise Unreachable(
            f"cannot connect to {what} at {settings.kafka_bootstrap_servers} as "
            f"{settings.principal}: no broker answered, or it refused these credentials; check "
            "--bootstrap, SAGA_KAFKA_USERNAME, SAGA_KAFKA_PASSWORD_FILE and SAGA_KAFKA_CA_FILE."
        ) from error
    except (KafkaError, OSError, TimeoutError) as error:
        reason = (f"no answer within {settings.connect_timeout:g}s"
                  if isinstance(error, TimeoutError) else str(error) or type(error).__name__)
        raise Unreachable(_unreachable(settings, what, reason)) from None


def _unreachable(settings: KafkaSettings, what: str, reason: str) -> str:
    return (f"cannot reach {what} at {settings.kafka_bootstrap_servers} ({reason}); is the "
            "broker running (make kafka)? Check --bootstrap / KAFKA_BOOTSTRAP_SERVERS.")


async def start_client(settings: KafkaSettings, client) -> None:
    """Start a producer, consumer or admin client, bounded; a failed start leaves nothing open."""
    async with reaching(settings):
        await start_bounded(client, settings.connect_timeout)


async def publish(settings: KafkaSettings, events: Sequence[Event]) -> list[RecordMetadata]:
    """Send events in order, each acknowledged by the broker (idempotent, acks=all)."""
    return await publish_raw(settings, [(event.event_type, event.key.encode(), encode(event), [])
                                        for event in events])


async def publish_raw(settings: KafkaSettings, messages: Sequence[Message]
                      ) -> list[RecordMetadata]:
    """Send (topic, key, value, headers) in order; where each landed, once acknowledged."""
    results = await publish_each(settings, messages)
    for result in results:
        if isinstance(result, BaseException):
            async with reaching(settings):  # says what the broker refused, and why
                raise result
    return results


async def publish_each(settings: KafkaSettings, messages: Sequence[Message]
                       ) -> list[RecordMetadata | Exception]:
    """Like :func:`publish_raw`, but one message's failure does not stop the others: the
    result of each message, in order (its metadata, or why the broker refused it)."""
    producer = AIOKafkaProducer(**settings.client_options(), client_id="sagactl",
                                enable_idempotence=True, acks="all",
                                request_timeout_ms=int(settings.send_timeout * 1000))
    await start_client(settings, producer)
    try:
        async with reaching(settings), asyncio.timeout(settings.send_timeout
                                                       + len(messages) * 0.1):
            pending = []
            for topic, key, value, headers in messages:
                try:
                    pending.append(await producer.send(settings.topic(topic), value, key=key,
                                                       headers=headers))
                except KafkaError as refused:  # e.g. too large, checked before sending
                    pending.append(refused)
            return [item if isinstance(item, Exception) else await _outcome(item)
                    for item in pending]
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(settings.send_timeout):
                await producer.stop()


async def _outcome(future: asyncio.Future) -> RecordMetadata | Exception:
    try:
        return await future
    except KafkaError as error:
        return error


async def read_topics(settings: KafkaSettings, topics: Sequence[str], *, follow: bool,
                      from_beginning: bool, on_wait: Callable[[str], None] | None = None
                      ) -> AsyncIterator[ConsumerRecord]:
    """Records of the given logical topics. Without ``follow``: from the start (or now) to
    their current end, then stop. With ``follow``: forever, waiting for topics that do not
    exist yet and picking them up once they appear (they start at their beginning)."""
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False,
                                client_id="sagactl")
    await start_client(settings, consumer)
    try:
        names = [settings.topic(t) for t in topics]
        partitions = await partitions_of(settings, names)
        if not partitions and not follow:
            return
        ends = await _assign(consumer, partitions, from_beginning)
        async for record in _records(settings, consumer, names, ends, follow, on_wait):
            yield record
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(settings.send_timeout):
                await consumer.stop()


Place = tuple[str, int, int]


async def records_at(settings: KafkaSettings, places: Sequence[Place]
                     ) -> dict[Place, ConsumerRecord | None]:
    """The record at each (logical topic, partition, offset) as the broker holds it now, or
    None where there is none: no such topic or partition, an offset past the end, or a record
    that retention or compaction removed."""
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False,
                                client_id="sagactl")
    await start_client(settings, consumer)
    try:
        async with reaching(settings), asyncio.timeout(settings.send_timeout + len(places)):
            existing = set(await partitions_of(settings, sorted({settings.topic(topic)
                                                                  for topic, _, _ in places})))
            return {place: await _record_at(consumer, TopicPartition(
                settings.topic(place[0]), place[1]), place[2], existing) for place in places}
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(settings.send_timeout):
                await consumer.stop()


async def _record_at(consumer: AIOKafkaConsumer, partition: TopicPartition, offset: int,
                     existing: set[TopicPartition]) -> ConsumerRecord | None:
    if partition not in existing:
        return None
    consumer.assign([partition])
    first = (await consumer.beginning_offsets([partition]))[partition]
    end = (await consumer.end_offsets([partition]))[partition]
    if not first <= offset < end:
        return None
    consumer.seek(partition, offset)
    # Past the offset once a record or a gap (compaction, a transaction marker) was read.
    while await consumer.position(partition) <= offset:
        batch = await consumer.getmany(partition, timeout_ms=500, max_records=1)
        for record in batch.get(partition, []):
            return record if record.offset == offset else None
    return None


async def _assign(consumer: AIOKafkaConsumer, partitions: list[TopicPartition],
                  from_beginning: bool) -> dict[TopicPartition, int]:
    consumer.assign(partitions)
    if not partitions:
        return {}
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.beginning_offsets(partitions) if from_beginning else ends
    for partition, offset in starts.items():
        consumer.seek(partition, offset)
    return ends


async def _records(settings: KafkaSettings, consumer: AIOKafkaConsumer, names: list[str],
                   ends: dict[TopicPartition, int], follow: bool,
                   on_wait: Callable[[str], None] | None) -> AsyncIterator[ConsumerRecord]:
    loop = asyncio.get_running_loop()
    looked = loop.time()
    if follow and on_wait and len({tp.topic for tp in ends}) < len(names):
        on_wait(_missing(names, ends))
    while True:
        if not follow and await _reached(consumer, ends):
            return
        async with reaching(settings):
            batches = await consumer.getmany(timeout_ms=500)
        for record in sorted((r for rs in batches.values() for r in rs),
                             key=lambda r: r.timestamp):
            yield record
        if follow and loop.time() - looked > NEW_TOPICS_EVERY:
            looked = loop.time()
            ends = await _add_new_topics(settings, consumer, names, ends)


async def _add_new_topics(settings: KafkaSettings, consumer: AIOKafkaConsumer, names: list[str],
                          known: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    partitions = await partitions_of(settings, names)
    new = [tp for tp in partitions if tp not in known]
    if not new:
        return known
    # assign() starts over: keep reading the known partitions where we were.
    positions = {tp: await consumer.position(tp) for tp in known}
    consumer.assign([*known, *new])
    for tp, offset in {**positions, **await consumer.beginning_offsets(new)}.items():
        consumer.seek(tp, offset)
    return {**known, **{tp: 0 for tp in new}}


def _missing(names: list[str], ends: dict[TopicPartition, int]) -> str:
    missing = sorted(set(names) - {tp.topic for tp in ends})
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return f"waiting for topics that do not exist yet: {shown}"


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True


async def partitions_of(settings: KafkaSettings, topics: list[str]) -> list[TopicPartition]:
    """Every partition of these (full) topic names that exist, in order."""
    described = await describe(settings, topics)
    return [TopicPartition(topic["topic"], partition["partition"])
            for topic in described if topic["error_code"] == 0
            for partition in sorted(topic["partitions"], key=lambda p: p["partition"])]


async def describe(settings: KafkaSettings, topics: list[str]) -> list[dict]:
    async with admin_session(settings) as admin:
        return await admin.describe_topics(topics)


@contextlib.asynccontextmanager
async def admin_session(settings: KafkaSettings, client_id: str = "sagactl"):
    """An admin client, started within the connect timeout; what is done with it is bounded
    by the send timeout, and a broker that stops answering or refuses becomes one clear error."""
    admin = AIOKafkaAdminClient(**settings.client_options(), client_id=client_id)
    await start_client(settings, admin)
    try:
        async with reaching(settings), asyncio.timeout(settings.send_timeout):
            yield admin
    finally:
        await admin.close()
