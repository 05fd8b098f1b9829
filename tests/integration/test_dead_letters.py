"""`sagactl dlq` as an operator uses it: what is replayed, what is skipped, what progress is
remembered, and how a letter is dismissed."""

import json

import pytest

from sagactl.kafka import publish_raw, read_topics
from shared.events import Event, StockAdded, encode
from shared.runtime.topics import ensure_topics
from tests.support.cli import sagactl

pytestmark = pytest.mark.integration


def _letter(key: str, source_topic: str = "StockAdded", kind: str = "handler-failed",
            offset: int = 0) -> tuple:
    value = encode(Event.new(StockAdded(sku=key, quantity=1), producer="test"))
    headers = [("dlt.kind", kind), ("dlt.reason", "gateway timeout"),
               ("dlt.source.topic", source_topic), ("dlt.source.partition", "0"),
               ("dlt.source.offset", str(offset)), ("dlt.service", "inventory_service"),
               ("dlt.attempts", "5"), ("dlt.time", "2026-11-26T10:00:00+00:00")]
    return ("StockAdded.DLT", key.encode(), value, [(k, v.encode()) for k, v in headers])


async def _pending(mesh) -> list[dict]:
    ran = await sagactl(mesh, "dlq", "list", "--pending", "--json")
    assert ran.code == 0, ran.output
    return [json.loads(line) for line in ran.stdout.splitlines()]


async def _messages(mesh, topic: str) -> int:
    return len([r async for r in read_topics(mesh.tool, [topic], follow=False,
                                             from_beginning=True)])


async def test_a_letter_whose_source_topic_is_gone_is_skipped_and_the_rest_replayed_once(mesh):
    await ensure_topics(mesh.tool)
    await publish_raw(mesh.tool, [_letter("GOOD-1", offset=1),
                                  _letter("LOST-1", source_topic="Vanished", offset=2)])
    ran = await sagactl(mesh, "dlq", "replay")
    assert ran.code == 0, ran.output
    assert "skipped" in ran.stderr and "Vanished does not exist" in ran.stderr
    assert [letter["key"] for letter in await _pending(mesh)] == ["LOST-1"]

    again = await sagactl(mesh, "dlq", "replay")
    assert again.code == 0 and await _messages(mesh, "StockAdded") == 1


async def test_replaying_one_order_remembers_exactly_that_orders_letters(mesh):
    await ensure_topics(mesh.tool)
    await publish_raw(mesh.tool, [_letter("A-1", offset=1), _letter("B-1", offset=2)])
    assert (await sagactl(mesh, "dlq", "replay", "-o", "A-1")).code == 0
    assert [letter["key"] for letter in await _pending(mesh)] == ["B-1"]
    offered = await sagactl(mesh, "dlq", "replay", "--dry-run")
    assert "B-1" in offered.stdout and "A-1" not in offered.stdout


async def test_garbage_is_not_replayed_unless_asked_and_ack_dismisses_it(mesh):
    await mesh.start("order_service", "inventory_service")
    await publish_raw(mesh.tool, [("OrderCreated", b"ord-x", b"{not json", [])])
    await mesh.wait_for_async(lambda: _pending_count(mesh, 2), timeout=30)

    for _ in range(2):  # each replay would have put the garbage back: it must not
        ran = await sagactl(mesh, "dlq", "replay")
        assert ran.code == 0 and "0 letter(s) to replay" in ran.stderr
    assert len(await _pending(mesh)) == 2 and await _messages(mesh, "OrderCreated") == 1

    ran = await sagactl(mesh, "dlq", "ack", "--kind", "malformed", "--reason", "test garbage")
    assert ran.code == 0, ran.output
    assert await _pending(mesh) == []
    listed = await sagactl(mesh, "dlq", "list", "--json")
    decisions = [json.loads(line)["decision"] for line in listed.stdout.splitlines()]
    assert [d["reason"] for d in decisions] == ["test garbage", "test garbage"]


async def test_a_letter_with_nothing_to_send_back_cannot_be_replayed(mesh):
    ran = await sagactl(mesh, "dlq", "replay", "--kind", "unreadable")
    assert ran.code == 2 and "sagactl dlq ack" in ran.stderr


async def _pending_count(mesh, count: int) -> bool:
    return len(await _pending(mesh)) == count
