"""What keeps the monitor up with a burst (docs/performance.md, "The saga monitor"): it folds a
batch of events at a time and writes each saga once per batch, to its own changelog
partition; the overview does not work out what young sagas wait for, and the table's changelog
records go out in batches — without a broker."""

from __future__ import annotations

import random
from datetime import timedelta
from types import SimpleNamespace

import pytest
from faust.events import Event as FaustEvent
from faust.types.tuples import ConsumerMessage

from devtools.synthetic_sagas import HAPPY, NO_CARRIER, saga
from saga_monitor import progress, reading, waiting
from saga_monitor.app import create_app
from saga_monitor.state import SNAPSHOT_AGE, MonitorState
from saga_monitor.stats import take
from saga_monitor.waiting import Deadlines, stuck
from shared.events import encode
from shared.settings import Settings
from tests.unit.test_saga_monitor import T0, T0_SECONDS, FakeTable, fold, letter, written

DEADLINES = Deadlines(30.0, {})


def interleaved(sagas: dict[str, int]) -> list[tuple]:
    """The events of sagas on their partitions (order id -> partition), each saga in causal
    order but interleaved with the others, as a batch read from several topics holds them."""
    queues = [[(event, partition) for event in saga(order_id, NO_CARRIER if n % 2 else HAPPY,
                                                    start=T0)]
              for n, (order_id, partition) in enumerate(sagas.items())]
    rng, batch = random.Random(7), []
    while any(queues):
        batch.append(rng.choice([q for q in queues if q]).pop(0))
    return batch


def test_a_batch_folding_several_events_of_one_saga_writes_it_once():
    table = FakeTable()
    state = MonitorState(Settings(), table, clock=lambda: T0_SECONDS)
    batch = interleaved({"ord-1": 0, "ord-2": 0, "ord-3": 1})
    state.fold_batch(batch[:8])
    state.fold_batch(batch[8:])

    assert table.changelog == [] and set(table) == {"ord-1", "ord-2", "ord-3"}  # pages see it
    assert written(state) == 3 and written(state) == 0
    assert sorted(key for _, key, _ in table.changelog) == ["ord-1", "ord-2", "ord-3"]
    for _, order_id, record in table.changelog:
        one_by_one = fold(event for event, _ in batch if event.order_id == order_id)
        assert record[progress.EVENTS] == one_by_one[progress.EVENTS]
        assert table[order_id] is record and record[progress.FINISHED] is not None


def test_each_saga_of_a_batch_goes_to_the_changelog_partition_its_events_came_from():
    table = FakeTable()
    state = MonitorState(Settings(), table, clock=lambda: T0_SECONDS)

    state.fold_batch([*interleaved({"ord-a": 0, "ord-b": 3, "ord-c": 5}),
                      (("ord-d", letter()), 2)])
    written(state)

    assert sorted((key, partition) for partition, key, _ in table.changelog) == [
        ("ord-a", 0), ("ord-b", 3), ("ord-c", 5), ("ord-d", 2)]


class AckLog:
    """The consumer's side of faust's acks: which offsets may be committed, and how many
    changelog records had been sent when each became so."""

    def __init__(self, table: FakeTable) -> None:
        self.table, self.acked = table, []

    def ack(self, message: ConsumerMessage) -> bool:
        self.acked.append((message.offset, len(self.table.changelog)))
        return True


def delivered(consumer: AckLog, event, partition: int, offset: int) -> FaustEvent:
    """A saga event as faust's conductor hands it to the one stream that reads its topic."""
    message = ConsumerMessage(event.event_type, partition, offset, 1.0, 0, [],
                              event.order_id.encode(), encode(event), None)
    message.incref()
    return FaustEvent(SimpleNamespace(consumer=consumer), message.key, message.value, [],
                      message)


def test_a_batchs_events_are_acknowledged_only_once_what_they_changed_was_sent():
    table = FakeTable()
    state = MonitorState(Settings(), table, clock=lambda: T0_SECONDS)
    consumer = AckLog(table)
    batch = [delivered(consumer, event, partition, offset)
             for offset, (event, partition) in enumerate(interleaved({"ord-1": 0, "ord-2": 1}))]

    state.fold_batch(reading.read_events(batch, "", 65536), held=batch)
    for event in batch:
        event.ack()  # what Stream.take_events does once the agent asks for the next batch

    assert consumer.acked == [] and table.changelog == []
    written(state)
    assert consumer.acked == [(offset, 2) for offset in range(len(batch))]


def test_events_read_again_after_a_crash_write_nothing_and_count_each_saga_once():
    table = FakeTable()
    state = MonitorState(Settings(), table, clock=lambda: T0_SECONDS)
    batch = interleaved({"ord-1": 0, "ord-2": 1})
    state.fold_batch(batch[:7])
    state.fold_batch(batch)  # the first seven again: never acknowledged, so read again
    written(state)
    records = list(table.changelog)

    state.fold_batch(batch)

    assert written(state) == 0 and table.changelog == records and state.version == 2
    exposition = state.metrics.exposition().decode()
    assert 'saga_monitor_saga_duration_seconds_count{outcome="completed"} 1.0' in exposition
    assert 'saga_monitor_saga_duration_seconds_count{outcome="cancelled"} 1.0' in exposition
    created = 4 + sum(event.event_type == "OrderCreated" for event, _ in batch[:7])
    assert f'saga_monitor_events_total{{event_type="OrderCreated"}} {created}.0' in exposition


def test_the_agent_reads_a_batch_of_faust_events_with_each_ones_partition():
    events = saga("ord-1", HAPPY[:2], start=T0)
    messages = [SimpleNamespace(message=SimpleNamespace(
        topic=f"test.{event.event_type}", partition=partition, offset=9, key=b"ord-1",
        value=encode(event), headers=[], timestamp=1.0)) for partition, event in
        zip((4, 4), events, strict=True)]

    assert list(reading.read_events(messages, "test.", 65536)) == [
        (reading.Sighted(e, None), 4) for e in events]


def test_the_overview_does_not_work_out_what_sagas_younger_than_every_deadline_wait_for(
        monkeypatch):
    now = T0 + timedelta(seconds=10)
    table = {f"ord-{n}": fold(saga(f"ord-{n}", HAPPY[:1 + n % 4], start=T0)) for n in range(50)}

    def waits(record):
        raise AssertionError("a saga 10 s old cannot be 30 s overdue")

    monkeypatch.setattr(waiting, "waits", waits)
    snapshot = take(table.items(), now.timestamp(), DEADLINES, window=300)

    assert snapshot.stuck == [] and snapshot.by_status["running"] == 50


def test_a_step_deadline_shorter_than_the_default_still_makes_a_young_saga_stuck():
    record = fold(saga("ord-1", HAPPY[:3], start=T0))  # waits for OrderShipped
    impatient = Deadlines(30.0, {"OrderShipped": 5.0})
    since = T0.timestamp() + 0.02  # PaymentCharged

    assert stuck(record, since + 4, impatient) == []
    assert [wait.step for wait, _ in stuck(record, since + 6, impatient)] == ["OrderShipped"]


def test_a_saga_whose_first_event_is_old_is_still_examined_however_fresh_its_last_is():
    events = saga("ord-1", HAPPY[:3], start=T0)
    record = fold(events[:2])
    record = progress.fold_event(record, events[2].model_copy(
        update={"occurred_at": T0 + timedelta(seconds=40)}), partition=1)

    assert stuck(record, T0.timestamp() + 41, DEADLINES) == []  # PaymentCharged 1 s ago
    assert stuck(record, T0.timestamp() + 71, DEADLINES)


def test_the_changelog_producer_sends_records_in_batches_not_one_request_each(tmp_path):
    app, _ = create_app(Settings(service_name="saga_monitor",
                                 database_path=tmp_path / "saga_monitor.db"))

    assert app.conf.producer_linger >= 0.01
    assert app.conf.producer_max_batch_size >= 256 * 1024
    assert app.conf.producer_linger < 1.0  # faust flushes it before each offset commit anyway


@pytest.mark.parametrize("steps", [{}, {"OrderShipped": 120.0, "CustomerNotified": 600.0}])
def test_the_shortest_deadline_is_the_default_or_a_shorter_step(steps):
    assert Deadlines(30.0, steps).shortest == 30.0
    assert Deadlines(30.0, {**steps, "StockReserved": 2.0}).shortest == 2.0


def test_the_overviews_counts_include_every_batch_folded_and_every_sweep_since_its_last_pass():
    table, now = FakeTable(), [T0_SECONDS]
    state = MonitorState(Settings(monitor_retention_seconds=60), table, clock=lambda: now[0])

    def counts(stats: dict) -> tuple:
        return stats["by_status"], stats["finished"], stats["sagas"]

    def a_fresh_pass() -> tuple:
        return counts(take(table.items(), now[0], state.deadlines, state.window).stats())

    state.stats()  # a pass over the empty table: the snapshot is kept for a second
    batch = interleaved({f"ord-{n}": n % 3 for n in range(6)})
    for start in range(0, len(batch), 7):
        state.fold_batch(batch[start:start + 7])
        assert counts(state.stats()) == a_fresh_pass()
    assert counts(state.stats())[1] > 0  # some finished, some still running
    now[0] += 3600  # past the retention: the next stats() makes a pass of its own anyway
    state.stats()
    state.fold_batch(interleaved({"ord-late": 1})[:2])
    assert state.expire() > 0 and counts(state.stats()) == a_fresh_pass()


def test_the_overview_counts_a_batch_once_when_its_pass_is_due_at_that_very_request():
    table, now = FakeTable(), [T0_SECONDS]
    state = MonitorState(Settings(), table, clock=lambda: now[0])
    state.stats()  # a pass over the empty table
    state.fold_batch(interleaved({f"ord-{n}": n % 3 for n in range(6)}))
    now[0] += SNAPSHOT_AGE  # this request makes a fresh pass, which has the batch already

    stats = state.stats()

    fresh = take(table.items(), now[0], state.deadlines, state.window).stats()
    assert (stats["by_status"], stats["finished"]) == (fresh["by_status"], fresh["finished"])
    assert min(stats["by_status"].values()) >= 0
