"""The monitor's fold, reading, waiting and overview rules, without Kafka or faust."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from devtools.synthetic_sagas import HAPPY, NO_CARRIER, OUT_OF_STOCK, saga
from saga_monitor import progress, reading, views
from saga_monitor.progress import Letter
from saga_monitor.reading import Unreadable
from saga_monitor.state import MonitorState
from saga_monitor.stats import percentiles, take
from saga_monitor.waiting import Deadlines, check_step_names, stuck, waits
from shared.events import Event, OrderCancellationRequested, encode
from shared.events.catalog import OrderCompleted
from shared.events.examples import EXAMPLES
from shared.settings import Settings

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
T0_SECONDS = T0.timestamp()
DEADLINES = Deadlines(30.0, {})
NO_DECISIONS: dict[str, dict] = {}


class FakeTable(dict):
    """What the monitor uses of a faust table: the mapping, its store, the changelog topic."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.data = self
        self.changelog: list[tuple] = []
        self.changelog_topic = self

    async def send(self, *, key, value, partition, force, value_serializer):
        assert force and (value_serializer == "raw") == (value is None)
        self.changelog.append((partition, key, value))


def written(state: MonitorState) -> int:
    """The changelog records of a state's next write."""
    return asyncio.run(state.write())


def fold(events, record=None):
    for event in events:
        record = progress.fold_event(record, event, partition=1)
    return record


def letter(source="StockReserved", service="payment_service", offset=0, at=T0_SECONDS):
    return Letter(topic=f"{source}.DLT", partition=1, offset=offset, source_topic=source,
                  source_partition=1, source_offset=7, kind="handler-failed",
                  reason="RuntimeError: injected fault", service=service, attempts=3, at=at)


def test_the_same_event_twice_changes_nothing():
    events = saga("ord-1", start=T0)
    record = fold(events)
    assert progress.fold_event(record, events[2], partition=1) is record


def test_events_in_any_order_fold_into_the_same_saga_with_causes_resolved():
    events = saga("ord-1", NO_CARRIER, start=T0)
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    in_order, out_of_order = fold(events), fold(shuffled)

    assert views.detail("ord-1", out_of_order, 0, DEADLINES, NO_DECISIONS)["steps"] == \
        views.detail("ord-1", in_order, 0, DEADLINES, NO_DECISIONS)["steps"]
    causes = {e["event_type"]: e["caused_by"] for e in
              views.detail("ord-1", out_of_order, 0, DEADLINES, NO_DECISIONS)["timeline"]}
    assert causes["StockReleased"] == events[4].event_id  # PaymentRefunded
    assert out_of_order[progress.STATUS] == "cancelled" and progress.finished(out_of_order)


def test_a_saga_is_finished_only_once_the_customer_is_told_its_outcome():
    events = saga("ord-1", NO_CARRIER, start=T0)
    told_of_refund_only = fold(events[:-1])  # OrderCancelled seen, its notification not yet

    assert told_of_refund_only[progress.STATUS] == "cancelled"
    assert not progress.finished(told_of_refund_only)
    done = fold(events[-1:], told_of_refund_only)
    assert done[progress.FINISHED] == events[-1].occurred_at.timestamp()
    assert done[progress.FINISHED] - done[progress.STARTED] == pytest.approx(0.08)


@pytest.mark.parametrize(("path", "status"), [(HAPPY[:3], "running"), (NO_CARRIER[:5], "compensating"),
                                              (OUT_OF_STOCK, "cancelled"), (HAPPY, "completed")])
def test_the_status_follows_the_events_seen(path, status):
    assert fold(saga("ord-1", path, start=T0))[progress.STATUS] == status


def test_a_record_survives_the_changelog_as_json():
    record = progress.fold_letter(fold(saga("ord-1", NO_CARRIER, start=T0)), letter(), 1)
    assert progress.from_json(json.loads(json.dumps(progress.to_json(record)))) == record


def test_an_older_monitors_record_is_read_back_without_the_replays_it_saw():
    record = progress.fold_letter(fold(saga("ord-1", NO_CARRIER, start=T0)), letter(), 1)
    older = [*progress.to_json(record), [letter().ref]]
    assert progress.from_json(json.loads(json.dumps(older))) == record


def test_an_event_published_on_another_types_topic_is_unreadable_not_an_outcome():
    completed = Event.new(EXAMPLES[OrderCompleted], order_id="ord-9", producer="intruder")
    found = reading.read("OrderCreated", 0, 5, b"ord-9", encode(completed), [],
                         timestamp=0.0, max_bytes=65536)
    assert found == [Unreadable("OrderCreated",
                                "event_type 'OrderCompleted' published on the 'OrderCreated' topic")]
    assert reading.read("OrderCompleted", 0, 5, b"ord-9", encode(completed), [], timestamp=0.0,
                        max_bytes=65536) == [reading.Sighted(completed, None)]


def test_a_dead_letter_is_read_from_its_headers_and_a_message_claiming_a_replay_is_an_event():
    headers = [("dlt.reason", b"RuntimeError: boom"), ("dlt.kind", b"handler-failed"),
               ("dlt.source.topic", b"PaymentCharged"), ("dlt.source.partition", b"2"),
               ("dlt.source.offset", b"41"), ("dlt.service", b"shipping_service"),
               ("dlt.attempts", b"3"), ("dlt.time", T0.isoformat().encode())]
    [(order_id, found)] = reading.read("PaymentCharged.DLT", 2, 0, b"ord-3", b"{}", headers,
                                       timestamp=1.0, max_bytes=65536)
    assert order_id == "ord-3"
    assert (found.source_topic, found.source_offset, found.service, found.attempts, found.at) == (
        "PaymentCharged", 41, "shipping_service", 3, T0.timestamp())
    event = saga("ord-3", HAPPY[:3])[2]
    replayed = reading.read("PaymentCharged", 2, 50, b"ord-3", encode(event),
                            [("dlt.replayed-from", found.ref.encode())], timestamp=1.0,
                            max_bytes=65536)
    assert replayed == [reading.Sighted(event, None)]


def test_a_message_claiming_to_be_a_replay_hides_no_pending_letter():
    """Anyone who may write a saga topic can set ``dlt.replayed-from``: only the operator's
    decision on sagactl.dlq-decisions says a letter was replayed."""
    state = MonitorState(Settings(), FakeTable(), clock=lambda: T0_SECONDS + 60)
    events = saga("ord-5", HAPPY[:3], start=T0)
    for event in events[:2]:
        state.fold(event, 1)
    state.fold(("ord-5", letter()), 1)
    for item in reading.read("PaymentCharged", 1, 9, b"ord-5", encode(events[2]),
                             [("dlt.replayed-from", letter().ref.encode())], timestamp=1.0,
                             max_bytes=65536):
        state.fold(item, 1)
    row = views.row("ord-5", state.get("ord-5"), T0_SECONDS + 60, DEADLINES, NO_DECISIONS)
    assert row["dead_letters_pending"] == 1


def test_a_key_with_a_trailing_newline_is_no_order_id():
    assert reading.read("StockReserved.DLT", 1, 3, b"ord-5\n", b"{}", {}, timestamp=0.0,
                        max_bytes=65536) == []


def test_a_dead_letter_without_an_order_key_is_not_a_saga():
    assert reading.read("OrderCreated.DLT", 0, 0, b"not an order id!", b"", [], timestamp=0.0,
                        max_bytes=65536) == []


@pytest.mark.parametrize(("path", "trigger", "step", "services"), [
    (HAPPY[:3], "PaymentCharged", "OrderShipped", ["shipping_service"]),
    (HAPPY[:1], "OrderCreated", "StockReserved", ["inventory_service"]),
    (NO_CARRIER[:4], "ShipmentFailed", "PaymentRefunded", ["payment_service"]),
    (NO_CARRIER[:6], "PaymentRefunded", "StockReleased", ["inventory_service"]),
    (HAPPY[:5], "OrderCompleted", "CustomerNotified", ["notification_service"]),
])
def test_the_monitor_knows_who_must_react_to_the_last_event(path, trigger, step, services):
    [wait] = waits(fold(saga("ord-1", path, start=T0)))
    assert (wait.trigger, wait.step, list(wait.services)) == (trigger, step, services)


def test_a_cancellation_request_waits_for_the_pivots_decision():
    events = saga("ord-1", HAPPY[:2], start=T0)
    request = events[1].follow_up(OrderCancellationRequested(), "order_service")
    found = waits(fold([*events, request]))
    assert [(w.trigger, w.services) for w in found] == [
        ("StockReserved", ("payment_service",)),
        ("OrderCancellationRequested", ("shipping_service",))]


def test_a_step_is_stuck_after_its_own_deadline_or_the_default():
    record = fold(saga("ord-1", HAPPY[:3], start=T0))
    since = T0.timestamp() + 0.02  # PaymentCharged
    assert stuck(record, since + 29, DEADLINES) == []
    assert [w.step for w, _ in stuck(record, since + 31, DEADLINES)] == ["OrderShipped"]
    patient = Deadlines(30.0, {"OrderShipped": 120.0})
    assert stuck(record, since + 31, patient) == []
    assert stuck(record, since + 121, patient)[0][1] == pytest.approx(1.0)


def test_an_unknown_step_in_the_deadlines_is_refused():
    with pytest.raises(ValueError, match="OrderShiped"):
        check_step_names({"OrderShiped": 10})


def test_a_stuck_saga_shows_its_parked_event_and_the_command_to_replay_it():
    record = progress.fold_letter(fold(saga("ord-5", HAPPY[:2], start=T0)), letter(), 1)
    row = views.row("ord-5", record, T0.timestamp() + 60, DEADLINES, NO_DECISIONS)

    [wait] = row["waiting_for"]
    assert wait["stuck"] and wait["services"] == ["payment_service"]
    assert wait["text"].startswith("StockReserved at 12:00:00; waiting for payment_service")
    assert "parked by payment_service after 3 attempt(s)" in wait["cause"]
    assert row["replay_command"] == "sagactl dlq replay --order ord-5"
    replayed = {letter().ref: {"decision": "replayed", "reason": "", "at": None}}
    assert views.row("ord-5", record, T0.timestamp() + 60, DEADLINES,
                     replayed)["replay_command"] is None


def test_the_timeline_marks_compensations_the_pivot_and_the_time_between_steps():
    saga_detail = views.detail("ord-1", fold(saga("ord-1", NO_CARRIER, start=T0, step=0.5)),
                               0, DEADLINES, NO_DECISIONS)
    kinds = {e["event_type"]: e["kind"] for e in saga_detail["timeline"]}
    assert kinds["PaymentRefunded"] == kinds["StockReleased"] == "compensation"
    assert kinds["ShipmentFailed"] == "failure"
    assert saga_detail["compensations"] == ["PaymentRefunded", "StockReleased", "OrderCancelled"]
    assert saga_detail["lanes"][:5] == ["order_service", "inventory_service", "payment_service",
                                        "shipping_service", "notification_service"]
    assert {e["after_cause_seconds"] for e in saga_detail["timeline"][1:]} <= {0.5, 1.0, 1.5}
    happy = views.detail("ord-2", fold(saga("ord-2", start=T0)), 0, DEADLINES, NO_DECISIONS)
    assert [e["event_type"] for e in happy["timeline"] if e["pivot"]] == ["OrderShipped"]


def test_the_overview_counts_puts_stuck_sagas_first_and_measures_finished_ones():
    now = T0 + timedelta(seconds=100)
    table = {f"ord-{i}": fold(saga(f"ord-{i}", start=now - timedelta(seconds=10 + i),
                                   step=0.1 * (i + 1))) for i in range(10)}
    table["ord-old"] = fold(saga("ord-old", start=T0 - timedelta(hours=1)))  # outside the window
    table["ord-stuck"] = fold(saga("ord-stuck", HAPPY[:2], start=T0, customer="bob"))
    table["ord-fresh"] = fold(saga("ord-fresh", HAPPY[:2], start=now - timedelta(seconds=1)))

    snapshot = take(table.items(), now.timestamp(), DEADLINES, window=300)
    stats = snapshot.stats()
    assert stats["by_status"] == {"running": 2, "compensating": 0, "completed": 11,
                                  "cancelled": 0}
    assert (stats["sagas"], stats["finished"], stats["stuck"]) == (13, 11, 1)
    assert stats["duration_seconds"]["count"] == 10
    assert stats["duration_seconds"]["max"] == pytest.approx(5.0)  # 5 steps of 1.0 s
    assert sum(b["completed"] for b in stats["throughput"]) == 10
    assert snapshot.rows[0][0] == "ord-stuck"
    assert [r[0] for r in snapshot.search("BOB")] == ["ord-stuck"]
    assert [r[0] for r in snapshot.search("", "stuck")] == ["ord-stuck"]
    assert len(snapshot.search("ord-", "completed")) == 11


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values) == {"count": 100, "p50": 50.0, "p90": 90.0, "p99": 99.0,
                                   "max": 100.0}
    assert percentiles([])["p50"] is None


def test_finished_sagas_leave_the_table_after_the_retention_with_a_tombstone():
    now = T0 + timedelta(hours=1)
    old_letter = letter(at=T0.timestamp())
    table = FakeTable({
        "ord-done": progress.fold_event(None, saga("ord-done", HAPPY[:1], start=T0)[0], 2),
        "ord-recent": fold(saga("ord-recent", start=now - timedelta(seconds=30))),
        "ord-stuck": fold(saga("ord-stuck", HAPPY[:3], start=T0)),
        "ord-letter-only": progress.fold_letter(None, old_letter, 0),
    })
    table["ord-done"] = fold(saga("ord-done", start=T0)[1:], table["ord-done"])
    state = MonitorState(Settings(monitor_retention_seconds=60), table,
                         clock=lambda: now.timestamp())

    assert state.expire() == 2
    assert set(table) == {"ord-recent", "ord-stuck"}
    assert written(state) == 2
    assert sorted(table.changelog) == [(0, "ord-letter-only", None), (1, "ord-done", None)]


def test_the_state_writes_the_table_only_when_a_saga_changed_and_times_each_saga_once():
    table = FakeTable()
    state = MonitorState(Settings(), table, clock=lambda: T0_SECONDS)
    events = saga("ord-1", start=T0)
    for event in events + events:  # everything twice, as after a restart
        state.fold(event, partition=0)
    state.fold(Unreadable("OrderCreated", "wrong type"), partition=0)

    assert state.version == len(events)
    assert table["ord-1"][progress.STATUS] == "completed"
    exposition = state.metrics.exposition().decode()
    assert 'saga_monitor_saga_duration_seconds_count{outcome="completed"} 1.0' in exposition
    assert 'saga_monitor_unreadable_total{topic="OrderCreated"} 1.0' in exposition


@pytest.fixture
def entry(monkeypatch):
    """The monitor's entry point, its priority recorded instead of set on the test process."""
    import saga_monitor.__main__ as entry

    monkeypatch.setattr(entry, "priorities", [], raising=False)
    monkeypatch.setattr(entry, "take_priority", entry.priorities.append)
    return entry


def test_the_monitor_stops_with_one_line_when_the_broker_cannot_be_reached(entry, monkeypatch,
                                                                            caplog):
    from shared.runtime.topics import BrokerUnreachable

    async def unreachable(settings):
        raise BrokerUnreachable("Kafka at 127.0.0.1:1 unreachable for 120s: KafkaConnectionError")

    monkeypatch.setattr(entry, "create_topics", unreachable)
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    assert stopped.value.code == 1
    assert [r.getMessage() for r in caplog.records] == [
        "saga monitor cannot start: Kafka at 127.0.0.1:1 unreachable for 120s: "
        "KafkaConnectionError"]


def test_the_monitor_process_runs_the_cyclic_collector_less_often(entry, monkeypatch):
    import gc

    started = []

    async def no_topics(settings):
        pass

    class App:
        def main(self):
            started.append(gc.get_threshold())

    monkeypatch.setattr(entry, "create_topics", no_topics)
    monkeypatch.setattr(entry, "create_app", lambda settings: (App(), None))
    monkeypatch.setattr(entry.sys, "argv", ["saga-monitor"])
    before = gc.get_threshold()
    try:
        entry.main()
    finally:
        gc.set_threshold(*before)
    assert started == [entry.COLLECTOR_THRESHOLDS] != [before]
    assert entry.priorities == [Settings().monitor_nice]
