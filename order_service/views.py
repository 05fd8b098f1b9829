"""Read-side queries for the API: orders as JSON-ready dicts, no domain logic."""

from __future__ import annotations

import json

from shared.store import Database

_SUMMARY = ("order_id, customer_id, status, cancellation, total, created_at, updated_at, "
            "deadline_at")


def order_detail(db: Database, order_id: str) -> dict | None:
    row = db.execute(f"SELECT {_SUMMARY}, items, shipping_address FROM orders WHERE order_id = ?",
                     [order_id]).fetchone()
    if row is None:
        return None
    *summary, items, address = row
    return {**_summary(summary), "items": json.loads(items),
            "shipping_address": json.loads(address), "history": history(db, order_id)}


def history(db: Database, order_id: str) -> list[dict]:
    rows = db.execute("SELECT event_type, event_id, producer, causation_id, occurred_at, detail "
                      "FROM order_history WHERE order_id = ? ORDER BY seq", [order_id])
    keys = ("event_type", "event_id", "producer", "causation_id", "occurred_at", "detail")
    return [dict(zip(keys, row, strict=True)) for row in rows.fetchall()]


def list_orders(db: Database, *, status: str | None, customer_id: str | None,
                limit: int, before: tuple[float, str] | None = None) -> list[dict]:
    """Newest first, one page; ``before`` is the (created_at, order_id) of the last order of
    the previous page (keyset paging: every page costs the same, however deep)."""
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if customer_id:
        where.append("customer_id = ?")
        params.append(customer_id)
    if before:
        where.append("(created_at, order_id) < (?, ?)")
        params.extend(before)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = db.execute(f"SELECT {_SUMMARY} FROM orders {clause} "
                      "ORDER BY created_at DESC, order_id DESC LIMIT ?",
                      [*params, limit]).fetchall()
    return [_summary(row) for row in rows]


def _summary(row) -> dict:
    keys = ("order_id", "customer_id", "status", "cancellation", "total", "created_at",
            "updated_at", "deadline_at")
    return dict(zip(keys, row, strict=True))
