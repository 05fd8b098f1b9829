"""Inventory's tables: stock levels per SKU and one reservation per order."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from inventory_service.model import Line, Reservation, ReservationStatus, StockLevel
from shared.store import Database, create_table
from shared.uow import UnitOfWork


def create_tables(db: Database) -> None:
    create_table(db, "stock", {"sku": str, "available": int, "reserved": int, "shipped": int,
                               "received": int}, pk="sku")
    create_table(db, "reservations", {"order_id": str, "status": str, "updated_at": float},
                 pk="order_id")
    create_table(db, "reservation_lines", {"order_id": str, "sku": str, "quantity": int},
                 pk=("order_id", "sku"))


class StockRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def levels(self, skus: Iterable[str]) -> dict[str, StockLevel]:
        """The SKUs' levels, locked until the transaction ends where other instances could
        change them at the same time (in SKU order: two reservations of the same SKUs take
        turns instead of deadlocking)."""
        skus = sorted(set(skus))
        marks = ",".join("?" * len(skus))
        rows = self.db.execute(f"SELECT sku, available, reserved, shipped, received FROM stock "
                               f"WHERE sku IN ({marks}) ORDER BY sku{self.db.for_update}",
                               skus).fetchall()
        return {row[0]: StockLevel(*row) for row in rows}

    def level_to_add_to(self, sku: str) -> StockLevel:
        """A SKU's level, its row made first if it is new: then it can be locked, and two
        instances adding to a new SKU at once take turns instead of one overwriting the other."""
        self.db.execute("INSERT INTO stock (sku, available, reserved, shipped, received) "
                        "VALUES (?, 0, 0, 0, 0) ON CONFLICT DO NOTHING", [sku])
        return self.levels([sku])[sku]

    def save(self, levels: Mapping[str, StockLevel]) -> None:
        self.db.executemany(
            "INSERT INTO stock (sku, available, reserved, shipped, received) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (sku) DO UPDATE SET available = excluded.available, "
            "reserved = excluded.reserved, shipped = excluded.shipped, received = excluded.received",
            [(level.sku, level.available, level.reserved, level.shipped, level.received)
             for level in levels.values()])

    def all(self) -> list[StockLevel]:
        return [StockLevel(**row) for row in self.db.rows(
            "SELECT sku, available, reserved, shipped, received FROM stock ORDER BY sku")]


class ReservationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, order_id: str) -> Reservation | None:
        row = self.db.execute("SELECT status FROM reservations WHERE order_id = ?",
                              [order_id]).fetchone()
        if row is None:
            return None
        lines = self.db.execute("SELECT sku, quantity FROM reservation_lines WHERE order_id = ? "
                                "ORDER BY sku", [order_id]).fetchall()
        return Reservation(order_id, tuple(Line(*line) for line in lines),
                           ReservationStatus(row[0]))

    def save(self, reservation: Reservation) -> None:
        self.db.execute(
            "INSERT INTO reservations (order_id, status, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, "
            "updated_at = excluded.updated_at",
            [reservation.order_id, str(reservation.status), time.time()])
        # The lines of a reservation never change once it is made.
        self.db.executemany(
            "INSERT INTO reservation_lines (order_id, sku, quantity) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(reservation.order_id, line.sku, line.quantity) for line in reservation.lines])


class InventoryUnitOfWork(UnitOfWork):
    def __init__(self, db: Database, **options) -> None:
        super().__init__(db, "inventory_service", **options)
        self.stock = StockRepository(db)
        self.reservations = ReservationRepository(db)
