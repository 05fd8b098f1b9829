"""Durable timers: something a service must do at a time, kept in its own store.

Guarantees: a timer survives restarts (it is a row, written in the transaction that set it);
it fires once — its reaction and the mark that it fired commit together, and where several
instances share the store each due timer goes to one of them (``SKIP LOCKED``); a timer
fires no earlier than its time, and at most one tick later while the service runs. Looking
for due timers is one index scan of the timers not fired yet, oldest first, bounded per tick:
its cost does not grow with the timers set for later.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.store import Database, create_index, create_table


@dataclass(frozen=True)
class Timer:
    kind: str
    key: str
    due_at: float


class Timers:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def create(db: Database) -> None:
        create_table(db, "timers", {"kind": str, "key": str, "due_at": float,
                                    "fired_at": float}, pk=("kind", "key"))
        create_index(db, "timers", ["due_at"], where="fired_at IS NULL", name="timers_due")

    def set(self, kind: str, key: str, due_at: float) -> None:
        """Set a timer (once: setting it again keeps the first time)."""
        self.db.execute("INSERT INTO timers (kind, key, due_at) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING", [kind, key, due_at])

    def due(self, now: float, limit: int = 100) -> list[Timer]:
        """Timers whose time has come and that have not fired, oldest first; locked for this
        transaction where instances share them (one that another instance holds is skipped)."""
        rows = self.db.execute(
            f"SELECT kind, key, due_at FROM timers WHERE fired_at IS NULL AND due_at <= ? "
            f"ORDER BY due_at LIMIT ?{self.db.skip_locked}", [now, limit]).fetchall()
        return [Timer(*row) for row in rows]

    def fired(self, timer: Timer, now: float) -> None:
        self.db.execute("UPDATE timers SET fired_at = ? WHERE kind = ? AND key = ?",
                        [now, timer.kind, timer.key])

    def postpone(self, timer: Timer, until: float) -> None:
        """Its reaction failed: try it again later rather than every tick."""
        self.db.execute("UPDATE timers SET due_at = ? WHERE kind = ? AND key = ?",
                        [until, timer.kind, timer.key])

    def due_at(self, kind: str, key: str) -> float | None:
        return self.db.scalar("SELECT due_at FROM timers WHERE kind = ? AND key = ?", [kind, key])

    def seconds_until_next(self, now: float) -> float | None:
        due = self.db.scalar("SELECT min(due_at) FROM timers WHERE fired_at IS NULL")
        return None if due is None else max(0.0, due - now)
