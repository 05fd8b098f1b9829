"""What a layer over the database driver costs per statement: `python -m devtools.store_overhead`.

The question behind shared/store: one set of SQL for SQLite and PostgreSQL through a thin layer
of our own, or a library such as SQLAlchemy Core. Each way runs the inbox's claim (an INSERT
that ignores a duplicate), ``--statements`` times in one transaction, on a SQLite file (WAL,
synchronous=FULL) and on a PostgreSQL database (a throwaway local server), and prints
microseconds of CPU per statement. SQLAlchemy is not a dependency of the project: install it
(``pip install sqlalchemy``) to include it; without it, its rows are skipped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from localpostgres import LocalPostgres
from shared.store import open_database
from shared.store.postgres import PostgresDatabase

CLAIM = ("INSERT INTO inbox (event_id, event_type, order_id, received_at) VALUES (?, ?, ?, ?) "
         "ON CONFLICT DO NOTHING")
TABLE = ("CREATE TABLE inbox (event_id TEXT, event_type TEXT, order_id TEXT, "
         "received_at DOUBLE PRECISION, PRIMARY KEY (event_type, event_id))")


def _timed(statements: int, begin: Callable, run: Callable, commit: Callable) -> float:
    rows = [(uuid.uuid4().hex, "OrderCreated", f"ord-{n}", 1.0) for n in range(statements)]
    begin()
    started = time.process_time()
    for row in rows:
        run(row)
    spent = time.process_time() - started
    commit()
    return spent / statements * 1e6


def sqlite_ways(path: Path, statements: int) -> dict[str, float]:
    db = open_database(path)
    db.execute(TABLE)
    raw = db.conn
    found = {"driver (sqlite3)": _timed(statements, lambda: raw.execute("BEGIN IMMEDIATE"),
                                        lambda row: raw.execute(CLAIM, row),
                                        lambda: raw.execute("COMMIT")),
             "shared.store": _timed(statements, lambda: db.execute("BEGIN IMMEDIATE"),
                                    lambda row: db.execute(CLAIM, row),
                                    lambda: db.execute("COMMIT"))}
    db.close()
    return {**found, **_sqlalchemy(f"sqlite:///{path}", statements)}


def postgres_ways(url: str, password: str, statements: int) -> dict[str, float]:
    db = PostgresDatabase(url, password)
    db.execute(TABLE)
    raw, claim = db.conn, CLAIM.replace("?", "%s")
    found = {"driver (psycopg)": _timed(statements, lambda: raw.execute("BEGIN"),
                                        lambda row: raw.execute(claim, row),
                                        lambda: raw.execute("COMMIT")),
             "shared.store": _timed(statements, lambda: db.execute("BEGIN"),
                                    lambda row: db.execute(CLAIM, row),
                                    lambda: db.execute("COMMIT"))}
    db.close()
    return {**found, **_sqlalchemy(url.replace("postgresql://", "postgresql+psycopg://").replace(
        "@", f":{password}@", 1), statements)}


def _sqlalchemy(url: str, statements: int) -> dict[str, float]:
    try:
        import sqlalchemy as sa
    except ImportError:
        return {}
    engine = sa.create_engine(url)
    table = sa.Table("inbox", sa.MetaData(), autoload_with=engine)
    insert = (sa.dialects.sqlite.insert if url.startswith("sqlite") else
              sa.dialects.postgresql.insert)(table).on_conflict_do_nothing()
    text = sa.text(CLAIM.replace("?", ":p").replace(":p, :p, :p, :p",
                                                    ":event_id, :event_type, :order_id, :received_at"))
    found = {}
    for label, statement in (("SQLAlchemy Core, text()", text),
                             ("SQLAlchemy Core, insert().on_conflict_do_nothing()", insert)):
        with engine.connect() as connection:
            open_transactions = []

            def run(row, connection=connection, statement=statement):
                connection.execute(statement, dict(zip(
                    ("event_id", "event_type", "order_id", "received_at"), row, strict=True)))
            found[label] = _timed(
                statements, lambda c=connection, t=open_transactions: t.append(c.begin()), run,
                lambda t=open_transactions: t.pop().commit())
    engine.dispose()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.store_overhead",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=5000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="store-overhead-") as directory:
        results = {"sqlite": sqlite_ways(Path(directory) / "inbox.db", args.statements)}
    with LocalPostgres(durable=True) as server:
        databases = server.create_databases(f"o{uuid.uuid4().hex[:8]}")
        url = databases.url_for("inventory_service")
        try:
            results["postgres"] = postgres_ways(url, databases.password_for("inventory_service"),
                                                args.statements)
        except psycopg.Error as error:
            print(f"postgres: {error}", file=sys.stderr)
    for dialect, ways in results.items():
        for way, micros in ways.items():
            print(f"{dialect:<9} {way:<52} {micros:7.1f} µs CPU per statement")
    return 0


if __name__ == "__main__":
    sys.exit(main())
