"""The outbox's own promises, beyond the round trip in test_inbox_and_outbox.py: how large a
message is, which rows make the backlog that /health and `sagactl doctor` report, how failed
rows are listed, and that the relay's query stays on the rows not yet sent as the table grows.

The ``outbox`` fixture is parametrized by store, so that another implementation of the outbox
is held to the same tests by adding it to ``STORES``; the query plans are SQLite's own."""

import dataclasses
import time

import pytest

from shared.outbox import Outbox, OutgoingMessage
from shared.store import open_database
from tests.support.processing import statements_run


def _sqlite_outbox() -> Outbox:
    db = open_database(":memory:")
    Outbox.create(db)
    return Outbox(db)


STORES = {"sqlite": _sqlite_outbox}


@pytest.fixture(params=sorted(STORES))
def outbox(request) -> Outbox:
    return STORES[request.param]()


def _rows(outbox: Outbox, count: int, topic: str = "StockAdded") -> list[OutgoingMessage]:
    return [outbox.add_raw(topic, f"key-{n}".encode(), b"{}", []) for n in range(count)]


def test_a_message_is_as_large_as_its_key_value_and_header_names_and_values(outbox):
    added = outbox.add_raw("OrderCreated", b"ord-1", b'{"a": 1}',
                           [("traceparent", "00-abc-01"), ("dlt.kind", "malformed")])
    assert added.size == 5 + 8 + (11 + 9) + (8 + 9)
    assert [row.size for row in outbox.rows(outbox.unsent_seqs())] == [added.size]


def test_a_message_without_a_key_or_headers_is_as_large_as_its_value():
    assert OutgoingMessage(1, "OrderCreated.DLT", None, b"12345", []).size == 5


def test_an_outgoing_message_cannot_be_changed_once_made():
    """The unit of work, the relay's queue and its retries hold the same message objects."""
    message = OutgoingMessage(1, "OrderCreated", b"ord-1", b"{}", [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.seq = 2


def test_the_backlog_counts_exactly_the_rows_neither_sent_nor_failed(outbox):
    first, sent, failed, sent_and_failed, second, third = _rows(outbox, 6)
    outbox.mark_sent([sent.seq, sent_and_failed.seq])
    outbox.mark_failed(failed.seq, "too large")
    outbox.mark_failed(sent_and_failed.seq, "too large")
    assert outbox.unsent_count() == 3
    assert outbox.rows(outbox.unsent_seqs()) == [first, second, third]


def test_failed_rows_are_listed_oldest_first_with_what_an_operator_needs(outbox):
    before = time.time()
    older, pending, newer = (outbox.add_raw("OrderCreated", key, value, []) for key, value in
                             ((b"ord-1", b"123"), (b"ord-2", b"4"), (None, b"56789")))
    outbox.mark_failed(newer.seq, "InvalidTopicError")  # failed first, listed last
    outbox.mark_failed(older.seq, "MessageSizeTooLargeError")
    outbox.mark_sent([older.seq])
    listed = [{**row, "failed_at": before <= row["failed_at"] <= time.time()}
              for row in outbox.failed()]
    assert listed == [
        {"seq": older.seq, "topic": "OrderCreated", "key": b"ord-1", "bytes": 3,
         "error": "MessageSizeTooLargeError", "failed_at": True},
        {"seq": newer.seq, "topic": "OrderCreated", "key": None, "bytes": 5,
         "error": "InvalidTopicError", "failed_at": True}]
    assert outbox.rows(outbox.unsent_seqs()) == [pending]


@pytest.fixture
def grown_sqlite_outbox() -> Outbox:
    """A thousand rows sent, then two waiting and one failed, with the planner's statistics."""
    outbox = _sqlite_outbox()
    outbox.mark_sent([row.seq for row in _rows(outbox, 1000)])
    *_, failed = _rows(outbox, 3)
    outbox.mark_failed(failed.seq, "too large")
    outbox.db.execute("ANALYZE")
    return outbox


def _plans(outbox: Outbox, *queries) -> list[str]:
    """SQLite's plan for the statement each query runs, as it ran it."""
    with statements_run(outbox.db) as statements:
        for query in queries:
            query()
    return [" ".join(row[-1] for row in outbox.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            for sql in statements]


def test_the_relay_and_the_backlog_read_only_unsent_rows_through_their_partial_index(
        grown_sqlite_outbox):
    outbox = grown_sqlite_outbox
    relay_at_start, stranded, backlog = _plans(
        outbox, outbox.unsent_seqs, lambda: outbox.unsent_seqs(created_before=time.time()),
        outbox.unsent_count)
    assert relay_at_start == stranded == backlog == "SCAN outbox USING INDEX outbox_unsent"


def test_the_unsent_index_holds_only_rows_not_yet_sent_however_many_were_sent(
        grown_sqlite_outbox):
    [[entries]] = grown_sqlite_outbox.db.execute(
        "SELECT stat FROM sqlite_stat1 WHERE idx = 'outbox_unsent'").fetchall()
    assert int(entries.split()[0]) == 3  # the two waiting and the failed one
