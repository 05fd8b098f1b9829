"""A service's store: its own SQLite file (the default), or its own PostgreSQL database, shared
by every instance of the service (``SAGA_DATABASE_URL``).

Everything a service keeps — its state, inbox, outbox, retry queue and parked events — is in
its store, and every query is written once, with ``?`` placeholders, in the SQL both
databases share; a :class:`Database` (one connection) runs it as its dialect needs. The few
places where the two must differ say so through the connection: ``db.for_update`` locks the
rows a transaction is about to change (PostgreSQL, where other instances write the same rows;
nothing on SQLite, whose single writer holds the whole database), ``db.skip_locked`` lets
instances take different rows of a queue. See docs/scaling.md for why not an ORM.
"""

from __future__ import annotations

from shared.store.base import Database, InstanceInUse, Store, StoreUnreachable
from shared.store.schema import create_index, create_table
from shared.store.sqlite import SqliteDatabase, SqliteStore, open_database, open_reader


def open_store(settings) -> Store:
    """The store ``settings`` name: PostgreSQL when ``database_url`` is set, else SQLite."""
    if settings.database_url:
        from shared.store.postgres import PostgresStore  # psycopg only where it is used

        return PostgresStore(settings.service_database_url, settings.service_database_password())
    return SqliteStore(settings.database_path)


__all__ = ["Database", "InstanceInUse", "SqliteDatabase", "SqliteStore", "Store",
           "StoreUnreachable", "create_index", "create_table", "open_database", "open_reader",
           "open_store"]
