"""The inbox: which events this service has already applied.

Guarantee: claimed in the same transaction as the state change it guards, so an event is
applied exactly once however often Kafka delivers it. An entry is keyed by the event's type
*and* id: a principal that may publish one event type cannot make a service skip an event of
another type by reusing its id. Entries are kept at least as long as the topics retain
messages (``inbox_retention_days``), because a message can only be redelivered while the
broker still has it — and longer for an event whose twin still waits in the retry queue (a
duplicate queued behind a parked event of its key must find the original here, however late
it is replayed).
"""

from __future__ import annotations

import time

from shared.events import Event
from shared.store import Database, create_index, create_table

KEY = ("event_type", "event_id")


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def create(db: Database) -> None:
        create_table(db, "inbox", {"event_id": str, "event_type": str, "order_id": str,
                                   "received_at": float}, pk=KEY)
        if db.dialect == "sqlite" and tuple(db["inbox"].pks) != KEY:  # on event_id alone before
            db["inbox"].transform(pk=KEY)
        create_index(db, "inbox", ["received_at"])

    def claim(self, event: Event) -> bool:
        """True the first time this event is seen; False for a duplicate (a no-op)."""
        return self.claim_key(event.event_type, event.event_id, event.order_id)

    def claim_key(self, kind: str, key: str, order_id: str | None = None) -> bool:
        """Claim anything that must happen once, by a kind and a key of its own: an event, or
        a decision such as dead-lettering the record at some coordinates."""
        cursor = self.db.execute(
            "INSERT INTO inbox (event_id, event_type, order_id, received_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", [key, kind, order_id, time.time()])
        return cursor.rowcount == 1

    def prune(self, older_than_days: float, now: float | None = None) -> int:
        cutoff = (now or time.time()) - older_than_days * 86_400
        return self.db.execute(
            "DELETE FROM inbox WHERE received_at < ? AND NOT EXISTS (SELECT 1 FROM retry_queue q "
            "WHERE q.event_type = inbox.event_type AND q.event_id = inbox.event_id)",
            [cutoff]).rowcount
