"""The monitor's changelog against its store (``saga_monitor.state``), without a broker: however
folds, retention sweeps and writes interleave — a sweep while a write is still sending, an event
after its saga's tombstone — the changelog rebuilds, through faust's own recovery of an
in-memory table, exactly the table the monitor holds."""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace

import pytest

from saga_monitor import reading
from saga_monitor.app import RecordCodec, create_app
from saga_monitor.state import MonitorState
from shared.settings import Settings
from tests.unit.test_saga_monitor import T0_SECONDS, FakeTable, letter, written
from tests.unit.test_saga_monitor_burst import AckLog, delivered, interleaved


class SlowChangelog(FakeTable):
    """A changelog whose every send gives the event loop a turn, as the producer can."""

    async def send(self, **record) -> None:
        await asyncio.sleep(0)
        await super().send(**record)


def rebuilt(changelog: list[tuple], tmp_path) -> dict:
    """The monitor's table as faust recovers it from these records, after a restart."""
    app, _ = create_app(Settings(service_name="saga_monitor",
                                 database_path=tmp_path / "saga_monitor.db"))
    table, codec = app.tables["sagas"], RecordCodec()
    table.apply_changelog_batch(
        SimpleNamespace(key=key, value=None if value is None else codec.loads(codec.dumps(value)),
                        message=SimpleNamespace(partition=partition,
                                                value=None if value is None else b"a record"))
        for partition, key, value in changelog)
    return dict(table.data.items())


def test_a_restart_rebuilds_the_same_table_from_the_changelog(tmp_path):
    live = FakeTable()
    state = MonitorState(Settings(), live, clock=lambda: T0_SECONDS)
    batch = interleaved({f"ord-{n}": n % 4 for n in range(12)})
    for start in range(0, len(batch), 10):
        state.fold_batch(batch[start:start + 10])
        if start % 20:
            written(state)
    state.fold_batch([(("ord-3", letter()), 3)])
    written(state)

    assert rebuilt(live.changelog, tmp_path) == dict(live)


def test_a_saga_expired_before_its_last_change_was_written_stays_gone():
    table = FakeTable()
    now = T0_SECONDS + 3600
    state = MonitorState(Settings(monitor_retention_seconds=60), table, clock=lambda: now)
    state.fold_batch(interleaved({"ord-1": 2}))

    assert state.expire() == 1
    written(state)
    assert table.changelog == [(2, "ord-1", None)] and "ord-1" not in table


def test_a_saga_expired_while_a_write_is_sending_gets_its_tombstone_after_its_record():
    table = SlowChangelog()
    now = T0_SECONDS + 3600
    state = MonitorState(Settings(monitor_retention_seconds=60), table, clock=lambda: now)
    state.fold_batch(interleaved({"ord-1": 2, "ord-2": 0}))

    async def sweep_during_a_write():
        writing = asyncio.create_task(state.write())
        await asyncio.sleep(0)  # the write is sending its first record
        assert state.expire() == 2
        assert await writing == 2 and await state.write() == 2

    asyncio.run(sweep_during_a_write())
    tombstones: dict[str, list[bool]] = {}
    for _, key, value in table.changelog:
        tombstones.setdefault(key, []).append(value is None)
    assert tombstones == {"ord-1": [False, True], "ord-2": [False, True]} and not table


@pytest.mark.parametrize("seed", range(20))
def test_any_interleaving_of_folds_sweeps_and_writes_leaves_a_changelog_that_rebuilds_the_store(
        seed, tmp_path):
    """Sagas finish, expire and are seen again (a duplicate after their tombstone) while writes
    are sending; the clock moves past the retention of some of them."""
    rng, now = random.Random(seed), [T0_SECONDS]
    table = SlowChangelog()
    state = MonitorState(Settings(monitor_retention_seconds=60), table, clock=lambda: now[0])
    events = interleaved({f"ord-{n}": n % 3 for n in range(6)})
    events += rng.sample(events, 8)  # read again: after a crash, or after the saga expired

    async def run():
        writing = None
        for start in range(0, len(events), 3):
            state.fold_batch(events[start:start + 3])
            now[0] += rng.choice((0, 30, 90))
            if rng.random() < 0.5:
                state.expire()
            if rng.random() < 0.5 and (writing is None or writing.done()):
                writing = asyncio.create_task(state.write())
            await asyncio.sleep(0)
        if writing:
            await writing
        await state.write()

    asyncio.run(run())
    assert rebuilt(table.changelog, tmp_path) == dict(table)


class RefusingOnce(FakeTable):
    """A producer that refuses one send, then takes everything."""

    refused = False

    async def send(self, **record) -> None:
        if not self.refused:
            self.refused = True
            raise RuntimeError("producer refused")
        await super().send(**record)


def test_a_write_the_producer_refuses_acknowledges_nothing_and_the_next_sends_it_all(tmp_path):
    table = RefusingOnce()
    state = MonitorState(Settings(), table, clock=lambda: T0_SECONDS)
    consumer = AckLog(table)
    batch = [delivered(consumer, event, partition, offset)
             for offset, (event, partition) in enumerate(interleaved({"ord-1": 2, "ord-2": 1}))]
    state.fold_batch(reading.read_events(batch, "", 65536), held=batch)
    for event in batch:
        event.ack()  # the stream's own ack

    with pytest.raises(RuntimeError):
        written(state)
    assert consumer.acked == []
    assert written(state) == 2 and len(consumer.acked) == len(batch)
    assert rebuilt(table.changelog, tmp_path) == dict(table)
