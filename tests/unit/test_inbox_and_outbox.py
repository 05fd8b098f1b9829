"""Inbox and outbox: an event id is applied once; the outbox hands rows to the relay in commit
order and marks them sent or failed; housekeeping removes only what may go."""

import time

import pytest

from shared.events import StockAdded, encode
from shared.inbox import Inbox
from shared.outbox import Outbox, OutgoingMessage
from shared.processing import create_all_tables
from shared.store import open_database
from tests.support.builders import event, order_created

DAY = 86_400.0


def _seqs(db) -> list[int]:
    return [row["seq"] for row in db.rows("SELECT seq FROM outbox ORDER BY seq")]


def _unsent(outbox: Outbox) -> list[OutgoingMessage]:
    """What the relay reads at start: every row neither sent nor failed."""
    return outbox.rows(outbox.unsent_seqs())
NOW = 1_800_000_000.0


@pytest.fixture
def db():
    db = open_database(":memory:")
    create_all_tables(db, lambda db: None)
    return db


def _received(db, evt, at: float) -> None:
    Inbox(db).claim(evt)
    db.execute("UPDATE inbox SET received_at = ? WHERE event_id = ?", [at, evt.event_id])


def _inbox_ids(db) -> set[str]:
    return {row["event_id"] for row in db.rows("SELECT event_id FROM inbox")}


def test_an_event_id_is_claimed_once_with_its_type_and_order(db):
    inbox, created, stock = Inbox(db), event(order_created()), event(StockAdded(sku="A", quantity=1))
    assert inbox.claim(created) is True
    assert inbox.claim(created) is False
    assert inbox.claim(stock) is True
    assert [(row["event_type"], row["order_id"]) for row in db.rows(
        "SELECT event_type, order_id FROM inbox ORDER BY received_at")] == [
        ("OrderCreated", "ord-1"), ("StockAdded", None)]


def test_pruning_the_inbox_forgets_only_entries_older_than_the_retention(db):
    old, edge, recent = (event(order_created(), order_id=f"ord-{n}") for n in range(3))
    _received(db, old, NOW - 7 * DAY - 1)
    _received(db, edge, NOW - 7 * DAY)
    _received(db, recent, NOW - DAY)
    assert Inbox(db).prune(7, now=NOW) == 1
    assert _inbox_ids(db) == {edge.event_id, recent.event_id}
    assert Inbox(db).claim(old) is True  # forgotten: the broker no longer has it either


def test_pruning_the_inbox_without_a_time_counts_from_now(db):
    ancient, fresh = event(order_created(), order_id="ord-a"), event(order_created())
    _received(db, ancient, 0.0)
    Inbox(db).claim(fresh)
    assert Inbox(db).prune(7) == 1
    assert _inbox_ids(db) == {fresh.event_id}


def test_pruning_the_inbox_uses_its_index_instead_of_reading_every_entry(db):
    plan = " ".join(row[-1] for row in db.execute(
        "EXPLAIN QUERY PLAN DELETE FROM inbox WHERE received_at < ?", [NOW]).fetchall())
    assert plan.startswith("SEARCH inbox USING") and "(received_at<?)" in plan


def test_an_event_is_added_under_its_own_id_and_key_and_comes_back_as_it_went_in(db):
    evt = event(order_created())
    added = Outbox(db).add(evt, headers=[("traceparent", "00-abc-01")])
    assert added == OutgoingMessage(added.seq, "OrderCreated", b"ord-1", encode(evt),
                                    [("traceparent", b"00-abc-01")], added.created_at)
    assert _unsent(Outbox(db)) == [added]
    assert db.scalar("SELECT message_id FROM outbox WHERE seq = ?", [added.seq]) == evt.event_id


def test_a_raw_message_gets_an_id_and_a_time_of_its_own(db):
    before = time.time()
    first = Outbox(db).add_raw("OrderCreated.DLT", None, b"x", [("dlt.kind", "malformed")])
    second = Outbox(db).add_raw("OrderCreated.DLT", b"k", b"y", [])
    ids = [row["message_id"] for row in db.rows("SELECT message_id FROM outbox")]
    assert len(set(ids)) == 2 and all(ids)
    assert before <= first.created_at <= second.created_at <= time.time()
    assert (first.key, first.value, first.headers) == (None, b"x", [("dlt.kind", b"malformed")])
    assert _unsent(Outbox(db)) == [first, second]


def test_unsent_rows_come_oldest_first_and_only_those_committed_before_a_time_when_asked(db):
    outbox = Outbox(db)
    seqs = [outbox.add(event(order_created(), order_id=f"ord-{n}")).seq for n in range(4)]
    db.execute("UPDATE outbox SET created_at = seq")
    assert outbox.unsent_seqs() == seqs
    assert outbox.unsent_seqs(created_before=seqs[2]) == seqs[:2]
    assert [row.seq for row in outbox.rows([seqs[3], seqs[1]])] == [seqs[1], seqs[3]]


def test_sent_and_failed_rows_are_no_longer_pending_and_failed_ones_say_why(db):
    outbox = Outbox(db)
    sent, refused, waiting = (outbox.add(event(order_created(), order_id=f"ord-{n}"))
                              for n in range(3))
    outbox.mark_sent([sent.seq])
    outbox.mark_failed(refused.seq, "MessageSizeTooLargeError: " + "x" * 600)
    assert _unsent(outbox) == [waiting] and outbox.unsent_count() == 1
    [failed] = outbox.failed()
    error, failed_at = failed.pop("error"), failed.pop("failed_at")
    assert failed == {"seq": refused.seq, "topic": "OrderCreated", "key": b"ord-1",
                      "bytes": len(refused.value)}
    assert error.startswith("MessageSizeTooLargeError: ") and len(error) == 500
    assert failed_at > 0


def test_pruning_the_outbox_removes_only_rows_sent_before_the_retention(db):
    outbox = Outbox(db)
    old, edge, recent, unsent = (outbox.add(event(order_created(), order_id=f"ord-{n}"))
                                 for n in range(4))
    for row, sent_at in ((old, NOW - DAY - 1), (edge, NOW - DAY), (recent, NOW - 60)):
        db.execute("UPDATE outbox SET sent_at = ? WHERE seq = ?", [sent_at, row.seq])
    db.execute("UPDATE outbox SET created_at = 0 WHERE seq = ?", [unsent.seq])
    assert outbox.prune_sent(1, now=NOW) == 1
    assert _seqs(db) == [edge.seq, recent.seq, unsent.seq]


def test_pruning_the_outbox_without_a_time_counts_from_now_and_keeps_unsent_rows(db):
    outbox = Outbox(db)
    ancient, fresh, unsent = (outbox.add(event(order_created(), order_id=f"ord-{n}"))
                              for n in range(3))
    outbox.mark_sent([fresh.seq])
    db.execute("UPDATE outbox SET sent_at = 1.0 WHERE seq = ?", [ancient.seq])
    assert outbox.prune_sent(1) == 1
    assert _seqs(db) == [fresh.seq, unsent.seq]


def test_pruning_every_sent_row_never_lets_a_new_row_reuse_an_old_seq(db):
    outbox = Outbox(db)
    rows = [outbox.add(event(order_created(), order_id=f"ord-{n}")) for n in range(3)]
    outbox.mark_sent([row.seq for row in rows])
    db.execute("UPDATE outbox SET sent_at = 1.0")
    assert outbox.prune_sent(1, now=NOW) == 2  # the newest stays, as the seq high-water mark
    later = outbox.add(event(order_created(), order_id="ord-later"))
    assert later.seq > rows[-1].seq
    assert _unsent(outbox) == [later]
