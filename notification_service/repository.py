"""Notification's table: the sink a user can read, one row per order and kind."""

from __future__ import annotations

import time

from notification_service.model import Notification
from shared.store import Database, create_table
from shared.uow import UnitOfWork


def create_tables(db: Database) -> None:
    create_table(db, "notifications", {"order_id": str, "kind": str, "customer_id": str,
                                       "message": str, "sent_at": float}, pk=("order_id", "kind"))


class NotificationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def exists(self, order_id: str, kind: str) -> bool:
        return self.db.execute("SELECT 1 FROM notifications WHERE order_id = ? AND kind = ?",
                               [order_id, kind]).fetchone() is not None

    def add(self, notification: Notification) -> None:
        self.db.execute(
            "INSERT INTO notifications (order_id, kind, customer_id, message, sent_at) "
            "VALUES (?, ?, ?, ?, ?)", [notification.order_id, notification.kind,
                                       notification.customer_id, notification.message, time.time()])

    def for_order(self, order_id: str) -> list[dict]:
        return self.db.rows("SELECT order_id, kind, customer_id, message, sent_at FROM "
                            "notifications WHERE order_id = ? ORDER BY sent_at", [order_id])


class NotificationUnitOfWork(UnitOfWork):
    def __init__(self, db: Database, **options) -> None:
        super().__init__(db, "notification_service", **options)
        self.notifications = NotificationRepository(db)
