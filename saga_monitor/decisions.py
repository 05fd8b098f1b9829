"""The operator's decisions about dead letters, as ``sagactl dlq replay|ack`` records them.

sagactl writes one record per letter to ``sagactl.dlq-decisions`` (compacted, one partition):
the key is the letter's coordinates ``topic:partition:offset`` (:attr:`progress.Letter.ref`),
the value JSON ``{"decision": "replayed" | "acked", "reason", "at"}``. A letter with a decision
is no longer pending on the monitor's pages.

That topic is not co-partitioned with the saga table (one partition, keyed by letter, while a
letter's saga may live on any worker), so it is no faust stream: every worker reads all of it
into a plain dict, from the beginning at every start and then as it grows, with a consumer of
its own outside the monitor's group. The compacted topic is itself the durable copy (one small
record per letter), so nothing else is needed: no committed offset that would make a restarted
worker skip the decisions it must read again, and no changelog of our own — both of which a
faust GlobalTable fed by an agent would add, for a mapping this small.

The topic exists only once someone ran ``sagactl topics create`` or recorded a decision
(``dlq replay|ack`` create it first). Until then there is no decision to read: the monitor
looks for it every few seconds and stays ready. Once it exists, the monitor is not ready until
it has read what the topic held when the monitor started (so that a restarted monitor does not
show dismissed letters as pending), nor while it cannot read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from shared.acls import DECISIONS_TOPIC
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
LOOK_AGAIN_SECONDS = 5.0


class Decisions:
    """Letter ref → the operator's decision about it; and whether they were all read."""

    def __init__(self) -> None:
        self.by_letter: dict[str, dict] = {}
        self.problem: str | None = f"{DECISIONS_TOPIC} not read yet"
        self._said: str | None = None

    def problems(self) -> list[str]:
        return [self.problem] if self.problem else []

    def record(self, key: bytes | None, value: bytes | None) -> bool:
        """One record of the topic; whether it changed a decision."""
        if key is None:
            return False
        ref = key.decode(errors="replace")
        if value is None:  # a tombstone: the decision was withdrawn
            return self.by_letter.pop(ref, None) is not None
        try:
            found = json.loads(value)
            decision = {"decision": str(found["decision"])[:40],
                        "reason": str(found.get("reason") or "")[:500],
                        "at": found.get("at") if isinstance(found.get("at"), str) else None}
        except (ValueError, TypeError, KeyError):
            log.warning("skipped an unreadable dead-letter decision", extra={"letter": ref})
            return False
        if self.by_letter.get(ref) == decision:
            return False
        self.by_letter[ref] = decision
        return True

    def say(self, problem: str | None) -> None:
        """``problem``: why they cannot be read, or None once read (or nothing to read). Loud
        once per new problem, and once when it is over."""
        if problem and problem != self._said:
            log.error("the saga monitor cannot read the operator's dead-letter decisions; it is "
                      "NOT ready: %s", problem)
        elif not problem and self._said:
            log.warning("the saga monitor reads the operator's dead-letter decisions again")
        self.problem = self._said = problem


async def follow(settings: KafkaSettings, decisions: Decisions, changed: Callable[[], None], *,
                 look_again: float = LOOK_AGAIN_SECONDS) -> None:
    """Read the decisions topic from its beginning, then follow it; until cancelled."""
    topic = settings.topic(DECISIONS_TOPIC)
    while True:
        consumer = AIOKafkaConsumer(**settings.client_options(), group_id=None,
                                    client_id="saga_monitor-decisions",
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        try:
            async with asyncio.timeout(settings.connect_timeout):
                await consumer.start()
            await _read(consumer, topic, decisions, changed, look_again)
        except (KafkaError, OSError, TimeoutError) as error:
            decisions.say(f"cannot read {DECISIONS_TOPIC}: {error!r}")
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(settings.connect_timeout):
                    await consumer.stop()
        await asyncio.sleep(look_again)


async def _read(consumer: AIOKafkaConsumer, topic: str, decisions: Decisions,
                changed: Callable[[], None], look_again: float) -> None:
    # Look for the topic with full metadata fetches: subscribed to a missing topic, aiokafka
    # would log an error at every metadata refresh.
    appeared = False
    while topic not in await consumer.topics():
        decisions.say(None)  # nobody decided anything yet: nothing to read
        appeared = True
        await asyncio.sleep(look_again)
    # No group: every partition is assigned, and read from its beginning (nothing committed).
    consumer.subscribe([topic])
    if not appeared:  # it holds decisions made before we started: not ready until they are read
        decisions.problem = f"reading {DECISIONS_TOPIC} from its beginning"
    caught_up = False
    while True:
        batches = await consumer.getmany(timeout_ms=1000)
        if any([decisions.record(r.key, r.value) for rs in batches.values() for r in rs]):
            changed()
        if not caught_up and (assigned := consumer.assignment()):
            ends = await consumer.end_offsets(list(assigned))
            caught_up = all([await consumer.position(tp) >= end for tp, end in ends.items()])
            if caught_up:
                decisions.say(None)
