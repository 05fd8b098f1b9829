"""The monitor's state: the faust table of sagas, the operator's decisions about dead letters,
and what is derived from them.

Only the agent writes the table, a batch of events at a time (:meth:`MonitorState.fold_batch`).
The store (what the pages read) has each change at once; the changelog gets each changed saga
once per :meth:`MonitorState.write` (every ``WRITE_SECONDS``, ``saga_monitor.app``), however
many events changed it meanwhile, to the partition the saga's events came from (every topic is
co-partitioned with the table; named explicitly, since faust's current event is not the one
that changed the saga).

**The guarantee.** An event is acknowledged, and so its offset may be committed, only after
the write that handed the changelog record of its change to the producer; faust flushes the
producer before every commit. So the changelog holds the effect of every committed offset, and
a crash re-reads exactly the events whose offsets were not committed: they fold again onto the
record the changelog restores (folding is idempotent and order-free, ``progress``), and the
table comes back the same. A rebalance or a stop waits until every event in hand is
acknowledged (faust's ``wait_empty``), that is for the next write, before it commits and
before faust re-reads the changelog.

The retention sweep removes finished sagas from the store; each one's tombstone takes the place
of any record of it not yet written, so a saga's partition never gets a record after its
tombstone (a record folded after the sweep replaces the tombstone, as it replaced the store's
absence). No event waits for a tombstone: a rebalance within a second of the sweep replays the
saga's last record into the store, where it stays until the next sweep.

Only the decisions reader (``saga_monitor.decisions``) writes the decisions. Everything else
reads.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from saga_monitor import progress
from saga_monitor.decisions import Decisions
from saga_monitor.metrics import MonitorMetrics
from saga_monitor.progress import EVENTS, FINISHED, PARTITION, STARTED, STATUS, UPDATED
from saga_monitor.reading import Item, Sighted, Unreadable
from saga_monitor.stats import Changes, Snapshot, take
from saga_monitor.topics import TopicWatch
from saga_monitor.waiting import Deadlines, check_step_names
from shared.events import Event
from shared.settings import Settings

log = logging.getLogger(__name__)
#: Recompute the overview once it is this old, but never spend more than a fifth of the time
#: on it (a pass over 100,000 sagas is not free); its counts are kept current meanwhile.
SNAPSHOT_AGE, SNAPSHOT_SHARE = 1.0, 0.2


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
        self._snapshot_cost = 0.0
        self._since_snapshot = Changes()
        #: Sagas changed since the last write: the partition and the record (None: expired),
        #: and the events that changed them (``write``).
        self._unwritten: dict[str, tuple[int, tuple | None]] = {}
        self._held: list = []

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

    def fold(self, item: Item, partition: int) -> None:
        """One thing read from Kafka: a batch of one."""
        self.fold_batch([(item, partition)])

    def fold_batch(self, items: Iterable[tuple[Item, int]], held: Iterable = ()) -> None:
        """Things read from Kafka (``reading.read``), each with the partition it came from, in
        the order read; ``held``: the faust events they were read from, acknowledged by the
        next :meth:`write` and not before. Folding is idempotent (``progress``), so events read
        again after a crash change nothing twice."""
        for event in held:
            event.message.incref()  # so that the stream's own ack is not the last one
            self._held.append(event)
        counts: Counter = Counter()
        changed = False
        for item, partition in items:
            changed = self._fold(item, partition, counts) or changed
        for (metric, label), count in counts.items():
            metric.labels(label).inc(count)
        if changed:
            self.version += 1

    async def write(self) -> int:
        """Send each saga changed since the last write to the changelog, once (a tombstone for
        one expired), then acknowledge the events held: every record is in the producer's hands
        before the offsets of the events that caused it can be committed, and faust flushes the
        producer before it commits. Returns how many records it sent."""
        unwritten, self._unwritten = self._unwritten, {}
        held, self._held = self._held, []
        send = self.table.changelog_topic.send
        try:
            for order_id, (partition, record) in unwritten.items():
                await send(key=order_id, value=record, partition=partition, force=True,
                           value_serializer="raw" if record is None else None)
        except BaseException:
            # Nothing acknowledged: the next write sends all of it again (a record sent twice
            # is the same record), except where a later fold or sweep has a newer one.
            self._unwritten = {**unwritten, **self._unwritten}
            self._held = [*held, *self._held]
            raise
        for event in held:
            event.ack()
        return len(unwritten)

    def _fold(self, item: Item, partition: int, counts: Counter) -> bool:
        """Whether the item changed its saga."""
        if isinstance(item, Unreadable):
            counts[self.metrics.unreadable, item.topic] += 1
            log.debug("skipped a message the services dead-letter",
                      extra={"topic": item.topic, "reason": item.reason})
            return False
        if isinstance(item, Event):  # folded directly, without its headers
            item = Sighted(item, None)
        if isinstance(item, Sighted):
            counts[self.metrics.events, item.event.event_type] += 1
            old = self.get(order_id := item.event.order_id)
            new = progress.fold_event(old, item.event, partition, item.instance)
        else:
            order_id, letter = item
            counts[self.metrics.dead_letters, letter.kind] += 1
            old = self.get(order_id)
            new = progress.fold_letter(old, letter, partition)
        if new is old or new is None:
            return False
        self.table.data[order_id] = new  # the store only: the changelog at the next write
        self._since_snapshot.saga(old, new)
        self._unwritten[order_id] = (partition, new)
        if new[FINISHED] is not None and (old is None or old[FINISHED] is None):
            self.metrics.duration.labels(new[STATUS]).observe(new[FINISHED] - new[STARTED])
        return True

    def stats(self) -> dict:
        """The overview (``Snapshot.stats``), its counts as of the last batch folded."""
        snapshot = self.snapshot()  # first: a fresh pass starts a fresh count of changes
        return self._since_snapshot.on(snapshot.stats())

    def snapshot(self) -> Snapshot:
        now = self.clock()
        cached = self._snapshot
        if cached is None or now - cached.taken_at >= max(
                SNAPSHOT_AGE, self._snapshot_cost / SNAPSHOT_SHARE):
            started = time.perf_counter()
            self._snapshot = cached = take(self.items(), now, self.deadlines, self.window)
            self._since_snapshot = Changes()
            self.metrics.set_snapshot(cached.by_status, len(cached.stuck))
            self._snapshot_cost = time.perf_counter() - started
        return cached

    def expire(self) -> int:
        """Remove finished sagas (and orders known only by dead letters) past the retention."""
        now, expired = self.clock(), 0
        for order_id, record in self.items():
            done_at = record[FINISHED] if record[EVENTS] else record[UPDATED]
            if done_at is not None and now - done_at > self.retention:
                del self.table.data[order_id]  # the store only: the tombstone at the next write
                self._since_snapshot.saga(record, None)
                self._unwritten[order_id] = (record[PARTITION], None)
                expired += 1
        if expired:
            self.version += 1
            self.metrics.expired.inc(expired)
        return expired
