"""The outbox: messages this service has decided to publish, in commit order.

Guarantee: a row is written in the same transaction as the state change that produced it,
so an event is published if and only if its cause committed. The relay publishes rows in
``seq`` order and marks them sent only after the broker acknowledged them; a crash in
between republishes, and consumers deduplicate by event id. A row the broker can never
accept (too large, say) is marked failed with its reason instead, so that it cannot hold
up the rows behind it. Topics are stored without the deployment's prefix.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
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
    created_at: float = 0.0  # pragma: no mutate (every message is made from its row's time)

    @property
    def size(self) -> int:
        return (len(self.key or b"") + len(self.value)
                + sum(len(name) + len(value) for name, value in self.headers))


class Outbox:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    @staticmethod
    def create(db: sqlite_utils.Database) -> None:
        create_table(db, "outbox", {"seq": int, "message_id": str, "topic": str, "key": bytes,
                                    "value": bytes, "headers": str, "created_at": float,
                                    "sent_at": float, "failed_at": float, "error": str},
                     pk="seq")
        db.execute(
            "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL")

    def add(self, event: Event, headers: Iterable[tuple[str, str]] = ()) -> OutgoingMessage:
        return self.add_raw(event.event_type, event.key.encode(), encode(event), list(headers),
                            event.event_id)

    def add_raw(self, topic: str, key: bytes | None, value: bytes,
                headers: list[tuple[str, str]], message_id: str | None = None) -> OutgoingMessage:
        now = time.time()
        cursor = self.db.conn.execute(
            "INSERT INTO outbox (message_id, topic, key, value, headers, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [message_id or uuid.uuid4().hex, topic, key, value, json.dumps(headers), now])
        return OutgoingMessage(cursor.lastrowid, topic, key, value,
                               [(name, text.encode()) for name, text in headers], now)

    def pending(self, after_seq: int = 0, limit: int = 500) -> list[OutgoingMessage]:
        """Unsent rows after ``after_seq``, oldest first (failed rows are not pending)."""
        rows = self.db.conn.execute(
            "SELECT seq, topic, key, value, headers, created_at FROM outbox "
            "WHERE sent_at IS NULL AND failed_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
            [after_seq, limit]).fetchall()
        return [OutgoingMessage(seq, topic, key, value,
                                [(name, text.encode()) for name, text in json.loads(headers)],
                                created_at)
                for seq, topic, key, value, headers, created_at in rows]

    def mark_sent(self, seqs: list[int]) -> None:
        now = time.time()
        self.db.conn.executemany(
            "UPDATE outbox SET sent_at = ? WHERE seq = ?",
            [(now, seq) for seq in seqs])

    def mark_failed(self, seq: int, error: str) -> None:
        self.db.conn.execute(
            "UPDATE outbox SET failed_at = ?, error = ? WHERE seq = ?",
            [time.time(), error[:500], seq])

    def unsent_count(self) -> int:
        return self.db.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
        ).fetchone()[0]

    def failed(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT seq, topic, key, length(value), error, failed_at "
            "FROM outbox WHERE failed_at IS NOT NULL ORDER BY seq")
        keys = ("seq", "topic", "key", "bytes", "error", "failed_at")
        return [
            dict(zip(keys, row, strict=True))  # pragma: no mutate (the SELECT has these six)
            for row in rows.fetchall()]

    def prune_sent(self, older_than_days: float, now: float | None = None) -> int:
        """Forget rows sent long ago. The newest row always stays: ``seq`` is a plain rowid,
        which an empty table would hand out again from 1, and commit order must not restart."""
        cutoff = (now or time.time()) - older_than_days * 86_400
        return self.db.execute(
            "DELETE FROM outbox WHERE sent_at < ? AND seq < (SELECT max(seq) FROM outbox)",
            [cutoff]).rowcount
