"""What keeps the monitor up with a burst (docs/performance.md, "The saga monitor"): the
overview does not work out what young sagas wait for, and the table's changelog records go
out in batches — without a broker."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devtools.synthetic_sagas import HAPPY, saga
from saga_monitor import progress, waiting
from saga_monitor.app import create_app
from saga_monitor.stats import take
from saga_monitor.waiting import Deadlines, stuck
from shared.settings import Settings
from tests.unit.test_saga_monitor import T0, fold

DEADLINES = Deadlines(30.0, {})


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
