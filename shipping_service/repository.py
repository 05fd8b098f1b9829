"""Shipping's tables: one shipment decision and one cancellation decision per order."""

from __future__ import annotations

import time

import sqlite_utils

from shared.db import create_table
from shared.uow import UnitOfWork
from shipping_service.model import CancellationDecision, Shipment, ShipmentStatus


def create_tables(db: sqlite_utils.Database) -> None:
    create_table(db, "shipments", {"order_id": str, "status": str, "shipment_id": str,
                                   "tracking_number": str, "reason": str, "created_at": float},
                 pk="order_id")
    create_table(db, "cancellations", {"order_id": str, "decision": str, "reason": str,
                                       "created_at": float}, pk="order_id")


class ShippingRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def shipment(self, order_id: str) -> Shipment | None:
        row = self.db.execute("SELECT order_id, status, shipment_id, tracking_number, reason "
                              "FROM shipments WHERE order_id = ?", [order_id]).fetchone()
        if row is None:
            return None
        return Shipment(row[0], ShipmentStatus(row[1]), *row[2:])

    def add_shipment(self, shipment: Shipment) -> None:
        self.db.conn.execute(
            "INSERT INTO shipments (order_id, status, shipment_id, tracking_number, reason, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [shipment.order_id, str(shipment.status), shipment.shipment_id,
             shipment.tracking_number, shipment.reason, time.time()])

    def cancellation(self, order_id: str) -> CancellationDecision | None:
        row = self.db.execute("SELECT decision FROM cancellations WHERE order_id = ?",
                              [order_id]).fetchone()
        return CancellationDecision(row[0]) if row else None

    def add_cancellation(self, order_id: str, decision: CancellationDecision, reason: str) -> None:
        self.db.conn.execute(
            "INSERT INTO cancellations (order_id, decision, reason, created_at) VALUES (?, ?, ?, ?)",
            [order_id, str(decision), reason, time.time()])


class ShippingUnitOfWork(UnitOfWork):
    def __init__(self, db: sqlite_utils.Database, **options) -> None:
        super().__init__(db, "shipping_service", **options)
        self.shipping = ShippingRepository(db)
