"""The orchestrator's tables: where each saga stands, and every message it sent or heard."""

from __future__ import annotations

from orchestrator_service.model import Phase, Saga
from shared.events import OrderCreated
from shared.store import Database, create_index, create_table
from shared.uow import UnitOfWork

_SAGA = "order_id, version, phase, at, reason, cancellation, order_json"


def create_tables(db: Database) -> None:
    create_table(db, "sagas", {"order_id": str, "version": int, "phase": str, "at": int,
                               "reason": str, "cancellation": str, "order_json": str,
                               "started_at": float, "updated_at": float}, pk="order_id")
    create_index(db, "sagas", ["phase", "updated_at"])
    # The saga's log, in one place: each reply heard and each command or answer sent.
    create_table(db, "saga_log", {"seq": int, "order_id": str, "direction": str,
                                  "message_type": str, "event_id": str, "at": float}, pk="seq")
    create_index(db, "saga_log", ["order_id", "seq"])


class SagaRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, order_id: str) -> Saga | None:
        """The saga, locked until the transaction ends (another instance may hear from it)."""
        row = self.db.execute(f"SELECT {_SAGA} FROM sagas WHERE order_id = ?{self.db.for_update}",
                              [order_id]).fetchone()
        if row is None:
            return None
        order_id, version, phase, at, reason, cancellation, order_json = row
        order = OrderCreated.model_validate_json(order_json) if order_json else None
        return Saga(order_id, version, order, Phase(phase), at, reason, cancellation)

    def save(self, saga: Saga, now: float) -> None:
        order_json = saga.order.model_dump_json() if saga.order is not None else None
        self.db.execute(
            "INSERT INTO sagas (order_id, version, phase, at, reason, cancellation, order_json, "
            "started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) "
            "DO UPDATE SET phase = excluded.phase, at = excluded.at, reason = excluded.reason, "
            "cancellation = excluded.cancellation, order_json = excluded.order_json, "
            "updated_at = excluded.updated_at",
            [saga.order_id, saga.version, str(saga.phase), saga.at, saga.reason,
             saga.cancellation, order_json, now, now])

    def log(self, order_id: str, direction: str, message_type: str, event_id: str,
            now: float) -> None:
        self.db.execute("INSERT INTO saga_log (order_id, direction, message_type, event_id, at) "
                        "VALUES (?, ?, ?, ?, ?)", [order_id, direction, message_type, event_id,
                                                   now])

    def view(self, order_id: str) -> dict | None:
        rows = self.db.rows("SELECT order_id, version, phase, at, reason, cancellation, "
                            "started_at, updated_at FROM sagas WHERE order_id = ?", [order_id])
        if not rows:
            return None
        log = self.db.rows("SELECT direction, message_type, event_id, at FROM saga_log "
                           "WHERE order_id = ? ORDER BY seq", [order_id])
        return {**rows[0], "log": log}

    def latest(self, phase: Phase | None, limit: int) -> list[dict]:
        where, args = ("WHERE phase = ? ", [str(phase)]) if phase else ("", [])
        return self.db.rows("SELECT order_id, version, phase, at, reason, updated_at FROM sagas "
                            f"{where}ORDER BY updated_at DESC LIMIT ?", [*args, limit])

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT phase, COUNT(*) FROM sagas GROUP BY phase")
                    .fetchall())


class OrchestratorUnitOfWork(UnitOfWork):
    def __init__(self, db: Database, **options) -> None:
        super().__init__(db, "orchestrator_service", **options)
        self.sagas = SagaRepository(db)
