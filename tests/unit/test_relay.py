"""The relay without a broker: what its look at the outbox finds, and how it holds back a
topic that refuses every send while the other topics go on."""

import time

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from shared.outbox import Outbox, OutgoingMessage
from shared.processing import create_all_tables
from shared.runtime.held import HeldTopics
from shared.runtime.relay import OutboxRelay
from shared.runtime.store import StoreWriter
from shared.settings import Settings
from shared.store import SqliteStore
from shared.testing import SimulatedClock
from tests.unit.conftest import CLOCK_START


@pytest.fixture
def relay(tmp_path):
    writer = StoreWriter(SqliteStore(tmp_path / "service.db"))
    writer.run_sync(create_all_tables, lambda db: None)
    yield OutboxRelay(Settings(service_name="inventory_service", relay_stranded_after=5.0),
                      writer)
    writer.close()


def _commit_rows(db, *topics: str) -> list[OutgoingMessage]:
    with db.transaction():
        return [Outbox(db).add_raw(topic, b"k", b"v", []) for topic in topics]


def _commit_stranded_row(db, topic: str) -> list[OutgoingMessage]:
    """Committed a minute ago, and its hand-over to the relay never happened."""
    [row] = _commit_rows(db, topic)
    db.execute("UPDATE outbox SET created_at = ? WHERE seq = ?", [time.time() - 60, row.seq])
    return [row]


async def test_the_look_for_stranded_rows_runs_however_long_the_queue_is(relay):
    await relay._poll_if_due()  # the first look, at start
    stranded = relay.writer.run_sync(_commit_stranded_row, "StockReserved")
    relay.hand_over(relay.writer.run_sync(_commit_rows, "StockReleased", "StockReserved"))
    relay._last_poll -= relay.settings.relay_poll_interval  # its timer is due

    await relay._poll_if_due()
    assert relay.backlog == 3 and stranded[0].seq in {row.seq for row in relay._queue}


async def test_rows_younger_than_the_grace_are_left_to_whoever_committed_them(relay):
    await relay._poll_if_due()
    relay.writer.run_sync(_commit_rows, "StockReserved")  # committed, hand-over on its way
    relay._last_poll -= relay.settings.relay_poll_interval

    await relay._poll_if_due()
    assert relay.backlog == 0


async def test_a_relay_with_nothing_to_send_is_not_woken_by_its_own_look_and_sleeps(relay):
    # run() clears the wake-up, looks, then waits for it: a look that sets it again for no
    # rows turned every idle relay into a busy loop (a fifth of a core per service).
    await relay.publish_pending()

    assert not relay._wakeup.is_set()
    relay.hand_over(relay.writer.run_sync(_commit_rows, "StockReserved"))
    assert relay._wakeup.is_set()


def _row(seq: int, topic: str) -> OutgoingMessage:
    return OutgoingMessage(seq, topic, b"k", b"v", [])


def test_a_held_topic_waits_with_a_growing_pause_and_keeps_its_order():
    clock = SimulatedClock(CLOCK_START)
    held = HeldTopics(clock)
    refused = TopicAuthorizationFailedError("StockAdded.DLT")
    held.hold([_row(3, "StockAdded.DLT")], refused)
    held.add(_row(7, "StockAdded.DLT"))

    assert held.holds("StockAdded.DLT") and held.due() == [] and held.count == 2
    clock.advance(0.5)
    assert [row.seq for row in held.due()] == [3, 7]
    held.hold([_row(3, "StockAdded.DLT"), _row(7, "StockAdded.DLT")], refused)
    clock.advance(0.5)
    assert held.due() == []  # the second pause is longer
    clock.advance(0.5)
    assert [row.seq for row in held.due()] == [3, 7]


def test_a_held_topic_is_reported_until_a_send_to_it_works():
    clock = SimulatedClock(CLOCK_START)
    held = HeldTopics(clock)
    held.hold([_row(1, "OrderShipped")], TopicAuthorizationFailedError("OrderShipped"))
    clock.advance(100)

    [(topic, report)] = held.report().items()
    assert (topic, report["rows"], report["tries"]) == ("OrderShipped", 1, 1)
    assert "TopicAuthorizationFailedError" in report["error"]
    assert held.failing_longer_than(90) and not held.failing_longer_than(120)
    held.due()
    held.published("OrderShipped")
    assert held.report() == {} and not held.failing_longer_than(0)
