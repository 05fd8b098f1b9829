"""SQLite off the event loop: one writer thread, a few reader threads.

Guarantees:
* every write of a service happens on **one thread** that owns the write connection, so
  transactions never contend for the lock and the event loop never waits for SQLite or an
  fsync: it only awaits the result;
* readers (the HTTP views) use their own read-only connections on their own threads: in WAL
  mode they see the last committed state and never block the writer, nor it them.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from shared.db import open_database, open_reader

T = TypeVar("T")


class SqliteWriter:
    """Runs callables on the writer thread with the write connection as first argument."""

    def __init__(self, path: Path | str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self.db: sqlite_utils.Database = self._executor.submit(open_database, path).result()

    def run_sync(self, function: Callable[..., T], *args: object) -> T:
        """For start-up, before the event loop runs (creating tables, say)."""
        return self._executor.submit(function, self.db, *args).result()

    async def run(self, function: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(
            function, self.db, *args))

    async def call(self, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` on the writer thread (it holds the connection itself)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    def close(self) -> None:
        self._executor.submit(self.db.close).result()
        self._executor.shutdown()


class SqliteReaders:
    """Read-only connections, one per reader thread, opened on first use."""

    def __init__(self, path: Path | str, threads: int = 4) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sqlite-reader")

    def _db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_reader(self.path)
            with self._lock:
                self._connections.append(db.conn)
        return db

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(db, *args)`` on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: function(self._db(), *args))

    def close(self) -> None:
        self._executor.shutdown()
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
