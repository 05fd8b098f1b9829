"""Each service's database: durable settings, readers that cannot write, and tables that an
existing database keeps across restarts and upgrades."""

import sqlite3

import pytest

from inventory_service.repository import create_tables as inventory_tables
from notification_service.repository import create_tables as notification_tables
from order_service.repository import create_tables as order_tables
from payment_service.repository import create_tables as payment_tables
from shared.events import StockAdded
from shared.inbox import Inbox
from shared.processing import create_all_tables
from shared.store import open_database, open_reader
from shipping_service.repository import create_tables as shipping_tables
from tests.support.builders import event, order_created

SERVICE_TABLES = (inventory_tables, notification_tables, order_tables, payment_tables,
                  shipping_tables)


def _pragma(db, name: str):
    return db.execute(f"PRAGMA {name}").fetchone()[0]


def test_a_database_file_gets_its_directories_and_the_durable_settings(tmp_path):
    path = tmp_path / "data" / "inventory" / "inventory.db"
    db = open_database(path)
    assert path.exists()
    assert _pragma(db, "journal_mode") == "wal"
    assert (_pragma(db, "synchronous"), _pragma(db, "foreign_keys")) == (2, 1)  # FULL, ON
    assert _pragma(db, "busy_timeout") == 10_000


def test_outside_a_write_transaction_each_statement_commits_on_its_own(tmp_path):
    db = open_database(tmp_path / "x.db")
    db.execute("CREATE TABLE t (n INTEGER)")
    db.execute("INSERT INTO t VALUES (1)")
    assert not db.in_transaction
    assert open_reader(tmp_path / "x.db").execute("SELECT n FROM t").fetchall() == [(1,)]


def test_a_reader_sees_what_the_writer_committed_and_cannot_write(tmp_path):
    open_database(tmp_path / "x.db").execute("CREATE TABLE t (n INTEGER)")
    reader = open_reader(tmp_path / "x.db")
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert _pragma(reader, "busy_timeout") == 10_000
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("INSERT INTO t VALUES (1)")


def test_the_plumbing_tables_keep_the_columns_existing_databases_have():
    """Services restart on databases that earlier versions wrote: a renamed column (even in
    case) would be added a second time at start-up and fail; a dropped one would lose data."""
    db = open_database(":memory:")
    create_all_tables(db, lambda db: None)
    assert list(db["inbox"].columns_dict) == ["event_id", "event_type", "order_id", "received_at"]
    assert list(db["outbox"].columns_dict) == ["seq", "message_id", "topic", "key", "value",
                                               "headers", "created_at", "sent_at", "failed_at",
                                               "error"]
    assert list(db["retry_queue"].columns_dict) == [
        "seq", "order_key", "event_id", "event_type", "value", "source_topic",
        "source_partition", "source_offset", "attempts", "status", "next_attempt_at",
        "last_error", "created_at", "traceparent"]
    assert [db[table].pks for table in ("inbox", "outbox", "retry_queue")] == [
        ["event_type", "event_id"], ["seq"], ["seq"]]


def test_reopening_a_database_creates_nothing_twice_and_changes_no_table(tmp_path):
    def schema(db) -> list:
        return db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()

    first = open_database(tmp_path / "x.db")
    for tables in SERVICE_TABLES:
        create_all_tables(first, tables)
    before = schema(first)
    first.conn.close()
    again = open_database(tmp_path / "x.db")
    for tables in SERVICE_TABLES:
        create_all_tables(again, tables)
    assert schema(again) == before


def test_a_table_an_older_version_created_gains_the_new_columns_and_keeps_its_rows():
    db = open_database(":memory:")
    db.execute("CREATE TABLE inbox (event_id TEXT PRIMARY KEY, event_type TEXT)")
    db.execute("INSERT INTO inbox VALUES ('old-event', 'OrderCreated')")
    Inbox.create(db)
    assert db["inbox"].columns_dict == {"event_id": str, "event_type": str, "order_id": str,
                                        "received_at": float}
    assert Inbox(db).claim(event(order_created())) is True
    assert [row["event_id"] for row in db["inbox"].rows][0] == "old-event"


def test_an_inbox_keyed_on_the_event_id_alone_is_migrated_to_type_and_id_and_keeps_its_rows():
    db = open_database(":memory:")
    db.execute("CREATE TABLE inbox (event_id TEXT PRIMARY KEY, event_type TEXT, order_id TEXT, "
               "received_at FLOAT)")
    applied = event(order_created())
    db.execute("INSERT INTO inbox VALUES (?, 'OrderCreated', 'ord-1', 1.0)", [applied.event_id])
    create_all_tables(db, lambda db: None)

    assert db["inbox"].pks == ["event_type", "event_id"]
    assert Inbox(db).claim(applied) is False
    # The same id under another type is another event (a forged one cannot hide it).
    assert Inbox(db).claim(event(StockAdded(sku="A", quantity=1), event_id=applied.event_id))
