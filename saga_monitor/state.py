"""The monitor's state: the faust table of sagas, the operator's decisions about dead letters,
and what is derived from them.

Only the agent writes the table (inside its stream, so each change goes to the changelog
partition of the event that caused it); the retention sweep removes finished sagas by writing a
tombstone to the partition the saga's events came from. Only the decisions reader
(``saga_monitor.decisions``) writes the decisions. Everything else reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from saga_monitor import progress
from saga_monitor.decisions import Decisions
from saga_monitor.metrics import MonitorMetrics
from saga_monitor.progress import EVENTS, FINISHED, PARTITION, STARTED, STATUS, UPDATED
from saga_monitor.reading import Sighted, Unreadable
from saga_monitor.stats import Snapshot, take
from saga_monitor.topics import TopicWatch
from saga_monitor.waiting import Deadlines, check_step_names
from shared.events import Event
from shared.settings import Settings

log = logging.getLogger(__name__)
#: Recompute the overview at most this often while sagas change, and at least once a second;
#: but never spend more than a fifth of the time on it (a pass over 100,000 sagas is not free).
SNAPSHOT_MIN_AGE, SNAPSHOT_MAX_AGE, SNAPSHOT_SHARE = 0.25, 1.0, 0.2


class MonitorState:
    def __init__(self, settings: Settings, table, clock: Callable[[], float] = time.time) -> None:
        check_step_names(settings.monitor_step_deadlines)
        self.table, self.clock = table, clock
        self.deadlines = Deadlines(settings.stall_after_seconds, settings.monitor_step_deadlines)
        self.retention = settings.monitor_retention_seconds
        self.window = min(settings.monitor_window_seconds, self.retention)
        self.metrics = MonitorMetrics()
        self.watch = TopicWatch(settings)
        self.decisions = Decisions()
        #: Grows with every change the pages show (the live stream compares it).
        self.version = 0
        self._snapshot: Snapshot | None = None
        self._snapshot_version = -1
        self._snapshot_cost = 0.0

    def get(self, order_id: str) -> tuple | None:
        # faust's Table.get() raises for a missing key instead of returning the default.
        return self.table[order_id] if order_id in self.table else None  # noqa: SIM401

    def items(self) -> Iterator[tuple[str, tuple]]:
        return iter(list(self.table.items()))

    def changed(self) -> None:
        """Something the pages show changed outside the table (an operator's decision)."""
        self.version += 1

    def problems(self) -> list[str]:
        """Why the monitor is not ready; empty when it is."""
        return [*self.watch.problems(), *self.decisions.problems()]

    def fold(self, item, partition: int) -> None:
        """One thing read from Kafka (see ``reading.read``), inside the agent's stream."""
        if isinstance(item, Unreadable):
            self.metrics.unreadable.labels(item.topic).inc()
            log.debug("skipped a message the services dead-letter",
                      extra={"topic": item.topic, "reason": item.reason})
            return
        if isinstance(item, Event):  # folded directly, without its headers
            item = Sighted(item, None)
        if isinstance(item, Sighted):
            self.metrics.events.labels(item.event.event_type).inc()
            old = self.get(order_id := item.event.order_id)
            new = progress.fold_event(old, item.event, partition, item.instance)
        else:
            order_id, letter = item
            self.metrics.dead_letters.labels(letter.kind).inc()
            old = self.get(order_id)
            new = progress.fold_letter(old, letter, partition)
        if new is not old and new is not None:
            self.table[order_id] = new
            self.version += 1
            if new[FINISHED] is not None and (old is None or old[FINISHED] is None):
                self.metrics.duration.labels(new[STATUS]).observe(new[FINISHED] - new[STARTED])

    def snapshot(self) -> Snapshot:
        now = self.clock()
        cached = self._snapshot
        age = now - cached.taken_at if cached else None
        pause = self._snapshot_cost / SNAPSHOT_SHARE
        if cached is None or age >= max(SNAPSHOT_MAX_AGE, pause) or (
                self.version != self._snapshot_version and age >= max(SNAPSHOT_MIN_AGE, pause)):
            started = time.perf_counter()
            self._snapshot_version = self.version
            self._snapshot = cached = take(self.items(), now, self.deadlines, self.window)
            self.metrics.set_snapshot(cached.by_status, len(cached.stuck))
            self._snapshot_cost = time.perf_counter() - started
        return cached

    def expire(self) -> int:
        """Remove finished sagas (and orders known only by dead letters) past the retention."""
        now, expired = self.clock(), 0
        for order_id, record in self.items():
            done_at = record[FINISHED] if record[EVENTS] else record[UPDATED]
            if done_at is not None and now - done_at > self.retention:
                self.table.send_changelog(record[PARTITION], order_id, None,
                                          value_serializer="raw")
                del self.table.data[order_id]  # the store only: the tombstone is sent above
                expired += 1
        if expired:
            self.version += 1
            self.metrics.expired.inc(expired)
        return expired
