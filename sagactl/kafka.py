"""sagactl's Kafka client: publish events, read topics from a point in time or follow them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import RecordMetadata

from shared.events import Event, encode
from shared.settings import Settings


async def publish(settings: Settings, events: Sequence[Event]) -> None:
    """Send events in order, each acknowledged by the broker (idempotent, acks=all)."""
    await publish_raw(settings, [(event.event_type, event.key.encode(), encode(event), [])
                                 for event in events])


async def publish_raw(settings: Settings, messages: Sequence[tuple[str, bytes | None, bytes, list]]
                      ) -> list[RecordMetadata]:
    """Send (topic, key, value, headers) tuples in order; returns where each one landed."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                client_id="sagactl", enable_idempotence=True, acks="all",
                                request_timeout_ms=int(settings.send_timeout * 1000))
    async with asyncio.timeout(settings.send_timeout):
        await producer.start()
    try:
        async with asyncio.timeout(settings.send_timeout + len(messages) * 0.1):
            acks = [await producer.send(settings.topic(topic), value, key=key, headers=headers)
                    for topic, key, value, headers in messages]
            return list(await asyncio.gather(*acks))
    finally:
        await producer.stop()


async def read_topics(settings: Settings, topics: Sequence[str], *, follow: bool,
                      from_beginning: bool) -> AsyncIterator[ConsumerRecord]:
    """Records of the given logical topics; without ``follow``, stop at their current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                enable_auto_commit=False, client_id="sagactl")
    await consumer.start()
    try:
        partitions = await partitions_of(settings, [settings.topic(t) for t in topics])
        if not partitions:
            return
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions) if from_beginning else ends
        for partition, offset in starts.items():
            consumer.seek(partition, offset)
        async for record in _records(consumer, ends, follow):
            yield record
    finally:
        await consumer.stop()


async def partitions_of(settings: Settings, topics: list[str]) -> list[TopicPartition]:
    """Every partition of these (full) topic names that exist, in order."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [TopicPartition(topic["topic"], partition["partition"])
            for topic in described if topic["error_code"] == 0
            for partition in sorted(topic["partitions"], key=lambda p: p["partition"])]


async def _records(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int],
                   follow: bool) -> AsyncIterator[ConsumerRecord]:
    while True:
        if not follow and await _reached(consumer, ends):
            return
        batches = await consumer.getmany(timeout_ms=500)
        for record in sorted((r for rs in batches.values() for r in rs),
                             key=lambda r: r.timestamp):
            yield record


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True
