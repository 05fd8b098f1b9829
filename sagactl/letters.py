"""Dead letters as sagactl sees them, and what people decided about each.

A letter is pending until someone replays it (`sagactl dlq replay`) or dismisses it with a
reason (`sagactl dlq ack`). Each decision is a record on the compacted topic
``sagactl.dlq-decisions`` keyed by the letter's coordinates (``topic:partition:offset``):
kept as long as the letters themselves (forever), per letter — so replaying one order's
letters marks exactly those — and visible to every operator and to the saga monitor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sagactl.kafka import publish_raw, read_topics
from sagactl.topics import ensure_decisions_topic
from shared.acls import DECISIONS_TOPIC
from shared.deadletters import DLT_SUFFIX, UNKNOWN_KIND
from shared.events import CATALOG
from shared.settings import KafkaSettings


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    headers: dict[str, str]
    value: bytes
    decision: dict | None = None

    @property
    def coordinates(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def status(self) -> str:
        return self.decision["decision"] if self.decision else "pending"

    @property
    def kind(self) -> str:
        return self.headers.get("dlt.kind", UNKNOWN_KIND)

    @property
    def key_text(self) -> str:
        return (self.key or b"").decode(errors="replace")

    @property
    def source(self) -> tuple[str, str, str]:
        h = self.headers
        return (h.get("dlt.source.topic", ""), h.get("dlt.source.partition", ""),
                h.get("dlt.source.offset", ""))

    def as_json(self) -> dict:
        return {"letter": self.coordinates, "status": self.status, "kind": self.kind,
                "key": self.key_text, "source": ":".join(self.source),
                "service": self.headers.get("dlt.service"), "reason": self.headers.get(
                    "dlt.reason"), "attempts": int(self.headers.get("dlt.attempts", "0")),
                "time": self.headers.get("dlt.time"), "decision": self.decision,
                "value": self.value.decode(errors="replace")}


async def dead_letters(settings: KafkaSettings) -> list[DeadLetter]:
    """Every dead letter with its decision, oldest first."""
    decisions = await _decisions(settings)
    records = [r async for r in read_topics(settings, [name + DLT_SUFFIX for name in CATALOG],
                                            follow=False, from_beginning=True)]
    letters = [DeadLetter(
        topic=r.topic.removeprefix(settings.topic_prefix), partition=r.partition,
        offset=r.offset, timestamp=r.timestamp, key=r.key,
        headers={k: v.decode(errors="replace") for k, v in r.headers}, value=r.value or b"")
        for r in records]
    letters = [DeadLetter(**{**vars(letter), "decision": decisions.get(letter.coordinates)})
               for letter in letters]
    return sorted(letters, key=lambda d: (d.timestamp, d.topic, d.partition, d.offset))


async def record_decisions(settings: KafkaSettings, letters: list[DeadLetter], decision: str,
                           reason: str) -> None:
    await ensure_decisions_topic(settings, settings.connect_timeout)
    at = datetime.now(UTC).isoformat()
    await publish_raw(settings, [
        (DECISIONS_TOPIC, letter.coordinates.encode(),
         json.dumps({"decision": decision, "reason": reason, "at": at}).encode(), [])
        for letter in letters])


async def _decisions(settings: KafkaSettings) -> dict[str, dict]:
    decisions: dict[str, dict] = {}
    async for record in read_topics(settings, [DECISIONS_TOPIC], follow=False,
                                    from_beginning=True):
        if record.key is not None and record.value is not None:
            decisions[record.key.decode()] = json.loads(record.value)
    return decisions
