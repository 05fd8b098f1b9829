"""Records other clients produce that once stopped a service: compressed batches, a batch
this process cannot unpack (and the good records in front of it), a header aiokafka cannot
read, an outbox row the broker will never accept, and a topic that refuses every send."""

import aiokafka.codec
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from sagactl.kafka import read_topics
from shared.deadletters import Delivery
from shared.events import Event, StockAdded, encode
from shared.runtime.topics import ensure_topics
from tests.support.kcat import kcat_produce, needs_kcat

pytestmark = pytest.mark.integration


async def _produce(mesh, topic: str, values: list[bytes], compression: str | None = None,
                   partition: int = 0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=mesh.tool.kafka_bootstrap_servers,
                                compression_type=compression)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(mesh.tool.topic(topic), value, partition=partition)
    finally:
        await producer.stop()


def _stock_added(sku: str, quantity: int = 1) -> bytes:
    return encode(Event.new(StockAdded(sku=sku, quantity=quantity), producer="other-client"))


async def _dead_letters(mesh, topic: str) -> list:
    return [r async for r in read_topics(mesh.tool, [topic + ".DLT"], follow=False,
                                         from_beginning=True)]


async def test_batches_compressed_by_other_clients_are_read(mesh):
    await mesh.start("inventory_service")
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        await _produce(mesh, "StockAdded", [_stock_added(f"{codec.upper()}-1")], codec)
    await mesh.wait_for(lambda: mesh.db("inventory_service")["stock"].count == 4, timeout=30)


async def test_an_unreadable_batch_is_dead_lettered_by_its_coordinates_and_the_rest_flows(
        mesh, monkeypatch):
    await ensure_topics(mesh.tool)
    await _produce(mesh, "StockAdded", [_stock_added("SNAPPY-1", 5)], "snappy")
    await _produce(mesh, "StockAdded", [_stock_added("PLAIN-1", 3)])
    # This process can no longer unpack snappy: the first batch is unreadable for it.
    monkeypatch.setattr(aiokafka.codec, "has_snappy", lambda: False)
    mesh.configure("inventory_service", unreadable_max_tries=4)
    await mesh.start("inventory_service")
    health = f"{mesh.runtimes['inventory_service'].http.url}/health"

    async def reported_failing():
        async with httpx.AsyncClient() as client:
            response = await client.get(health)
        return response.status_code == 503 and response.json()["consumer"]["failing"]
    await mesh.wait_for_async(reported_failing, timeout=30)

    await mesh.wait_for(lambda: mesh.db("inventory_service")["stock"].count == 1, timeout=60)
    [letter] = await mesh.wait_for_async(lambda: _dead_letters(mesh, "StockAdded"), timeout=30)
    headers = {name: value.decode() for name, value in letter.headers}
    assert headers["dlt.kind"] == "unreadable" and "snappy" in headers["dlt.reason"]
    assert (headers["dlt.source.partition"], headers["dlt.source.offset"]) == ("0", "0")
    async with httpx.AsyncClient() as client:
        assert (await client.get(health)).json()["consumer"]["failing"] is False


async def test_an_outbox_row_the_broker_refuses_does_not_hold_up_the_rows_behind_it(mesh):
    await mesh.start("inventory_service")
    runtime = mesh.runtimes["inventory_service"]
    # A dead letter as large as the old code made them: over the producer's 1 MB limit.
    too_big = Delivery("StockAdded", 0, 99, b"k" * 10, b"x" * 1_100_000)

    def write_rows(db):
        from shared.outbox import Outbox
        with db.transaction():
            outbox = Outbox(db)
            return [outbox.add_raw("StockAdded.DLT", too_big.key, too_big.value, []),
                    outbox.add_raw("StockAdded", b"LATER-1", _stock_added("LATER-1"), [])]

    runtime.relay.hand_over(await runtime.writer.run(write_rows))
    await mesh.wait_for(lambda: mesh.db("inventory_service")["stock"].count == 1, timeout=30)
    failed = mesh.db("inventory_service").execute(
        "SELECT topic, error FROM outbox WHERE failed_at IS NOT NULL").fetchall()
    assert [(topic, "TooLarge" in error) for topic, error in failed] == [("StockAdded.DLT", True)]


async def test_once_an_unreadable_batch_is_skipped_the_consumer_is_healthy_again(
        mesh, monkeypatch):
    await ensure_topics(mesh.tool)
    await _produce(mesh, "StockAdded", [_stock_added("SNAPPY-1", 5)], "snappy")
    monkeypatch.setattr(aiokafka.codec, "has_snappy", lambda: False)
    await mesh.start("inventory_service")
    await mesh.wait_for_async(lambda: _dead_letters(mesh, "StockAdded"), timeout=60)
    health = f"{mesh.runtimes['inventory_service'].http.url}/health"

    async def healthy():  # with nothing behind the skipped batch to prove it by handling
        async with httpx.AsyncClient() as client:
            response = await client.get(health)
        return response.status_code == 200 and not response.json()["consumer"]["failing"]
    await mesh.wait_for_async(healthy, timeout=15)


def _letter_headers(letter) -> dict[str, str]:
    return {name: value.decode() for name, value in letter.headers}


async def test_good_records_in_front_of_an_unreadable_batch_are_applied_and_only_it_is_set_aside(
        mesh, monkeypatch):
    await ensure_topics(mesh.tool)
    await _produce(mesh, "StockAdded", [_stock_added("GOOD-1"), _stock_added("GOOD-2")])
    await _produce(mesh, "StockAdded", [_stock_added("SNAPPY-1")], "snappy")  # offset 2
    await _produce(mesh, "StockAdded", [_stock_added("AFTER-1")])
    # One fetch brings all four; this process cannot unpack the third.
    monkeypatch.setattr(aiokafka.codec, "has_snappy", lambda: False)
    await mesh.start("inventory_service")

    await mesh.wait_for(lambda: mesh.db("inventory_service")["stock"].count == 3, timeout=60)
    skus = {row["sku"] for row in mesh.db("inventory_service")["stock"].rows}
    assert skus == {"GOOD-1", "GOOD-2", "AFTER-1"}
    [letter] = await mesh.wait_for_async(lambda: _dead_letters(mesh, "StockAdded"), timeout=30)
    headers = _letter_headers(letter)
    assert (headers["dlt.kind"], headers["dlt.source.offset"]) == ("unreadable", "2")


@needs_kcat
async def test_a_header_key_that_is_not_utf8_is_set_aside_and_the_consumer_never_crashes(mesh):
    await ensure_topics(mesh.tool)
    bootstrap, topic = mesh.tool.kafka_bootstrap_servers, mesh.tool.topic("StockAdded")
    await kcat_produce(bootstrap, topic, _stock_added("ODD-HEADER-1"), partition=0,
                       headers=((b"\xff\xfe", b"v"),))
    await kcat_produce(bootstrap, topic, _stock_added("PLAIN-1"), partition=0)
    await mesh.start("inventory_service")

    await mesh.wait_for(lambda: mesh.db("inventory_service")["stock"].count == 1, timeout=60)
    [letter] = await mesh.wait_for_async(lambda: _dead_letters(mesh, "StockAdded"), timeout=30)
    headers = _letter_headers(letter)
    assert (headers["dlt.kind"], headers["dlt.source.offset"]) == ("unreadable", "0")
    assert "UnicodeDecodeError" in headers["dlt.reason"]
    status = await mesh.runtimes["inventory_service"].status()
    assert status["consumer"]["consecutive_crashes"] == 0 and status["ready"]


async def test_a_topic_that_refuses_every_send_is_held_and_the_other_topics_flow(mesh):
    mesh.configure("inventory_service", send_timeout=3.0)
    await mesh.start("inventory_service")
    runtime = mesh.runtimes["inventory_service"]

    def write_rows(db):
        from shared.outbox import Outbox
        with db.transaction():
            outbox = Outbox(db)  # a topic nobody made (auto-creation is off), then a good one
            return [outbox.add_raw("StockAdded.Nowhere", b"k", b"lost?", []),
                    outbox.add_raw("StockAdded", b"LATER-1", _stock_added("LATER-1"), [])]

    runtime.relay.hand_over(await runtime.writer.run(write_rows))
    await mesh.wait_for(lambda: mesh.db("inventory_service")["stock"].count == 1, timeout=60)
    held = (await runtime.status())["relay_held_topics"]
    assert list(held) == ["StockAdded.Nowhere"] and held["StockAdded.Nowhere"]["rows"] == 1
    assert "UnknownTopicOrPartition" in held["StockAdded.Nowhere"]["error"]
    unsent = mesh.db("inventory_service").execute(
        "SELECT topic FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL").fetchall()
    assert unsent == [("StockAdded.Nowhere",)]  # kept, to go out once the topic exists
