"""The overview in one pass over the table: counts by status, stuck sagas first, throughput and
duration percentiles over the last minutes, and search with paging.

However many pages ask, a snapshot is recomputed only once it is a second old, and never for
more than a fifth of the time (``MonitorState.snapshot`` caches it), so a pass over 100,000
sagas is paid once, not per request. The counts by status do not wait for the next pass:
:class:`Changes` adds every fold and sweep since the last one (so the overview's counts trail
the topics by a batch, not by a pass).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from saga_monitor.progress import CUSTOMER, FINISHED, STARTED, STATUS, STATUSES, UPDATED
from saga_monitor.waiting import Deadlines, stuck

BUCKETS = 30
PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))


@dataclass
class Snapshot:
    taken_at: float
    window: float
    #: (order_id, status, customer_id, seconds overdue or None, updated_at): stuck first (most
    #: overdue first), then the most recently active.
    rows: list[tuple] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)
    finished: int = 0
    durations: dict[str, list[float]] = field(default_factory=dict)  # by outcome, in window
    series: list[dict] = field(default_factory=list)

    @property
    def stuck(self) -> list[tuple]:
        return [row for row in self.rows if row[3] is not None]

    def search(self, text: str = "", status: str = "") -> list[tuple]:
        """Rows whose order id or customer contains ``text``; ``status`` may be 'stuck' too."""
        text = text.strip().lower()
        return [row for row in self.rows if _status_matches(row, status) and (
            not text or text in row[0].lower() or text in (row[2] or "").lower())]

    def stats(self) -> dict:
        everything = sorted(d for durations in self.durations.values() for d in durations)
        counts = {outcome: len(durations) for outcome, durations in self.durations.items()}
        return {
            "sagas": len(self.rows), "by_status": self.by_status, "finished": self.finished,
            "stuck": len(self.stuck), "window_seconds": self.window,
            "completed_per_second": round(counts.get("completed", 0) / self.window, 3),
            "cancelled_per_second": round(counts.get("cancelled", 0) / self.window, 3),
            "duration_seconds": percentiles(everything),
            "duration_seconds_by_outcome": {
                outcome: percentiles(sorted(durations))
                for outcome, durations in self.durations.items()},
            "throughput": self.series,
        }


class Changes:
    """How the counts by status moved since the last pass over the table: every saga that
    appeared, changed status, finished or left. (A table restored from its changelog is counted
    by the next pass, at most a second later.)"""

    def __init__(self) -> None:
        self.by_status: Counter = Counter()
        self.finished = 0

    def saga(self, old: tuple | None, new: tuple | None) -> None:
        for record, sign in ((old, -1), (new, 1)):
            if record is not None:
                self.by_status[record[STATUS]] += sign
                self.finished += sign * (record[FINISHED] is not None)

    def on(self, stats: dict) -> dict:
        """A snapshot's ``stats()`` with these changes added to its counts."""
        by_status = {status: count + self.by_status[status]
                     for status, count in stats["by_status"].items()}
        return {**stats, "by_status": by_status, "sagas": sum(by_status.values()),
                "finished": stats["finished"] + self.finished}


def take(items: Iterable[tuple[str, tuple]], now: float, deadlines: Deadlines,
         window: float) -> Snapshot:
    snapshot = Snapshot(taken_at=now, window=window,
                        by_status=dict.fromkeys(STATUSES, 0),
                        durations={"completed": [], "cancelled": []})
    bucket = window / BUCKETS
    counts = [[0, 0] for _ in range(BUCKETS)]
    for order_id, record in items:
        status = record[STATUS]
        snapshot.by_status[status] = snapshot.by_status.get(status, 0) + 1
        overdue = None
        if record[FINISHED] is None:
            late = stuck(record, now, deadlines)
            overdue = max(seconds for _, seconds in late) if late else None
        else:
            snapshot.finished += 1
            age = now - record[FINISHED]
            if 0 <= age < window:
                snapshot.durations[status].append(record[FINISHED] - record[STARTED])
                counts[min(BUCKETS - 1, int(age // bucket))][status == "cancelled"] += 1
        snapshot.rows.append((order_id, status, record[CUSTOMER], overdue, record[UPDATED]))
    snapshot.rows.sort(key=lambda row: (row[3] is None, -(row[3] or 0), -row[4]))
    snapshot.series = [{"seconds_ago": round((BUCKETS - 1 - i) * bucket, 3),
                        "completed": counts[BUCKETS - 1 - i][0],
                        "cancelled": counts[BUCKETS - 1 - i][1],
                        "bucket_seconds": round(bucket, 3)} for i in range(BUCKETS)]
    return snapshot


def percentiles(ordered: list[float]) -> dict:
    """Nearest-rank percentiles of sorted values, in seconds."""
    if not ordered:
        return {"count": 0, **{name: None for name, _ in PERCENTILES}, "max": None}
    return {"count": len(ordered),
            **{name: round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 4)
               for name, q in PERCENTILES},
            "max": round(ordered[-1], 4)}


def _status_matches(row: tuple, status: str) -> bool:
    if not status:
        return True
    return row[3] is not None if status == "stuck" else row[1] == status
