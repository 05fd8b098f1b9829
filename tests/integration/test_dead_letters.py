"""`sagactl dlq` as an operator uses it: what is replayed, what is skipped, what progress is
remembered, and how a letter is dismissed."""

import json

import pytest

from sagactl.kafka import publish_raw, read_topics
from shared.events import Event, StockAdded, encode
from shared.runtime.topics import ensure_topics
from tests.support.cli import sagactl

pytestmark = pytest.mark.integration


def _letter(key: str, value: bytes, partition: int = 0, offset: int = 0,
            kind: str = "handler-failed", source_topic: str = "StockAdded",
            cut: bool = False) -> tuple:
    """A letter in StockAdded.DLT, as inventory_service writes it, pointing at a record."""
    headers = [("dlt.kind", kind), ("dlt.reason", "gateway timeout"),
               ("dlt.source.topic", source_topic), ("dlt.source.partition", str(partition)),
               ("dlt.source.offset", str(offset)), ("dlt.service", "inventory_service"),
               ("dlt.attempts", "5"), ("dlt.time", "2026-11-26T10:00:00+00:00"),
               *([("dlt.truncated-from", str(len(value)))] if cut else [])]
    return ("StockAdded.DLT", key.encode(), value[:20] if cut else value,
            [(k, v.encode()) for k, v in headers])


async def _dead_lettered(mesh, key: str, **letter: object) -> tuple:
    """A genuine StockAdded on its topic, and the letter a service would write about it."""
    value = encode(Event.new(StockAdded(sku=key, quantity=1), producer="test"))
    [sent] = await publish_raw(mesh.tool, [("StockAdded", key.encode(), value, [])])
    return _letter(key, value, sent.partition, sent.offset, **letter)


async def _pending(mesh) -> list[dict]:
    ran = await sagactl(mesh, "dlq", "list", "--pending", "--json")
    assert ran.code == 0, ran.output
    return [json.loads(line) for line in ran.stdout.splitlines()]


async def _messages(mesh, topic: str) -> int:
    return len([r async for r in read_topics(mesh.tool, [topic], follow=False,
                                             from_beginning=True)])


async def test_a_letter_whose_original_record_is_gone_is_skipped_and_the_rest_replayed_once(
        mesh):
    await ensure_topics(mesh.tool)
    good = await _dead_lettered(mesh, "GOOD-1")
    lost = _letter("LOST-1", good[2], partition=0, offset=999)
    await publish_raw(mesh.tool, [good, lost])
    ran = await sagactl(mesh, "dlq", "replay")
    assert ran.code == 0, ran.output
    assert "skipped" in ran.stderr and "StockAdded:0:999 is no longer on the broker" in ran.stderr
    assert [letter["key"] for letter in await _pending(mesh)] == ["LOST-1"]

    again = await sagactl(mesh, "dlq", "replay")
    assert again.code == 0 and await _messages(mesh, "StockAdded") == 2


async def test_replaying_one_order_remembers_exactly_that_orders_letters(mesh):
    await ensure_topics(mesh.tool)
    await publish_raw(mesh.tool, [await _dead_lettered(mesh, "A-1"),
                                  await _dead_lettered(mesh, "B-1")])
    assert (await sagactl(mesh, "dlq", "replay", "-o", "A-1")).code == 0
    assert [letter["key"] for letter in await _pending(mesh)] == ["B-1"]
    offered = await sagactl(mesh, "dlq", "replay", "--dry-run")
    assert "B-1" in offered.stdout and "A-1" not in offered.stdout


async def test_a_replay_sends_the_original_record_never_the_letters_own_bytes(mesh):
    await ensure_topics(mesh.tool)
    cut = await _dead_lettered(mesh, "CUT-1", cut=True)
    original = await _dead_lettered(mesh, "FORGED-1")
    forged = _letter("FORGED-1", original[2].replace(b'"quantity":1', b'"quantity":9000'),
                     *_points_at(original))
    elsewhere = _letter("FORGED-2", original[2], *_points_at(original),
                        source_topic="FundsDeposited")
    await publish_raw(mesh.tool, [cut, forged, elsewhere])

    ran = await sagactl(mesh, "dlq", "replay", "--all")
    assert ran.code == 0, ran.output
    assert "no copy of the original record" in ran.stderr
    assert "its headers send it to FundsDeposited" in ran.stderr
    assert [letter["key"] for letter in await _pending(mesh)] == ["FORGED-1", "FORGED-2"]
    sent = [(r.topic.removeprefix(mesh.prefix), r.key, r.value) async for r in read_topics(
        mesh.tool, ["StockAdded", "FundsDeposited"], follow=False, from_beginning=True)]
    cut_original = next(value for _, key, value in sent if key == b"CUT-1")
    # The whole original went back, although the letter kept only its beginning.
    assert sorted(sent) == sorted([("StockAdded", b"CUT-1", cut_original),
                                   ("StockAdded", b"FORGED-1", original[2]),
                                   ("StockAdded", b"CUT-1", cut_original)])


def _points_at(letter: tuple) -> tuple[int, int]:
    headers = dict(letter[3])
    return int(headers["dlt.source.partition"]), int(headers["dlt.source.offset"])


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
