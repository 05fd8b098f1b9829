"""Dead letters on the monitor's pages: the operator's decisions, what to run, in time order."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from devtools.synthetic_sagas import HAPPY, saga
from saga_monitor import progress, reading, views
from saga_monitor.decisions import Decisions
from saga_monitor.progress import Letter
from saga_monitor.state import MonitorState
from saga_monitor.waiting import Deadlines, stuck
from sagactl.dlq import _wanted
from sagactl.letters import DeadLetter
from shared.settings import Settings

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
T0_SECONDS = T0.timestamp()
LATER = T0_SECONDS + 60
DEADLINES = Deadlines(30.0, {})


def letter(kind="handler-failed", source="StockReserved", offset=0, at=T0_SECONDS):
    return Letter(topic=f"{source}.DLT", partition=1, offset=offset, source_topic=source,
                  source_partition=1, source_offset=7, kind=kind, reason="RuntimeError: boom",
                  service="payment_service", attempts=3, at=at)


def stuck_with(*letters: Letter) -> tuple:
    """ord-5 waits for payment_service to react to StockReserved, with these dead letters."""
    record = None
    for event in saga("ord-5", HAPPY[:2], start=T0):
        record = progress.fold_event(record, event, partition=1)
    for found in letters:
        record = progress.fold_letter(record, found, 1)
    return record


def decided(*decisions: tuple[Letter, str]) -> Decisions:
    known = Decisions()
    for found, decision in decisions:
        known.record(found.ref.encode(), json.dumps({
            "decision": decision, "reason": "dealt with by hand", "at": T0.isoformat()}).encode())
    return known


def test_a_letter_the_operator_acked_is_no_longer_pending_and_needs_no_replay():
    record = stuck_with(letter())
    acked = decided((letter(), "acked")).by_letter

    row = views.row("ord-5", record, LATER, DEADLINES, acked)
    assert (row["dead_letters_pending"], row["replay_command"], row["dead_letters_hint"]) == (
        0, None, None)
    assert row["stuck"] and row["waiting_for"][0]["cause"] is None
    [shown] = views.detail("ord-5", record, LATER, DEADLINES, acked)["dead_letters"]
    assert (shown["pending"], shown["state"]) == (False, "acked")
    assert shown["decision"] == {"decision": "acked", "reason": "dealt with by hand",
                                 "at": T0.isoformat()}


def test_a_letter_sagactl_recorded_as_replayed_is_replayed_without_its_replay_being_seen():
    # Two services dead-lettered one message: it went back once, naming only one of them.
    first, second = letter(), letter(offset=1)
    record = stuck_with(first, second)
    replayed = decided((first, "replayed"), (second, "replayed")).by_letter

    shown = views.detail("ord-5", record, LATER, DEADLINES, replayed)
    assert [d["state"] for d in shown["dead_letters"]] == ["replayed", "replayed"]
    assert (shown["dead_letters_pending"], shown["replay_command"]) == (0, None)


def test_only_a_pending_handler_failed_letter_gets_the_replay_command():
    invalid = letter(kind="schema-invalid")
    row = views.row("ord-5", stuck_with(invalid), LATER, DEADLINES, {})

    assert row["dead_letters_pending"] == 1 and row["replay_command"] is None
    assert "`sagactl dlq list --order ord-5 --pending`" in row["dead_letters_hint"]
    assert ("`sagactl dlq ack --order ord-5 --kind schema-invalid --reason '...'`"
            in row["dead_letters_hint"])
    cause = row["waiting_for"][0]["cause"]
    assert "dead-lettered by payment_service" in cause and "dlq replay --order" not in cause
    assert "`sagactl dlq replay` skips it: see `sagactl dlq list --order ord-5`" in cause

    both = views.row("ord-5", stuck_with(invalid, letter(offset=1)), LATER, DEADLINES, {})
    assert both["replay_command"] == "sagactl dlq replay --order ord-5"
    assert "--kind schema-invalid" in both["dead_letters_hint"]
    parked_acked = decided((letter(offset=1), "acked")).by_letter
    assert views.row("ord-5", stuck_with(invalid, letter(offset=1)), LATER, DEADLINES,
                     parked_acked)["replay_command"] is None


def test_dead_letters_are_listed_oldest_first_whatever_their_arrival_order():
    late, early = letter(offset=0, at=T0_SECONDS + 5), letter(offset=1, at=T0_SECONDS)
    shown = views.detail("ord-5", stuck_with(late, early), LATER, DEADLINES, {})
    assert [d["offset"] for d in shown["dead_letters"]] == [1, 0]
    assert shown["dead_letters"][0]["at"] == "2026-11-25T12:00:00.000Z"


def test_a_decision_is_kept_replaced_withdrawn_or_skipped_as_its_record_says():
    decisions = Decisions()
    ack = json.dumps({"decision": "acked", "reason": "refunded by hand", "at": "x"}).encode()

    assert decisions.record(b"OrderCreated.DLT:0:4", ack)
    assert not decisions.record(b"OrderCreated.DLT:0:4", ack)  # the same again: no change
    assert decisions.by_letter["OrderCreated.DLT:0:4"]["reason"] == "refunded by hand"
    assert decisions.record(b"OrderCreated.DLT:0:4", b'{"decision": "replayed"}')
    assert decisions.by_letter["OrderCreated.DLT:0:4"] == {"decision": "replayed", "reason": "",
                                                           "at": None}
    assert not decisions.record(b"OrderCreated.DLT:0:5", b"not json")
    assert not decisions.record(b"OrderCreated.DLT:0:6", b'{"reason": "no decision"}')
    assert not decisions.record(None, ack)
    assert decisions.record(b"OrderCreated.DLT:0:4", None)  # a tombstone withdraws it
    assert decisions.by_letter == {}


def test_the_monitor_is_not_ready_until_it_has_read_the_decisions_and_a_decision_refreshes_pages():
    state = MonitorState(Settings(), {}, clock=lambda: LATER)
    assert "sagactl.dlq-decisions not read yet" in state.problems()

    state.decisions.say(None)
    version = state.version
    state.changed()
    assert "sagactl.dlq-decisions not read yet" not in state.problems()
    assert state.version == version + 1


def test_a_letter_without_a_kind_is_named_so_that_the_hints_command_finds_it():
    """Not written by this project (no ``dlt.kind``): the monitor's hint names a kind that
    ``sagactl dlq ack --kind`` then matches."""
    [(_, read_letter)] = reading.read("StockReserved.DLT", 1, 3, b"ord-5", b"{}", {},
                                      timestamp=T0_SECONDS, max_bytes=1024)
    row = views.row("ord-5", stuck_with(read_letter), LATER, DEADLINES, {})
    as_sagactl_sees_it = DeadLetter("StockReserved.DLT", 1, 3, 0, b"ord-5", {}, b"{}")

    assert f"--kind {read_letter.kind} " in row["dead_letters_hint"]
    assert _wanted(as_sagactl_sees_it, "ord-5", [read_letter.kind], pending=True)


def test_every_word_a_message_chose_is_shell_quoted_in_the_commands_offered():
    hostile = letter(kind="x;touch /tmp/owned")
    row = views.row("ord-5", stuck_with(hostile), LATER, DEADLINES, {})
    assert "--kind 'x;touch /tmp/owned' --reason" in row["dead_letters_hint"]
    assert "--kind x;" not in row["dead_letters_hint"]


def test_an_order_known_only_by_a_dead_letter_is_stuck_once_the_letter_is_older_than_a_deadline():
    known = progress.fold_letter(None, letter(at=T0_SECONDS), partition=1)
    assert stuck(known, T0_SECONDS + 29, DEADLINES) == []
    [(wait, late)] = stuck(known, LATER, DEADLINES)
    assert (wait.step, wait.since, late) == ("OrderCreated", T0_SECONDS, 30.0)
