"""The monitor's reader of the operator's dead-letter decisions, on a real broker: ready at
once while nobody decided anything, never ready before it has read every earlier decision, and
following the topic once sagactl creates it."""

import asyncio
import json

import pytest

from saga_monitor.decisions import Decisions, follow
from sagactl.kafka import publish_raw
from sagactl.topics import ensure_decisions_topic
from shared.acls import DECISIONS_TOPIC

pytestmark = pytest.mark.integration


def decision(offset: int, what: str = "acked") -> tuple:
    value = {"decision": what, "reason": "dealt with by hand", "at": "2026-11-26T10:00:00+00:00"}
    return (DECISIONS_TOPIC, f"OrderCreated.DLT:0:{offset}".encode(),
            json.dumps(value).encode(), [])


async def test_the_reader_is_ready_at_once_without_the_topic_and_follows_it_once_it_appears(
        mesh):
    decisions, changes = Decisions(), []
    reader = asyncio.create_task(follow(mesh.tool, decisions, lambda: changes.append(1),
                                        look_again=0.2))
    try:
        await mesh.wait_for(lambda: decisions.problem is None, timeout=30)
        assert decisions.by_letter == {}
        await ensure_decisions_topic(mesh.tool, 30)  # as `sagactl dlq ack` does first
        await publish_raw(mesh.tool, [decision(4)])
        problems = set()

        async def decided():
            problems.add(decisions.problem)
            return "OrderCreated.DLT:0:4" in decisions.by_letter

        await mesh.wait_for_async(decided, timeout=30)
        assert decisions.by_letter["OrderCreated.DLT:0:4"]["decision"] == "acked"
        assert changes and problems == {None}  # a new topic holds only new decisions: ready
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_the_reader_says_it_has_read_the_decisions_only_once_it_read_every_earlier_one(
        mesh):
    await ensure_decisions_topic(mesh.tool, 30)
    await publish_raw(mesh.tool, [decision(offset) for offset in range(300)]
                      + [decision(0, "replayed")])
    decisions, seen_ready_with = Decisions(), set()
    reader = asyncio.create_task(follow(mesh.tool, decisions, lambda: None))
    try:
        async def read_all():
            if decisions.problem is None:
                seen_ready_with.add(len(decisions.by_letter))
            return decisions.problem is None

        await mesh.wait_for_async(read_all, timeout=30)
        assert seen_ready_with == {300}
        assert decisions.by_letter["OrderCreated.DLT:0:0"]["decision"] == "replayed"
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
