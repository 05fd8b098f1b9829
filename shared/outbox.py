"""The outbox: messages this service has decided to publish, in commit order.

Guarantee: a row is written in the same transaction as the state change that
produced it, so an event is published if and only if its cause committed. The
relay publishes rows in ``seq`` order and marks them sent only after the broker
acknowledged them; a crash in between republishes, and consumers deduplicate
by event id. Topics are stored without the deployment's prefix.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import sqlite_utils

from shared.db import create_table
from shared.events import Event, encode


@dataclass(frozen=True)
class OutgoingMessage:
    seq: int
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class Outbox:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    @staticmethod
    def create(db: sqlite_utils.Database) -> None:
        create_table(db, "outbox", {"seq": int, "message_id": str, "topic": str, "key": bytes,
                                    "value": bytes, "headers": str, "created_at": float,
                                    "sent_at": float}, pk="seq")
        db.execute("CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL")

    def add(self, event: Event) -> None:
        self.add_raw(event.event_type, event.key.encode(), encode(event), [], event.event_id)

    def add_raw(self, topic: str, key: bytes | None, value: bytes,
                headers: list[tuple[str, str]], message_id: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO outbox (message_id, topic, key, value, headers, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [message_id or uuid.uuid4().hex, topic, key, value, json.dumps(headers), time.time()],
        )

    def pending(self, limit: int = 200) -> list[OutgoingMessage]:
        rows = self.db.execute(
            "SELECT seq, topic, key, value, headers FROM outbox WHERE sent_at IS NULL "
            "ORDER BY seq LIMIT ?", [limit]).fetchall()
        return [OutgoingMessage(seq, topic, key, value,
                                [(name, text.encode()) for name, text in json.loads(headers)])
                for seq, topic, key, value, headers in rows]

    def mark_sent(self, seqs: list[int]) -> None:
        self.db.conn.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ?",
                            [(time.time(), seq) for seq in seqs])

    def unsent_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]

    def prune_sent(self, older_than_days: float) -> int:
        cutoff = time.time() - older_than_days * 86_400
        return self.db.execute("DELETE FROM outbox WHERE sent_at < ?", [cutoff]).rowcount
