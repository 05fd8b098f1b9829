"""The broker the suite runs against is a real Kafka: topics, produce, consume, commit."""

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def test_a_produced_message_is_consumed_and_its_offset_committed(kafka_bootstrap, topic_prefix):
    topic, group = f"{topic_prefix}plumbing", f"{topic_prefix}group"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        assert topic in await admin.list_topics()
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b'{"hello": "kafka"}', key=b"order-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=group,
        enable_auto_commit=False, auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await consumer.getone()
        partition = TopicPartition(topic, record.partition)
        await consumer.commit({partition: record.offset + 1})
        committed = await consumer.committed(partition)
    finally:
        await consumer.stop()

    assert (record.key, record.value) == (b"order-1", b'{"hello": "kafka"}')
    assert (record.partition, record.offset) == (sent.partition, sent.offset)
    assert committed == sent.offset + 1


async def test_a_new_consumer_group_resumes_after_the_committed_offset(kafka_bootstrap, topic_prefix):
    topic, group = f"{topic_prefix}resume", f"{topic_prefix}group"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    for value in (b"first", b"second"):
        await producer.send_and_wait(topic, value, key=b"k")
    await producer.stop()

    async def read_one_and_commit() -> bytes:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=group,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            record = await consumer.getone()
            await consumer.commit({TopicPartition(topic, 0): record.offset + 1})
            return record.value
        finally:
            await consumer.stop()

    assert await read_one_and_commit() == b"first"
    assert await read_one_and_commit() == b"second"
