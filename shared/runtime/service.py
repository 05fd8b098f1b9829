"""One running service: consumer, retry worker, outbox relay and HTTP, until SIGTERM.

Shutdown order matters: first stop taking new work (consumer, retry worker,
HTTP), then let the relay publish what those last transactions committed, then
close the database. A consumer that stops making progress is restarted by a
watchdog.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from shared.choreography import ServiceSpec
from shared.db import open_database, write_transaction
from shared.deadletters import DeadLetters
from shared.faults import CrashPoints, FaultInjector
from shared.inbox import Inbox
from shared.logs import configure_logging
from shared.outbox import Outbox
from shared.processing import EventProcessor, create_all_tables
from shared.retry import Backoff, RetryQueue
from shared.runtime.consumer import EventConsumer
from shared.runtime.dispatcher import Dispatcher
from shared.runtime.http import HttpServer, operational_app
from shared.runtime.relay import OutboxRelay
from shared.runtime.topics import ensure_topics
from shared.runtime.waiting import sleep_or_stop
from shared.settings import Settings
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
HOUSEKEEPING_INTERVAL = 3600.0


class ServiceRuntime:
    def __init__(self, settings: Settings, spec: ServiceSpec,
                 uow_class: Callable[..., UnitOfWork], create_tables: Callable) -> None:
        self.settings, self.spec, self.uow_class = settings, spec, uow_class
        self.db = open_database(settings.database_path)
        create_all_tables(self.db, create_tables)
        self.crash_points = CrashPoints(settings.crash_point)
        self.relay = OutboxRelay(settings, self.db, self.crash_points)
        self.dispatcher = Dispatcher(spec, self.new_uow, FaultInjector(settings.fault_rate))
        self.processor = EventProcessor(
            self.db, self.dispatcher,
            DeadLetters(self.db, spec.name, settings.consumer_group),
            max_attempts=settings.retry_max_attempts,
            backoff=Backoff(settings.retry_base_delay, settings.retry_max_delay),
            max_message_bytes=settings.max_message_bytes, crash_points=self.crash_points,
            on_dead_letter=self.relay.wake)
        self.app = operational_app(spec.name, self.status, self.parked)
        self.http = HttpServer(self.app, settings.http_host, settings.http_port)
        self.consumer: EventConsumer | None = None
        self.started = asyncio.Event()
        self.stopping = asyncio.Event()

    def new_uow(self) -> UnitOfWork:
        return self.uow_class(self.db, on_commit=self.relay.wake, crash_points=self.crash_points)

    def status(self) -> dict:
        consumer = self.consumer
        return {"service": self.spec.name, "ready": self.started.is_set(),
                "assigned_partitions": len(consumer.assigned) if consumer else 0,
                "outbox_unsent": Outbox(self.db).unsent_count(),
                "retry_queue": RetryQueue(self.db).counts(), "published": self.relay.published}

    def parked(self) -> list[dict]:
        return [{"order_key": q.order_key, "event_id": q.event_id, "topic": q.delivery.topic,
                 "partition": q.delivery.partition, "offset": q.delivery.offset,
                 "attempts": q.attempts, "error": q.last_error}
                for q in RetryQueue(self.db).parked()]

    async def run(self, *, handle_signals: bool = True) -> None:
        if handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
        await ensure_topics(self.settings)
        relay_stopping = asyncio.Event()
        relay = asyncio.create_task(self.relay.run(relay_stopping))
        workers = [asyncio.create_task(coroutine) for coroutine in (
            self._consume_with_watchdog(), self._retry_due_events(),
            self.http.serve(self.stopping), self._housekeeping())]
        try:
            await self._mark_started(workers)
            await asyncio.gather(*workers)
        finally:
            self.stopping.set()
            await asyncio.gather(*workers, return_exceptions=True)
            relay_stopping.set()
            await relay
            self.db.close()
            log.info("stopped", extra={"service": self.spec.name})

    async def _mark_started(self, workers: list[asyncio.Task]) -> None:
        while self.http.port is None or self.consumer is None or not self.consumer.started:
            failed = [task for task in workers if task.done()]
            if failed:
                return
            await asyncio.sleep(0.05)
        self.started.set()
        log.info("started", extra={"service": self.spec.name, "http": self.http.url,
                                   "topics": len(self.spec.consumes)})

    async def _consume_with_watchdog(self) -> None:
        event_types = [payload.event_type() for payload in self.spec.consumes]
        while not self.stopping.is_set():
            self.consumer = EventConsumer(self.settings, event_types, self.processor,
                                          self.crash_points)
            task = asyncio.create_task(self.consumer.run(self.stopping))
            while not task.done():
                await asyncio.wait([task], timeout=1.0)
                if time.monotonic() - self.consumer.last_progress > self.settings.watchdog_timeout:
                    log.error("consumer stalled; restarting it",
                              extra={"stalled_for": self.settings.watchdog_timeout})
                    task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
            except Exception:
                log.exception("consumer failed; restarting it")
                await sleep_or_stop(self.stopping, 2.0)

    async def _retry_due_events(self) -> None:
        while not self.stopping.is_set():
            if self.processor.retry_due():
                await asyncio.sleep(0)
                continue
            wait = self.processor.queue.seconds_until_next()
            await sleep_or_stop(self.stopping, 1.0 if wait is None else min(wait, 1.0))

    async def _housekeeping(self) -> None:
        while not self.stopping.is_set():
            with write_transaction(self.db):
                Inbox(self.db).prune(self.settings.inbox_retention_days)
                Outbox(self.db).prune_sent(older_than_days=1.0)
            await sleep_or_stop(self.stopping, HOUSEKEEPING_INTERVAL)


def run_service(name: str, bootstrap: Callable[[Settings], ServiceRuntime]) -> None:
    """The console-script entry point shared by all five services."""
    settings = Settings(service_name=name)
    configure_logging(settings)
    asyncio.run(bootstrap(settings).run())
