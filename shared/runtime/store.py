"""The store off the event loop: one writer thread, a few reader threads.

Guarantees:
* every write of an instance happens on **one thread** that owns the write connection, so the
  event loop never waits for the database or an fsync: it only awaits the result (on SQLite
  that also means transactions never contend for the file's lock);
* readers (the HTTP views) use their own read-only connections on their own threads: they see
  the last committed state and never block the writer (WAL on SQLite), nor it them.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from shared.store import Database, Store

T = TypeVar("T")


class StoreWriter:
    """Runs callables on the writer thread with the write connection as first argument."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self.db: Database = self._executor.submit(store.open_writer).result()

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


class StoreReaders:
    """Read-only connections, one per reader thread, opened on first use."""

    def __init__(self, store: Store, threads: int = 4) -> None:
        self.store = store
        self._local = threading.local()
        self._connections: list[Database] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="store-reader")

    def _db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self.store.open_reader()
            with self._lock:
                self._connections.append(db)
        return db

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(db, *args)`` on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: function(self._db(), *args))

    def close(self) -> None:
        self._executor.shutdown()
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
