"""What must hold after any number of sagas, whatever happened on the way.

Reads the services' SQLite files directly (WAL lets a reader in beside a
running writer), so the same checks serve in-process tests and chaos runs of
separate processes.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path


def _rows(data_dir: Path, service: str, sql: str) -> list[tuple]:
    connection = sqlite3.connect(f"file:{data_dir / f'{service}.db'}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def violations(data_dir: Path, order_ids: set[str] | None = None) -> list[str]:
    """Every broken guarantee, in words; empty when all hold."""
    return [*_stock_is_conserved(data_dir), *_money_is_conserved(data_dir),
            *_every_order_ends_once(data_dir, order_ids), *_nothing_is_left_pending(data_dir)]


def _stock_is_conserved(data_dir: Path) -> list[str]:
    problems = []
    for sku, available, reserved, shipped, received in _rows(
            data_dir, "inventory_service",
            "SELECT sku, available, reserved, shipped, received FROM stock"):
        if min(available, reserved, shipped) < 0:
            problems.append(f"{sku}: negative stock ({available}/{reserved}/{shipped})")
        if available + reserved + shipped != received:
            problems.append(f"{sku}: {available}+{reserved}+{shipped} != received {received}")
    return problems


def _money_is_conserved(data_dir: Path) -> list[str]:
    completed = _completed_totals(data_dir)
    charged: dict[str, Decimal] = defaultdict(Decimal)
    per_order: dict[str, Decimal] = defaultdict(Decimal)
    for order_id, customer, amount in _rows(data_dir, "payment_service",
                                            "SELECT order_id, customer_id, amount FROM payments "
                                            "WHERE status = 'CHARGED'"):
        charged[customer] += Decimal(amount)
        per_order[order_id] += Decimal(amount)
    for order_id, amount, customer in _rows(
            data_dir, "payment_service", "SELECT r.order_id, r.amount, p.customer_id FROM "
            "refunds r JOIN payments p USING (order_id)"):
        charged[customer] -= Decimal(amount)
        per_order[order_id] -= Decimal(amount)
    problems = []
    for customer, balance, deposited in _rows(data_dir, "payment_service",
                                              "SELECT customer_id, balance, deposited FROM accounts"):
        if Decimal(balance) + charged[customer] != Decimal(deposited):
            problems.append(f"{customer}: balance {balance} + net charges {charged[customer]} "
                            f"!= deposited {deposited}")
        if Decimal(balance) < 0:
            problems.append(f"{customer}: negative balance {balance}")
    for order_id, net in per_order.items():
        expected = completed.get(order_id, (None, Decimal(0)))[1]
        if net != expected:
            problems.append(f"{order_id}: charges - refunds = {net}, expected {expected}")
    return problems


def _completed_totals(data_dir: Path) -> dict[str, tuple[str, Decimal]]:
    return {order_id: (customer, Decimal(total)) for order_id, customer, total in _rows(
        data_dir, "order_service",
        "SELECT order_id, customer_id, total FROM orders WHERE status = 'COMPLETED'")}


def _every_order_ends_once(data_dir: Path, order_ids: set[str] | None) -> list[str]:
    statuses = dict(_rows(data_dir, "order_service", "SELECT order_id, status FROM orders"))
    problems = [f"{oid}: never recorded" for oid in (order_ids or set()) - set(statuses)]
    problems += [f"{oid}: still {status}" for oid, status in statuses.items()
                 if status not in ("COMPLETED", "CANCELLED")]
    shipped = Counter(oid for (oid,) in _rows(data_dir, "shipping_service",
                                              "SELECT order_id FROM shipments "
                                              "WHERE status = 'SHIPPED'"))
    outcomes = Counter(oid for (oid,) in _rows(
        data_dir, "notification_service",
        "SELECT order_id FROM notifications WHERE kind IN ('order_completed', 'order_cancelled')"))
    for oid, status in statuses.items():
        if (status == "COMPLETED") != (shipped[oid] == 1):
            problems.append(f"{oid}: {status} with {shipped[oid]} shipment(s)")
        if outcomes[oid] != 1:
            problems.append(f"{oid}: {outcomes[oid]} outcome notifications")
    conflicting = _rows(data_dir, "order_service",
                        "SELECT order_id FROM order_history GROUP BY order_id HAVING "
                        "sum(event_type = 'OrderCompleted') > 0 AND "
                        "sum(event_type = 'OrderCancelled') > 0")
    problems += [f"{oid}: both completed and cancelled" for (oid,) in conflicting]
    return problems


def _nothing_is_left_pending(data_dir: Path) -> list[str]:
    problems = []
    for service in ("order_service", "inventory_service", "payment_service",
                    "shipping_service", "notification_service"):
        (unsent,) = _rows(data_dir, service, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0]
        (waiting,) = _rows(data_dir, service, "SELECT count(*) FROM retry_queue")[0]
        if unsent:
            problems.append(f"{service}: {unsent} outbox rows unsent")
        if waiting:
            problems.append(f"{service}: {waiting} events still in the retry queue")
    return problems
