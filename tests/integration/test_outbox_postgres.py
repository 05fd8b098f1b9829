"""The outbox (and the inbox) on PostgreSQL held to the same promises as on SQLite: the
store-neutral tests of tests/unit/test_outbox.py and test_inbox_and_outbox.py run here against
a real server, and the outbox's queries use the index of unsent rows there too."""

import json
import time

import pytest

from shared.outbox import Outbox
from shared.processing import create_all_tables
from shared.store.postgres import PostgresDatabase
from tests.unit.test_inbox_and_outbox import (  # noqa: F401  (collected here, on PostgreSQL)
    test_a_raw_message_gets_an_id_and_a_time_of_its_own,
    test_an_event_id_is_claimed_once_with_its_type_and_order,
    test_an_event_is_added_under_its_own_id_and_key_and_comes_back_as_it_went_in,
    test_pruning_every_sent_row_never_lets_a_new_row_reuse_an_old_seq,
    test_pruning_the_inbox_forgets_only_entries_older_than_the_retention,
    test_pruning_the_inbox_without_a_time_counts_from_now,
    test_pruning_the_outbox_removes_only_rows_sent_before_the_retention,
    test_pruning_the_outbox_without_a_time_counts_from_now_and_keeps_unsent_rows,
    test_sent_and_failed_rows_are_no_longer_pending_and_failed_ones_say_why,
    test_unsent_rows_come_oldest_first_and_only_those_committed_before_a_time_when_asked,
)
from tests.unit.test_outbox import (  # noqa: F401  (collected here, on PostgreSQL)
    test_a_message_is_as_large_as_its_key_value_and_header_names_and_values,
    test_a_message_without_a_key_or_headers_is_as_large_as_its_value,
    test_an_outgoing_message_cannot_be_changed_once_made,
    test_failed_rows_are_listed_oldest_first_with_what_an_operator_needs,
    test_the_backlog_counts_exactly_the_rows_neither_sent_nor_failed,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def db(postgres_databases):
    """A service's PostgreSQL database with the plumbing's tables, as a service opens it."""
    db = PostgresDatabase(postgres_databases.url_for("order_service"),
                          postgres_databases.password_for("order_service"))
    create_all_tables(db, lambda db: None)
    yield db
    db.close()


@pytest.fixture
def outbox(db):
    return Outbox(db)


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
