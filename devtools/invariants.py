"""What must hold after any number of sagas, whatever happened on the way.

Reads the services' stores directly — the SQLite files of one directory (WAL lets a reader in
beside a running writer), or each service's store (PostgreSQL) — so the same checks serve
in-process tests and chaos runs of separate processes, on either store.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from participants import ORCHESTRATOR, SERVICES
from shared.store import SqliteStore, Store

#: The SQLite files of a directory (``<service>.db``), or each service's store.
Stores = Path | Mapping[str, Store]


def rows(stores: Stores, service: str, sql: str) -> list[tuple]:
    """The rows ``sql`` selects from ``service``'s store."""
    store = SqliteStore(stores / f"{service}.db") if isinstance(stores, Path) else stores[service]
    db = store.open_reader()
    try:
        return [tuple(row) for row in db.execute(sql).fetchall()]
    finally:
        db.close()


def _services(stores: Stores) -> list[str]:
    """Every service of the choreography that ran here (an older mesh may lack a newer one,
    fraud_service say): each has its store."""
    if not isinstance(stores, Path):
        return list(stores)
    return [spec.name for spec in (*SERVICES, ORCHESTRATOR)
            if (stores / f"{spec.name}.db").exists()]


def violations(stores: Stores, order_ids: set[str] | None = None) -> list[str]:
    """Every broken guarantee, in words; empty when all hold."""
    return [*_stock_is_conserved(stores), *_money_is_conserved(stores),
            *_every_order_ends_once(stores, order_ids), *_orchestrator_agrees(stores),
            *_nothing_is_left_pending(stores)]


def settled_violations(stores: Stores, order_ids: set[str] | None = None,
                       timeout: float = 60.0) -> list[str]:
    """The violations left once the sagas had ``timeout`` seconds to finish (none: at once)."""
    deadline = time.monotonic() + timeout
    while (found := violations(stores, order_ids)) and time.monotonic() < deadline:
        time.sleep(1)
    return found


def _stock_is_conserved(stores: Stores) -> list[str]:
    problems = []
    for sku, available, reserved, shipped, received in rows(
            stores, "inventory_service",
            "SELECT sku, available, reserved, shipped, received FROM stock"):
        if min(available, reserved, shipped) < 0:
            problems.append(f"{sku}: negative stock ({available}/{reserved}/{shipped})")
        if available + reserved + shipped != received:
            problems.append(f"{sku}: {available}+{reserved}+{shipped} != received {received}")
    return problems


def _money_is_conserved(stores: Stores) -> list[str]:
    completed = _completed_totals(stores)
    charged: dict[str, Decimal] = defaultdict(Decimal)
    per_order: dict[str, Decimal] = defaultdict(Decimal)
    for order_id, customer, amount in rows(stores, "payment_service",
                                            "SELECT order_id, customer_id, amount FROM payments "
                                            "WHERE status = 'CHARGED'"):
        charged[customer] += Decimal(amount)
        per_order[order_id] += Decimal(amount)
    for order_id, amount, customer in rows(
            stores, "payment_service", "SELECT r.order_id, r.amount, p.customer_id FROM "
            "refunds r JOIN payments p USING (order_id)"):
        charged[customer] -= Decimal(amount)
        per_order[order_id] -= Decimal(amount)
    problems = []
    for customer, balance, deposited in rows(stores, "payment_service",
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


def _completed_totals(stores: Stores) -> dict[str, tuple[str, Decimal]]:
    return {order_id: (customer, Decimal(total)) for order_id, customer, total in rows(
        stores, "order_service",
        "SELECT order_id, customer_id, total FROM orders WHERE status = 'COMPLETED'")}


def _every_order_ends_once(stores: Stores, order_ids: set[str] | None) -> list[str]:
    statuses = dict(rows(stores, "order_service", "SELECT order_id, status FROM orders"))
    problems = [f"{oid}: never recorded" for oid in (order_ids or set()) - set(statuses)]
    problems += [f"{oid}: still {status}" for oid, status in statuses.items()
                 if status not in ("COMPLETED", "CANCELLED")]
    shipped = Counter(oid for (oid,) in rows(stores, "shipping_service",
                                              "SELECT order_id FROM shipments "
                                              "WHERE status = 'SHIPPED'"))
    outcomes = Counter(oid for (oid,) in rows(
        stores, "notification_service",
        "SELECT order_id FROM notifications WHERE kind IN ('order_completed', 'order_cancelled')"))
    for oid, status in statuses.items():
        if (status == "COMPLETED") != (shipped[oid] == 1):
            problems.append(f"{oid}: {status} with {shipped[oid]} shipment(s)")
        if outcomes[oid] != 1:
            problems.append(f"{oid}: {outcomes[oid]} outcome notifications")
    conflicting = rows(stores, "order_service",
                        "SELECT order_id FROM order_history GROUP BY order_id HAVING "
                        "sum(CASE WHEN event_type = 'OrderCompleted' THEN 1 ELSE 0 END) > 0 AND "
                        "sum(CASE WHEN event_type = 'OrderCancelled' THEN 1 ELSE 0 END) > 0")
    problems += [f"{oid}: both completed and cancelled" for (oid,) in conflicting]
    return problems


def _orchestrator_agrees(stores: Stores) -> list[str]:
    """Orchestrated (the orchestrator ran here): each saga it ran ended as its order did."""
    if ORCHESTRATOR.name not in _services(stores):
        return []
    statuses = dict(rows(stores, "order_service", "SELECT order_id, status FROM orders"))
    return [f"{oid}: the orchestrator says {phase}, the order {statuses.get(oid)}"
            for oid, phase in rows(stores, ORCHESTRATOR.name,
                                   "SELECT order_id, phase FROM sagas")
            if phase != statuses.get(oid)]


def _nothing_is_left_pending(stores: Stores) -> list[str]:
    problems = []
    for service in _services(stores):
        (unsent,) = rows(stores, service, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0]
        (waiting,) = rows(stores, service, "SELECT count(*) FROM retry_queue")[0]
        if unsent:
            problems.append(f"{service}: {unsent} outbox rows unsent")
        if waiting:
            problems.append(f"{service}: {waiting} events still in the retry queue")
    return problems
