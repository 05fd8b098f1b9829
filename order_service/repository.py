"""Order's tables: orders, and every saga event seen for each order (its history)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import sqlite_utils

from order_service.model import Cancellation, Fact, Order, OrderStatus
from shared.db import create_table
from shared.events import Event, OrderCreated
from shared.uow import UnitOfWork


def create_tables(db: sqlite_utils.Database) -> None:
    create_table(db, "orders", {"order_id": str, "customer_id": str, "status": str,
                                "cancellation": str, "total": str, "items": str,
                                "shipping_address": str, "created_at": float,
                                "updated_at": float}, pk="order_id")
    # One index per list query the API offers (GET /orders by status, by customer, or all).
    db["orders"].create_index(["status", "created_at", "order_id"], if_not_exists=True)
    db["orders"].create_index(["customer_id", "created_at", "order_id"], if_not_exists=True)
    db["orders"].create_index(["created_at", "order_id"], if_not_exists=True)
    create_table(db, "order_history", {"seq": int, "order_id": str, "event_id": str,
                                       "event_type": str, "producer": str, "causation_id": str,
                                       "occurred_at": str, "detail": str}, pk="seq")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS order_history_event "
               "ON order_history (order_id, event_id)")


def detail_of(event: Event) -> str:
    payload = event.payload
    return str(getattr(payload, "reason", "") or getattr(payload, "tracking_number", "")
               or getattr(payload, "message", ""))


class OrderRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def get(self, order_id: str) -> Order | None:
        row = self.db.execute("SELECT customer_id, total, status, cancellation FROM orders "
                              "WHERE order_id = ?", [order_id]).fetchone()
        if row is None:
            return None
        customer_id, total, status, cancellation = row
        return Order(order_id, customer_id, Decimal(total), OrderStatus(status),
                     Cancellation(cancellation) if cancellation else None)

    def add(self, order_id: str, order: OrderCreated) -> None:
        now = time.time()
        self.db.conn.execute(
            "INSERT INTO orders (order_id, customer_id, status, cancellation, total, items, "
            "shipping_address, created_at, updated_at) VALUES (?, ?, 'PENDING', NULL, ?, ?, ?, ?, ?)",
            [order_id, order.customer_id, str(order.total),
             json.dumps([item.model_dump(mode="json") for item in order.items]),
             order.shipping_address.model_dump_json(), now, now])

    def save(self, order: Order) -> None:
        self.db.execute("UPDATE orders SET status = ?, cancellation = ?, updated_at = ? "
                        "WHERE order_id = ?", [str(order.status),
                                               order.cancellation and str(order.cancellation),
                                               time.time(), order.order_id])

    def record(self, event: Event) -> None:
        """Append an event to the order's history (once, however often it arrives)."""
        self.db.execute(
            "INSERT OR IGNORE INTO order_history (order_id, event_id, event_type, producer, "
            "causation_id, occurred_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [event.order_id, event.event_id, event.event_type, event.producer,
             event.causation_id, event.occurred_at.isoformat(), detail_of(event)])

    def has_history(self, order_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM order_history WHERE order_id = ? LIMIT 1",
                               [order_id]).fetchone() is not None

    def facts(self, order_id: str) -> list[Fact]:
        rows = self.db.execute("SELECT event_type, detail FROM order_history WHERE order_id = ? "
                               "ORDER BY seq", [order_id]).fetchall()
        return [Fact(*row) for row in rows]


class OrderUnitOfWork(UnitOfWork):
    def __init__(self, db: sqlite_utils.Database, **options) -> None:
        super().__init__(db, "order_service", **options)
        self.orders = OrderRepository(db)
