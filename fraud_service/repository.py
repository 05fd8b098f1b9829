"""Fraud's table: one screening per order, with its verdict."""

from __future__ import annotations

from decimal import Decimal

from fraud_service.model import Screening, Verdict
from shared.store import Database, create_index, create_table
from shared.uow import UnitOfWork

_VIEW = "order_id, customer_id, total, verdict, reason, screened_at"


def create_tables(db: Database) -> None:
    # Money is stored as TEXT holding the exact decimal, never as REAL.
    create_table(db, "screenings", {"order_id": str, "customer_id": str, "total": str,
                                    "verdict": str, "reason": str, "screened_at": float},
                 pk="order_id")
    create_index(db, "screenings", ["verdict", "screened_at"])


class ScreeningRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, order_id: str) -> Screening | None:
        row = self.db.execute("SELECT customer_id, total, verdict, reason FROM screenings "
                              "WHERE order_id = ?", [order_id]).fetchone()
        if row is None:
            return None
        customer_id, total, verdict, reason = row
        return Screening(order_id, customer_id, Decimal(total), Verdict(verdict), reason)

    def add(self, screening: Screening, screened_at: float) -> None:
        """Record the verdict; a second screening of the same order changes nothing (another
        instance may have decided it first: the same rules, the same verdict)."""
        self.db.execute(
            "INSERT INTO screenings (order_id, customer_id, total, verdict, reason, screened_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [screening.order_id, screening.customer_id, str(screening.total),
             str(screening.verdict), screening.reason, screened_at])

    def view(self, order_id: str) -> dict | None:
        rows = self.db.rows(f"SELECT {_VIEW} FROM screenings WHERE order_id = ?", [order_id])
        return rows[0] if rows else None

    def latest(self, verdict: Verdict | None, limit: int) -> list[dict]:
        if verdict is None:
            return self.db.rows(f"SELECT {_VIEW} FROM screenings "
                                "ORDER BY screened_at DESC LIMIT ?", [limit])
        return self.db.rows(f"SELECT {_VIEW} FROM screenings WHERE verdict = ? "
                            "ORDER BY screened_at DESC LIMIT ?", [str(verdict), limit])


class FraudUnitOfWork(UnitOfWork):
    def __init__(self, db: Database, **options) -> None:
        super().__init__(db, "fraud_service", **options)
        self.screenings = ScreeningRepository(db)
