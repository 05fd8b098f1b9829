"""Shipping's tables: one shipment decision and one cancellation decision per order."""

from __future__ import annotations

import time

from shared.store import Database, create_table
from shared.uow import UnitOfWork
from shipping_service.model import CancellationDecision, Shipment, ShipmentStatus


def create_tables(db: Database) -> None:
    create_table(db, "shipments", {"order_id": str, "status": str, "shipment_id": str,
                                   "tracking_number": str, "reason": str, "created_at": float},
                 pk="order_id")
    create_table(db, "cancellations", {"order_id": str, "decision": str, "reason": str,
                                       "created_at": float}, pk="order_id")
    create_table(db, "decided_orders", {"order_id": str}, pk="order_id")


class ShippingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def take_turn(self, order_id: str) -> None:
        """Wait for any other transaction deciding about this order: "ship" and "accept the
        cancellation" must never both happen. SQLite's one writer decides one event at a
        time anyway; on PostgreSQL a second instance's insert of the same row waits until the
        first commits, and then sees its decision (an instance thawed after its partitions
        moved could otherwise decide beside the new owner)."""
        self.db.execute("INSERT INTO decided_orders (order_id) VALUES (?) ON CONFLICT DO NOTHING",
                        [order_id])

    def shipment(self, order_id: str) -> Shipment | None:
        row = self.db.execute("SELECT order_id, status, shipment_id, tracking_number, reason "
                              "FROM shipments WHERE order_id = ?", [order_id]).fetchone()
        if row is None:
            return None
        return Shipment(row[0], ShipmentStatus(row[1]), *row[2:])

    def add_shipment(self, shipment: Shipment) -> None:
        self.db.execute(
            "INSERT INTO shipments (order_id, status, shipment_id, tracking_number, reason, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [shipment.order_id, str(shipment.status), shipment.shipment_id,
             shipment.tracking_number, shipment.reason, time.time()])

    def cancellation(self, order_id: str) -> CancellationDecision | None:
        row = self.db.execute("SELECT decision FROM cancellations WHERE order_id = ?",
                              [order_id]).fetchone()
        return CancellationDecision(row[0]) if row else None

    def add_cancellation(self, order_id: str, decision: CancellationDecision, reason: str) -> None:
        self.db.execute(
            "INSERT INTO cancellations (order_id, decision, reason, created_at) VALUES (?, ?, ?, ?)",
            [order_id, str(decision), reason, time.time()])


class ShippingUnitOfWork(UnitOfWork):
    def __init__(self, db: Database, **options) -> None:
        super().__init__(db, "shipping_service", **options)
        self.shipping = ShippingRepository(db)
