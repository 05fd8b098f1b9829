"""Dead letters: messages set aside with the reason, never dropped.

A message goes to ``<topic>.DLT`` with its original key and bytes, and headers saying why
(``dlt.reason``, ``dlt.kind``), where it came from (``dlt.source.topic/partition/offset``),
who gave up on it (``dlt.service``, ``dlt.group``) and when (``dlt.time``). Writing it is an
outbox row in the caller's transaction, so it is published exactly when the decision to
dead-letter commits. A dead letter always fits in one Kafka message: key, value and headers
together stay under :data:`MAX_DEAD_LETTER_BYTES` (what was cut is said in headers), because
an unpublishable outbox row would be a message lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.outbox import Outbox, OutgoingMessage
from shared.store import Database

DLT_SUFFIX = ".DLT"
#: Well under the broker's and producer's 1 MB message limit, headers and framing included.
MAX_DEAD_LETTER_BYTES = 512 * 1024
#: A longer key is cut: keys are order ids, SKUs or customer ids, never this long.
MAX_DEAD_LETTER_KEY_BYTES = 1024
#: Letters whose original bytes can go back (``sagactl dlq replay`` by default): the event
#: itself was fine, its handler failed.
REPLAYABLE_BY_DEFAULT = ("handler-failed",)
#: Nothing to send back: the letter holds no value (or no longer all of it).
NEVER_REPLAYABLE = ("unreadable",)
#: The kind of a letter without a ``dlt.kind`` header (not written by this project): one
#: name for it in sagactl and the monitor, so that ``--kind unknown`` finds what both show.
UNKNOWN_KIND = "unknown"


def with_dead_letters(topics: Iterable[str]) -> list[str]:
    """Each topic followed by its dead-letter topic: what a reader of those topics reads."""
    return [name for topic in topics for name in (topic, topic + DLT_SUFFIX)]


@dataclass(frozen=True)
class Delivery:
    """One message as Kafka delivered it; ``topic`` is without the deployment prefix."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = field(default=())
    timestamp_ms: int | None = None


def dead_letter_headers(delivery: Delivery, *, kind: str, reason: str, service: str,
                        group: str, attempts: int = 0) -> list[tuple[str, str]]:
    return [
        ("dlt.reason", reason[:500]),
        ("dlt.kind", kind),
        ("dlt.source.topic", delivery.topic),
        ("dlt.source.partition", str(delivery.partition)),
        ("dlt.source.offset", str(delivery.offset)),
        ("dlt.service", service),
        ("dlt.group", group),
        ("dlt.attempts", str(attempts)),
        ("dlt.time", datetime.now(UTC).isoformat()),
    ]


class DeadLetters:
    def __init__(self, service: str, group: str) -> None:
        self.service = service
        self.group = group

    def add(self, db: Database, delivery: Delivery, *, kind: str, reason: str,
            attempts: int = 0) -> OutgoingMessage:
        """Within the caller's transaction."""
        headers = dead_letter_headers(delivery, kind=kind, reason=reason, service=self.service,
                                      group=self.group, attempts=attempts)
        key = delivery.key
        if key is not None and len(key) > MAX_DEAD_LETTER_KEY_BYTES:
            headers.append(("dlt.key-truncated-from", str(len(key))))
            key = key[:MAX_DEAD_LETTER_KEY_BYTES]
        value = delivery.value or b""
        room = MAX_DEAD_LETTER_BYTES - len(key or b"") - _size(headers) - 64
        if len(value) > room:
            headers.append(("dlt.truncated-from", str(len(value))))
            value = value[:room]
        return Outbox(db).add_raw(delivery.topic + DLT_SUFFIX, key, value, headers)


def _size(headers: list[tuple[str, str]]) -> int:
    return sum(len(name) + len(text.encode()) for name, text in headers)
