"""Dead letters: messages set aside with the reason, never dropped.

A message goes to ``<topic>.DLT`` with its original key and bytes, and headers
saying why (``dlt.reason``, ``dlt.kind``), where it came from
(``dlt.source.topic/partition/offset``), who gave up on it (``dlt.service``,
``dlt.group``) and when (``dlt.time``). Writing it is an outbox row, so it is
published exactly when the decision to dead-letter commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from shared.db import write_transaction
from shared.outbox import Outbox

DLT_SUFFIX = ".DLT"
#: Kept well under the broker's 1 MB message limit so that a dead letter, with its headers,
#: can always be published: an unpublishable outbox row would stall the whole relay.
MAX_DEAD_LETTER_BYTES = 512 * 1024


@dataclass(frozen=True)
class Delivery:
    """One message as Kafka delivered it; ``topic`` is without the deployment prefix."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


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
    def __init__(self, db: sqlite_utils.Database, service: str, group: str) -> None:
        self.db = db
        self.service = service
        self.group = group

    def add(self, outbox: Outbox, delivery: Delivery, *, kind: str, reason: str,
            attempts: int = 0) -> None:
        """Within the caller's transaction."""
        headers = dead_letter_headers(delivery, kind=kind, reason=reason, service=self.service,
                                      group=self.group, attempts=attempts)
        value = delivery.value or b""
        if len(value) > MAX_DEAD_LETTER_BYTES:
            headers.append(("dlt.truncated-from", str(len(value))))
            value = value[:MAX_DEAD_LETTER_BYTES]
        outbox.add_raw(delivery.topic + DLT_SUFFIX, delivery.key, value, headers)

    def reject(self, delivery: Delivery, *, kind: str, reason: str) -> None:
        """In a transaction of its own: for messages no handler can ever process."""
        with write_transaction(self.db):
            self.add(Outbox(self.db), delivery, kind=kind, reason=reason)
