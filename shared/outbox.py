"""The outbox: messages this service has decided to publish, in commit order.

Guarantee: a row is written in the same transaction as the state change that produced it,
so an event is published if and only if its cause committed. The relay publishes rows in
``seq`` order and marks them sent only after the broker acknowledged them; a crash in
between republishes, and consumers deduplicate by event id. A row the broker can never
accept (too large, say) is marked failed with its reason instead, so that it cannot hold
up the rows behind it. Topics are stored without the deployment's prefix.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from shared.events import Event, encode
from shared.store import Database, create_index, create_table


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
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def create(db: Database) -> None:
        create_table(db, "outbox", {"seq": int, "message_id": str, "topic": str, "key": bytes,
                                    "value": bytes, "headers": str, "created_at": float,
                                    "sent_at": float, "failed_at": float, "error": str},
                     pk="seq")
        create_index(db, "outbox", ["seq"], where="sent_at IS NULL", name="outbox_unsent")

    def add(self, event: Event, headers: Iterable[tuple[str, str]] = ()) -> OutgoingMessage:
        return self.add_raw(event.event_type, event.key.encode(), encode(event), list(headers),
                            event.event_id)

    def add_raw(self, topic: str, key: bytes | None, value: bytes,
                headers: list[tuple[str, str]], message_id: str | None = None) -> OutgoingMessage:
        now = time.time()
        [(seq,)] = self.db.execute(
            "INSERT INTO outbox (message_id, topic, key, value, headers, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
            [message_id or uuid.uuid4().hex, topic, key, value, orjson.dumps(headers).decode(),
             now]).fetchall()
        return OutgoingMessage(seq, topic, key, value,
                               [(name, text.encode()) for name, text in headers], now)

    @staticmethod
    def _messages(rows: list[tuple]) -> list[OutgoingMessage]:
        return [OutgoingMessage(seq, topic, key, value,
                                [(name, text.encode()) for name, text in orjson.loads(headers)],
                                created_at)
                for seq, topic, key, value, headers, created_at in rows]

    def unsent_seqs(self, created_before: float | None = None) -> list[int]:
        """The seqs of every unsent row (not failed), oldest first; only those created before
        ``created_before`` when given. Read from the partial index of unsent rows."""
        where, params = "sent_at IS NULL AND failed_at IS NULL", []
        if created_before is not None:
            where, params = f"{where} AND created_at < ?", [created_before]
        rows = self.db.execute(f"SELECT seq FROM outbox WHERE {where} ORDER BY seq", params)
        return [seq for (seq,) in rows.fetchall()]

    def rows(self, seqs: list[int]) -> list[OutgoingMessage]:
        """These rows, oldest first."""
        marks = ",".join("?" * len(seqs))
        return self._messages(self.db.execute(
            "SELECT seq, topic, key, value, headers, created_at FROM outbox "
            f"WHERE seq IN ({marks}) ORDER BY seq", seqs).fetchall())

    def mark_sent(self, seqs: list[int]) -> None:
        now = time.time()
        self.db.executemany(
            "UPDATE outbox SET sent_at = ? WHERE seq = ?",
            [(now, seq) for seq in seqs])

    def mark_failed(self, seq: int, error: str) -> None:
        self.db.execute(
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
