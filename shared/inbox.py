"""The inbox: which events this service has already applied.

Guarantee: claimed in the same transaction as the state change it guards, so an event is
applied exactly once however often Kafka delivers it. Entries are kept at least as long as
the topics retain messages (``inbox_retention_days``), because a message can only be
redelivered while the broker still has it.
"""

from __future__ import annotations

import time

import sqlite_utils

from shared.db import create_table
from shared.events import Event


class Inbox:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    @staticmethod
    def create(db: sqlite_utils.Database) -> None:
        create_table(db, "inbox", {"event_id": str, "event_type": str, "order_id": str,
                                   "received_at": float}, pk="event_id")
        db["inbox"].create_index(["received_at"], if_not_exists=True)

    def claim(self, event: Event) -> bool:
        """True the first time this event id is seen; False for a duplicate (a no-op)."""
        cursor = self.db.conn.execute(
            "INSERT OR IGNORE INTO inbox (event_id, event_type, order_id, received_at) "
            "VALUES (?, ?, ?, ?)",
            [event.event_id, event.event_type, event.order_id, time.time()])
        return cursor.rowcount == 1

    def prune(self, older_than_days: float, now: float | None = None) -> int:
        cutoff = (now or time.time()) - older_than_days * 86_400
        return self.db.execute("DELETE FROM inbox WHERE received_at < ?", [cutoff]).rowcount
