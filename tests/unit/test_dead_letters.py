"""Dead letters say why, where from, who gave up and when, and always fit in one message."""

import json
from datetime import datetime

import pytest

import shared.deadletters
from sagactl.letters import DeadLetter
from sagactl.replay import origin
from shared.deadletters import (
    MAX_DEAD_LETTER_BYTES,
    MAX_DEAD_LETTER_KEY_BYTES,
    DeadLetters,
    Delivery,
    dead_letter_headers,
)
from shared.outbox import Outbox
from shared.store import open_database


class FrozenDatetime(datetime):
    """``datetime`` whose ``now`` is always the same moment (in the zone asked for)."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=tz)


@pytest.fixture
def db(monkeypatch):
    monkeypatch.setattr(shared.deadletters, "datetime", FrozenDatetime)
    db = open_database(":memory:")
    Outbox.create(db)
    return db


def _letter(db, value: bytes | None = b"{oops", key: bytes | None = b"ord-1",
            reason: str = "not valid UTF-8 JSON", attempts: int | None = None) -> dict:
    delivery = Delivery("OrderCreated", 2, 41, key, value)
    options = {} if attempts is None else {"attempts": attempts}
    DeadLetters("inventory_service", "inventory-group").add(db, delivery, kind="malformed",
                                                            reason=reason, **options)
    row = db.execute("SELECT topic, key, value, headers FROM outbox ORDER BY seq DESC").fetchone()
    return {"topic": row[0], "key": row[1], "value": row[2], "headers": dict(json.loads(row[3]))}


def _size(letter: dict) -> int:
    return len(letter["key"] or b"") + len(letter["value"]) + sum(
        len(name) + len(text.encode()) for name, text in letter["headers"].items())


def test_a_dead_letter_says_why_where_from_who_gave_up_and_when(db):
    letter = _letter(db)
    assert (letter["topic"], letter["key"], letter["value"]) == ("OrderCreated.DLT", b"ord-1",
                                                                 b"{oops")
    assert letter["headers"] == {
        "dlt.reason": "not valid UTF-8 JSON", "dlt.kind": "malformed",
        "dlt.source.topic": "OrderCreated", "dlt.source.partition": "2",
        "dlt.source.offset": "41", "dlt.service": "inventory_service",
        "dlt.group": "inventory-group", "dlt.attempts": "0",
        "dlt.time": "2026-11-25T10:00:00.123456+00:00"}


def test_a_letter_counts_the_attempts_made_and_keeps_five_hundred_characters_of_reason(db):
    headers = _letter(db, reason="x" * 600, attempts=5)["headers"]
    assert headers["dlt.attempts"] == "5" and headers["dlt.reason"] == "x" * 500


def test_headers_written_without_attempts_say_there_were_none():
    headers = dict(dead_letter_headers(Delivery("OrderCreated", 0, 1, None, b""), kind="invalid",
                                       reason="r", service="s", group="g"))
    assert headers["dlt.attempts"] == "0"


def test_a_tombstone_is_dead_lettered_with_an_empty_value(db):
    letter = _letter(db, value=None)
    assert letter["value"] == b"" and "dlt.truncated-from" not in letter["headers"]


def test_a_key_at_the_limit_is_kept_whole_and_a_longer_one_is_cut(db):
    at_limit = _letter(db, key=b"k" * MAX_DEAD_LETTER_KEY_BYTES)
    assert at_limit["key"] == b"k" * MAX_DEAD_LETTER_KEY_BYTES
    assert "dlt.key-truncated-from" not in at_limit["headers"]
    longer = _letter(db, key=b"k" * (MAX_DEAD_LETTER_KEY_BYTES + 1))
    assert longer["key"] == b"k" * MAX_DEAD_LETTER_KEY_BYTES
    assert longer["headers"]["dlt.key-truncated-from"] == str(MAX_DEAD_LETTER_KEY_BYTES + 1)


def test_a_value_cut_to_fit_beside_a_long_key_leaves_64_bytes_for_the_header_saying_so(db):
    letter = _letter(db, key=b"k" * MAX_DEAD_LETTER_KEY_BYTES, value=b"v" * 900_000)
    assert letter["headers"]["dlt.truncated-from"] == "900000"
    said_so = len("dlt.truncated-from") + len("900000")
    assert _size(letter) - said_so == MAX_DEAD_LETTER_BYTES - 64


def test_a_value_that_exactly_fits_is_kept_whole(db):
    room = len(_letter(db, value=b"v" * 900_000)["value"])  # what the cut left room for
    letter = _letter(db, value=b"w" * room)
    assert letter["value"] == b"w" * room and "dlt.truncated-from" not in letter["headers"]
    assert "dlt.truncated-from" in _letter(db, value=b"w" * (room + 1))["headers"]


def _sagactl_letter(topic: str, **headers: str) -> DeadLetter:
    found = {"dlt.source.topic": topic.removesuffix(".DLT"), "dlt.source.partition": "2",
             "dlt.source.offset": "41", **headers}
    return DeadLetter(topic, 0, 7, 0, b"ord-1", found, b"{}")


def test_a_letter_points_only_at_the_topic_it_was_dead_lettered_from():
    assert origin(_sagactl_letter("PaymentCharged.DLT")) == ("PaymentCharged", 2, 41)
    elsewhere = origin(_sagactl_letter("StockAdded.DLT", **{"dlt.source.topic": "FundsDeposited"}))
    assert "its headers send it to FundsDeposited" in elsewhere
    for outside in ("sagactl.dlq-decisions.DLT", "saga_monitor-sagas-changelog.DLT", "StockAdded"):
        assert "not the dead-letter topic of a saga topic" in origin(_sagactl_letter(outside))
    assert "no source partition" in origin(_sagactl_letter(
        "StockAdded.DLT", **{"dlt.source.offset": "-1"}))
