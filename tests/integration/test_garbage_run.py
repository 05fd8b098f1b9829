"""Garbage of every kind that once hurt a service, from another client (kcat, librdkafka), on
every topic while orders flow: every order ends, every garbage record is dead-lettered by
every service that reads its topic, and no good record is."""

import asyncio
import contextlib
from collections import Counter

import aiokafka.codec
import pytest

from devtools.invariants import violations
from devtools.orders import BALANCES, STOCK, order_body
from participants import SERVICES
from sagactl.kafka import read_topics
from shared.choreography import consumers_of
from shared.deadletters import DLT_SUFFIX
from shared.events import CATALOG, Event, StockAdded, encode
from tests.support.kcat import kcat_produce, needs_kcat

pytestmark = [pytest.mark.integration, needs_kcat]
ORDERS = 24
#: The topics some service reads in this (the default, choreographed) mode: garbage on a topic
#: nobody reads (an orchestrator's command) would be dead-lettered by nobody.
READ = [topic for topic, payload in CATALOG.items() if consumers_of(payload, SERVICES)]

#: kind of garbage → (its bytes, its headers, compressed with, the dead letter's kind)
GARBAGE = {
    "nested too deep": (b"[" * 2048, (), None, "malformed"),
    "an integer of 5,000 digits": (b'{"event_id": "x", "n": ' + b"7" * 5000 + b"}", (), None,
                                   "malformed"),
    "a header key that is not UTF-8": (b"{}", ((b"\xff\xfe", b"v"),), None, "unreadable"),
    # Large enough that librdkafka does compress it (it sends a batch that would not shrink
    # as it is).
    "a batch this process cannot unpack": (b"{" + b" " * 2000 + b"}", (), "snappy", "unreadable"),
}


def _stock_added(sku: str) -> bytes:
    return encode(Event.new(StockAdded(sku=sku, quantity=1), producer="kcat"))


async def _send_garbage(mesh) -> Counter:
    """Each kind onto every topic; a good record in front of each unreadable batch, and a good
    record with a header that has no value. What dead letters to expect, per (topic, kind)."""
    bootstrap, expected = mesh.tool.kafka_bootstrap_servers, Counter()
    for n, topic in enumerate(READ):
        readers = len(consumers_of(CATALOG[topic], SERVICES))
        for value, headers, compression, kind in GARBAGE.values():
            if compression:
                await kcat_produce(bootstrap, mesh.tool.topic("StockAdded"),
                                   _stock_added(f"FRONT-{n}"), partition=n % 3)
            await kcat_produce(bootstrap, mesh.tool.topic(topic), value, headers=headers,
                               partition=n % 3, compression=compression)
            expected[(topic, kind)] += readers
    await kcat_produce(bootstrap, mesh.tool.topic("StockAdded"), _stock_added("NULL-HEADER"),
                       headers=((b"traceparent", None),))
    return expected


async def _dead_letters(mesh) -> Counter:
    found = Counter()
    async for record in read_topics(mesh.tool, [t + DLT_SUFFIX for t in CATALOG], follow=False,
                                    from_beginning=True):
        headers = {name: value.decode() for name, value in record.headers}
        found[(headers["dlt.source.topic"], headers["dlt.kind"])] += 1
    return found


async def test_garbage_of_every_kind_on_every_topic_while_orders_flow(mesh, monkeypatch):
    monkeypatch.setattr(aiokafka.codec, "has_snappy", lambda: False)  # the services' process
    await mesh.start()
    await mesh.seed(STOCK, {**BALANCES, "alice": "1000.00"})
    placing = asyncio.gather(*(mesh.place_order(order_body(quantity=1 + n % 3,
                                                           customer="alice" if n % 4 else "bob"))
                               for n in range(ORDERS)))
    expected = await _send_garbage(mesh)
    orders = await mesh.wait_until_final(*await placing, timeout=180)

    assert Counter(order["status"] for order in orders.values()).keys() <= {"COMPLETED",
                                                                            "CANCELLED"}

    async def all_dead_lettered():
        return await _dead_letters(mesh) == expected
    with contextlib.suppress(TimeoutError):
        await mesh.wait_for_async(all_dead_lettered, timeout=120)
    found = await _dead_letters(mesh)
    assert (found - expected, expected - found) == (Counter(), Counter())
    skus = {row["sku"] for row in mesh.db("inventory_service")["stock"].rows}
    assert {f"FRONT-{n}" for n in range(len(READ))} | {"NULL-HEADER"} <= skus
    assert all(mesh.running(name) for name in mesh.runtimes), "a service died"
    assert violations(mesh.data_dir) == []
