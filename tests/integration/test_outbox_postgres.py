"""The outbox on PostgreSQL held to the same promises as on SQLite (tests/unit/test_outbox.py
runs here against a real server), and its queries on the index of unsent rows there too."""

import json
import time

import pytest

from shared.outbox import Outbox
from shared.store.postgres import PostgresDatabase
from tests.unit.test_outbox import (  # noqa: F401  (collected here, on PostgreSQL)
    test_a_message_is_as_large_as_its_key_value_and_header_names_and_values,
    test_failed_rows_are_listed_oldest_first_with_what_an_operator_needs,
    test_the_backlog_counts_exactly_the_rows_neither_sent_nor_failed,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def outbox(postgres_databases):
    db = PostgresDatabase(postgres_databases.url_for("order_service"),
                          postgres_databases.password_for("order_service"))
    Outbox.create(db)
    yield Outbox(db)
    db.close()


def _plans(outbox: Outbox, *queries) -> list[str]:
    """PostgreSQL's plan for each statement the queries run, as they ran it."""
    ran, execute = [], outbox.db.execute
    outbox.db.execute = lambda sql, params=(): ran.append((sql, params)) or execute(sql, params)
    try:
        for query in queries:
            query()
    finally:
        outbox.db.execute = execute
    return [json.dumps(execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchall()[0][0])
            for sql, params in ran]


def test_the_relay_and_the_backlog_read_unsent_rows_through_their_partial_index(outbox):
    outbox.mark_sent([outbox.add_raw("StockAdded", b"k", b"{}", []).seq for _ in range(3000)])
    for _ in range(3):
        outbox.add_raw("StockAdded", b"k", b"{}", [])
    outbox.db.execute("ANALYZE outbox")
    plans = _plans(outbox, outbox.unsent_seqs,
                   lambda: outbox.unsent_seqs(created_before=time.time()), outbox.unsent_count)
    assert len(plans) == 3 and all('"Index Name": "outbox_unsent"' in plan for plan in plans)
