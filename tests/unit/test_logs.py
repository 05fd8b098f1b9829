"""The log lines: one JSON object each, and a group commit's lines written together."""

import io
import json
import logging
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.logs import JsonFormatter, LineHandler, one_write


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


@pytest.fixture
def logged():
    stream, root = CountingStream(), logging.getLogger()
    handler, saved = LineHandler(stream), root.handlers[:]
    handler.setFormatter(JsonFormatter("inventory_service"))
    root.handlers[:] = [handler]
    yield stream
    root.handlers[:] = saved


def test_a_line_is_written_at_once_outside_a_group_commit(logged):
    logging.getLogger("shared.processing").warning("dead-lettered", extra={"topic": "T"})
    line = json.loads(logged.getvalue())
    assert logged.flushes == 1
    assert (line["level"], line["service"], line["message"], line["topic"]) == (
        "WARNING", "inventory_service", "dead-lettered", "T")


def test_a_group_commits_lines_go_out_in_one_write_when_it_ends(logged):
    log = logging.getLogger("shared.processing")
    with one_write():
        for n in range(3):
            log.warning("handled", extra={"order_id": f"ord-{n}"})
        assert logged.flushes == 0
    assert logged.flushes == 1
    assert [json.loads(line)["order_id"] for line in logged.getvalue().splitlines()] == [
        "ord-0", "ord-1", "ord-2"]


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_the_time_is_iso_8601_utc_to_the_millisecond_as_datetime_writes_it(created):
    assert JsonFormatter("s")._time(created) == datetime.fromtimestamp(created, UTC).isoformat(
        timespec="milliseconds")


def test_values_json_has_no_type_for_are_written_as_their_str_and_huge_integers_still_log(logged):
    from decimal import Decimal
    log = logging.getLogger("shared.processing")
    log.warning("odd", extra={"when": datetime(2026, 12, 5, 12, tzinfo=UTC),
                              "amount": Decimal("19.90"), "big": 2**70})
    line = json.loads(logged.getvalue())
    assert (line["when"], line["amount"], line["big"]) == (
        "2026-12-05 12:00:00+00:00", "19.90", 2**70)
