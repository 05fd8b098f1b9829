"""Retry queue: failed events wait here, per order, so one stuck saga blocks no other.

Guarantees:
* an event is written here before its Kafka offset is committed: never lost;
* events of one order leave the queue in arrival order — a later event of an
  order with a waiting (or parked) event queues behind it, so a saga never
  skips a step;
* after ``max_attempts`` tries with exponential backoff and jitter, the head is
  PARKED: it stays here, blocking its order, and is dead-lettered for people to
  see (``sagactl dlq list``); replaying it (``sagactl dlq replay``) revives it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.deadletters import Delivery
from shared.events import Event, encode
from shared.store import Database, create_table

WAITING, PARKED = "WAITING", "PARKED"
_jitter = random.Random()


@dataclass(frozen=True)
class Backoff:
    base: float = 0.2
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random = _jitter) -> float:
        """Exponential, capped, with jitter so that retries of many orders spread out."""
        ceiling = min(self.cap, self.base * 2 ** max(attempt - 1, 0))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class QueuedEvent:
    seq: int
    order_key: str
    event_id: str
    value: bytes
    delivery: Delivery
    attempts: int
    status: str
    last_error: str


#: Heads of their order's line: nothing of the same order is queued before them.
_HEAD = ("NOT EXISTS (SELECT 1 FROM retry_queue e WHERE e.order_key = q.order_key "
         "AND e.seq < q.seq)")


class RetryQueue:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    @staticmethod
    def create(db: Database) -> None:
        create_table(db, "retry_queue", {
            "seq": int, "order_key": str, "event_id": str, "event_type": str, "value": bytes,
            "source_topic": str, "source_partition": int, "source_offset": int,
            "attempts": int, "status": str, "next_attempt_at": float, "last_error": str,
            "created_at": float, "traceparent": str}, pk="seq")
        # One queued copy per event, by type and id (as the inbox): a forged id of another
        # type cannot stand in for a genuine event. (Keyed on the id alone before.)
        db.execute("DROP INDEX IF EXISTS retry_queue_event")
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS retry_queue_event_key "
                   "ON retry_queue (event_type, event_id)")
        db.execute("CREATE INDEX IF NOT EXISTS retry_queue_order ON retry_queue (order_key, seq)")

    def is_empty(self) -> bool:
        return self.db.execute("SELECT 1 FROM retry_queue LIMIT 1").fetchone() is None

    def holds(self, order_key: str) -> bool:
        return self.db.execute("SELECT 1 FROM retry_queue WHERE order_key = ? LIMIT 1",
                               [order_key]).fetchone() is not None

    def add(self, event: Event, delivery: Delivery, *, attempts: int, delay: float,
            error: str = "", status: str = WAITING) -> None:
        """Queue an event (once: a redelivery of a queued event changes nothing)."""
        traceparent = next((value.decode(errors="replace") for name, value in delivery.headers
                            if name == "traceparent" and isinstance(value, bytes)), None)
        self.db.execute(
            "INSERT INTO retry_queue (order_key, event_id, event_type, value, "
            "source_topic, source_partition, source_offset, attempts, status, next_attempt_at, "
            "last_error, created_at, traceparent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [event.key, event.event_id, event.event_type, encode(event), delivery.topic,
             delivery.partition, delivery.offset, attempts, status, self.clock() + delay,
             error[:500], self.clock(), traceparent])

    def due(self, limit: int = 50) -> list[QueuedEvent]:
        """Heads of their order's line whose time has come — and, where several instances
        share the queue, that no other instance is trying right now (those are skipped)."""
        return self._select(f"WHERE q.status = ? AND q.next_attempt_at <= ? AND {_HEAD} "
                            f"ORDER BY q.seq LIMIT ?{self.db.skip_locked}",
                            [WAITING, self.clock(), limit])

    def parked(self) -> list[QueuedEvent]:
        return self._select("WHERE q.status = ? ORDER BY q.seq", [PARKED])

    def seconds_until_next(self) -> float | None:
        """Until the next head is due; None when no head waits (a parked head blocks its
        order, and the events behind it are not due before it)."""
        row = self.db.execute(f"SELECT min(q.next_attempt_at) FROM retry_queue q "
                                   f"WHERE q.status = ? AND {_HEAD}", [WAITING]).fetchone()
        return None if row[0] is None else max(0.0, row[0] - self.clock())

    def remove(self, seq: int) -> None:
        self.db.execute("DELETE FROM retry_queue WHERE seq = ?", [seq])

    def reschedule(self, seq: int, attempts: int, delay: float, error: str) -> None:
        self.db.execute(
            "UPDATE retry_queue SET attempts = ?, next_attempt_at = ?, last_error = ? "
            "WHERE seq = ?", [attempts, self.clock() + delay, error[:500], seq])

    def park(self, seq: int, attempts: int, error: str) -> None:
        self.db.execute(
            "UPDATE retry_queue SET status = ?, attempts = ?, last_error = ? WHERE seq = ?",
            [PARKED, attempts, error[:500], seq])

    def revive(self, event_id: str) -> bool:
        """An operator asks for a parked event again: try it from the first attempt."""
        return self.db.execute(
            "UPDATE retry_queue SET status = ?, attempts = 0, next_attempt_at = 0 "
            "WHERE event_id = ? AND status = ?", [WAITING, event_id, PARKED]).rowcount > 0

    def revive_replayed(self, event: Event, delivery: Delivery) -> bool:
        """A parked event came back: try it again from the first attempt — if it is a replay.
        A replay is a new record (other coordinates); the same record delivered again (a
        crash before its offset was committed) is a redelivery and changes nothing."""
        return self.db.execute(
            "UPDATE retry_queue SET status = ?, attempts = 0, next_attempt_at = 0 "
            "WHERE event_type = ? AND event_id = ? AND status = ? AND NOT (source_topic = ? "
            "AND source_partition = ? AND source_offset = ?)",
            [WAITING, event.event_type, event.event_id, PARKED, delivery.topic,
             delivery.partition, delivery.offset]).rowcount == 1

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, count(*) FROM retry_queue GROUP BY status")
        return {WAITING: 0, PARKED: 0, **dict(rows.fetchall())}

    def _select(self, where: str, params: list) -> list[QueuedEvent]:
        rows = self.db.execute(
            "SELECT q.seq, q.order_key, q.event_id, q.value, q.source_topic, q.source_partition, "
            "q.source_offset, q.attempts, q.status, q.last_error, q.traceparent "
            f"FROM retry_queue q {where}", params).fetchall()
        return [QueuedEvent(seq, key, event_id, value, Delivery(
                    topic, partition, offset, key.encode(), value,
                    (("traceparent", traceparent.encode()),) if traceparent else ()),
                            attempts, status, error)
                for seq, key, event_id, value, topic, partition, offset, attempts, status, error,
                traceparent in rows]
