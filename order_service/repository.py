"""Order's tables: orders, and every saga event seen for each order (its history)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

from order_service.model import Cancellation, Fact, Order, OrderStatus, cancellation_reason
from shared.events import Event, OrderCreated
from shared.store import Database, create_index, create_table
from shared.timers import Timers
from shared.uow import UnitOfWork

#: The kind of the order service's timers: an order's deadline, keyed by the order id.
DEADLINE = "order-deadline"


def create_tables(db: Database) -> None:
    had_reasons = "orders" not in db.table_names() or "cancel_reason" in db.columns("orders")
    create_table(db, "orders", {"order_id": str, "customer_id": str, "status": str,
                                "cancellation": str, "total": str, "items": str,
                                "shipping_address": str, "created_at": float,
                                "updated_at": float, "cancel_reason": str,
                                "deadline_at": float}, pk="order_id")
    # One index per list query the API offers (GET /orders by status, by customer, or all).
    create_index(db, "orders", ["status", "created_at", "order_id"])
    create_index(db, "orders", ["customer_id", "created_at", "order_id"])
    create_index(db, "orders", ["created_at", "order_id"])
    create_table(db, "order_history", {"seq": int, "order_id": str, "event_id": str,
                                       "event_type": str, "producer": str, "causation_id": str,
                                       "occurred_at": str, "detail": str}, pk="seq")
    # A fact is its type and id (as in the inbox): an event reusing another type's id is
    # another fact. (Keyed on the id alone before.)
    db.execute("DROP INDEX IF EXISTS order_history_event")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS order_history_fact "
               "ON order_history (order_id, event_type, event_id)")
    if not had_reasons:
        _note_reasons_of_running_orders(db)


def _note_reasons_of_running_orders(db: Database) -> None:
    """Orders an older version left running learn why they are being cancelled, once: the
    fold no longer reads their history again."""
    for (order_id,) in db.execute("SELECT order_id FROM orders WHERE status NOT IN "
                                  "('COMPLETED', 'CANCELLED')").fetchall():
        reason = cancellation_reason(OrderRepository(db).facts(order_id), default=None)
        db.execute("UPDATE orders SET cancel_reason = ? WHERE order_id = ?", [reason, order_id])


def fact_of(event: Event) -> Fact:
    """The event as a fact of its order's history, with the detail a person wants to see."""
    fields = vars(event.payload)  # not getattr: a missing field is slow to find on a model
    return Fact(event.event_type, str(fields.get("reason") or fields.get("tracking_number")
                                      or fields.get("message") or ""))


class OrderRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, order_id: str) -> Order | None:
        """The order, locked until the transaction ends where another instance could change
        it at the same time (its API takes a cancellation while a fact arrives)."""
        row = self.db.execute("SELECT customer_id, total, status, cancellation, cancel_reason "
                              f"FROM orders WHERE order_id = ?{self.db.for_update}",
                              [order_id]).fetchone()
        if row is None:
            return None
        customer_id, total, status, cancellation, reason = row
        return Order(order_id, customer_id, Decimal(total), OrderStatus(status),
                     Cancellation(cancellation) if cancellation else None, reason)

    def add(self, order_id: str, order: OrderCreated, deadline_at: float) -> Order:
        now = time.time()
        self.db.execute(
            "INSERT INTO orders (order_id, customer_id, status, cancellation, total, items, "
            "shipping_address, created_at, updated_at, deadline_at) "
            "VALUES (?, ?, 'PENDING', NULL, ?, ?, ?, ?, ?, ?)",
            [order_id, order.customer_id, str(order.total),
             json.dumps([item.model_dump(mode="json") for item in order.items]),
             order.shipping_address.model_dump_json(), now, now, deadline_at])
        return Order(order_id, order.customer_id, order.total)

    def save(self, order: Order) -> None:
        """Its status, cancellation and reason; ``updated_at`` is when one of them changed."""
        self.db.execute(
            "UPDATE orders SET status = ?, cancellation = ?, cancel_reason = ?, updated_at = ? "
            "WHERE order_id = ?", [str(order.status), order.cancellation and str(order.cancellation),
                                   order.cancel_reason, time.time(), order.order_id])

    def record(self, event: Event) -> Fact:
        """Append an event to the order's history (once, however often it arrives)."""
        fact = fact_of(event)
        self.db.execute(
            "INSERT INTO order_history (order_id, event_id, event_type, producer, "
            "causation_id, occurred_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [event.order_id, event.event_id, event.event_type, event.producer,
             event.causation_id, event.occurred_at.isoformat(), fact.detail])
        return fact

    def has_history(self, order_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM order_history WHERE order_id = ? LIMIT 1",
                               [order_id]).fetchone() is not None

    def facts(self, order_id: str) -> list[Fact]:
        rows = self.db.execute("SELECT event_type, detail FROM order_history WHERE order_id = ? "
                               "ORDER BY seq", [order_id]).fetchall()
        return [Fact(*row) for row in rows]


class OrderUnitOfWork(UnitOfWork):
    def __init__(self, db: Database, *, deadline_seconds: float = 1800.0, **options) -> None:
        super().__init__(db, "order_service", **options)
        self.orders = OrderRepository(db)
        self.deadlines = Timers(db)
        #: How long a saga may take when its order names no deadline of its own.
        self.deadline_seconds = deadline_seconds
