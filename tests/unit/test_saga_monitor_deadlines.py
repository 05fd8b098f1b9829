"""The order's deadline on the monitor's pages: when it is, how much time is left, whether it
ended the saga, and whether a stuck saga will be ended by it or needs a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devtools.synthetic_sagas import HAPPY, saga
from saga_monitor import progress, views
from saga_monitor.progress import Letter
from saga_monitor.waiting import Deadlines
from shared.events import DEADLINE_PASSED, Event, OrderCancellationRequested

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(seconds=600)
STEPS = Deadlines(30.0, {})


def folded(events: list[Event], *letters: Letter) -> tuple:
    record = None
    for event in events:
        record = progress.fold_event(record, event, partition=1)
    for letter in letters:
        record = progress.fold_letter(record, letter, 1)
    return record


def with_deadline(events: list[Event]) -> list[Event]:
    return [event.model_copy(update={"deadline_at": DEADLINE}) for event in events]


def parked(source: str) -> Letter:
    return Letter(topic=f"{source}.DLT", partition=1, offset=0, source_topic=source,
                  source_partition=1, source_offset=7, kind="handler-failed",
                  reason="RuntimeError: boom", service="payment_service", attempts=3,
                  at=T0.timestamp())


def test_a_running_saga_shows_its_deadline_and_the_time_left():
    record = folded(with_deadline(saga("ord-1", HAPPY[:2], start=T0)))
    row = views.row("ord-1", record, T0.timestamp() + 100, STEPS, {})
    assert row["deadline_at"] == "2026-11-25T12:10:00.000Z"
    assert row["deadline_left_seconds"] == 500
    assert row["cancelled_by_deadline"] is False


def test_a_stuck_saga_before_the_pivot_is_one_its_deadline_will_end():
    record = folded(with_deadline(saga("ord-2", HAPPY[:2], start=T0)))
    row = views.row("ord-2", record, T0.timestamp() + 120, STEPS, {})
    assert row["stuck"] and not row["needs_operator"]
    assert row["waiting_for"][0]["resolved_by_deadline"]


def test_a_stuck_saga_with_a_parked_event_needs_an_operator_even_with_a_deadline():
    record = folded(with_deadline(saga("ord-3", HAPPY[:2], start=T0)), parked("StockReserved"))
    row = views.row("ord-3", record, T0.timestamp() + 120, STEPS, {})
    assert row["stuck"] and row["needs_operator"]


def test_a_stuck_saga_past_the_pivot_needs_an_operator():
    record = folded(with_deadline(saga("ord-4", HAPPY[:4], start=T0)))
    row = views.row("ord-4", record, T0.timestamp() + 120, STEPS, {})
    assert row["stuck"] and row["needs_operator"]


def test_a_saga_without_a_known_deadline_needs_an_operator_when_stuck():
    record = folded(saga("ord-5", HAPPY[:2], start=T0))  # an older service's events
    row = views.row("ord-5", record, T0.timestamp() + 120, STEPS, {})
    assert row["deadline_at"] is None and row["deadline_left_seconds"] is None
    assert row["needs_operator"]


def test_a_saga_its_deadline_cancelled_says_so_and_keeps_saying_it_after_a_restart():
    events = with_deadline(saga("ord-6", HAPPY[:2], start=T0))
    asked = events[0].follow_up(OrderCancellationRequested(
        reason=f"{DEADLINE_PASSED} (2026-11-25 12:10:00 UTC)"), "order_service")
    record = folded([*events, asked])
    assert views.row("ord-6", record, DEADLINE.timestamp(), STEPS, {})["cancelled_by_deadline"]
    restored = progress.from_json(progress.to_json(record))
    assert restored == record


def test_a_record_an_older_monitor_wrote_reads_back_without_a_deadline():
    record = folded(saga("ord-7", HAPPY[:2], start=T0))
    older = progress.to_json(record)[:8] + [["StockReserved.DLT:1:0"]]  # its replayed letters
    restored = progress.from_json(older)
    assert restored[:8] == record[:8]
    assert (restored[progress.DEADLINE], restored[progress.BY_DEADLINE]) == (None, False)
