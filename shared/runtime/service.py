"""One running service: consumer, retry worker, outbox relay and HTTP, until SIGTERM.

Threads: the event loop runs Kafka, HTTP and the timers; one writer thread owns the write
connection and runs every transaction (group commits, retries, API commands); a few reader
threads serve the HTTP views. Shutdown order matters: first stop taking new work (consumer,
retry worker, HTTP), then let the relay publish what those last transactions committed,
then close the database. A consumer that stops making progress — as a whole, or on one
partition behind its end — is restarted by a watchdog.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from shared.choreography import ServiceSpec
from shared.deadletters import DLT_SUFFIX, DeadLetters
from shared.faults import CrashPoints, FaultInjector
from shared.inbox import Inbox
from shared.logs import configure_logging
from shared.metrics import ServiceMetrics
from shared.outbox import Outbox
from shared.processing import EventProcessor, create_all_tables
from shared.retry import Backoff, RetryQueue
from shared.runtime.consumer import EventConsumer
from shared.runtime.dispatcher import Dispatcher
from shared.runtime.http import HttpServer, guards, operational_app
from shared.runtime.relay import OutboxRelay
from shared.runtime.store import StoreReaders, StoreWriter
from shared.runtime.topics import BrokerUnreachable, TopicsRefused, ensure_topics
from shared.runtime.waiting import sleep_or_stop
from shared.saga import LATEST_VERSION
from shared.settings import Settings, load
from shared.store import InstanceInUse, StoreUnreachable, open_store
from shared.tracing import Tracing
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
HOUSEKEEPING_INTERVAL = 3600.0


class ServiceRuntime:
    consumer_class = EventConsumer
    #: How often the watchdog looks at the consumer, the retry worker's pause after an error,
    #: and the pause before a crashed consumer is replaced (seconds). Class attributes so that
    #: tests can make them short.
    watchdog_check_interval = 1.0
    retry_error_pause = 1.0
    consumer_restart_pause = 2.0

    def __init__(self, settings: Settings, spec: ServiceSpec,
                 uow_class: Callable[..., UnitOfWork], create_tables: Callable) -> None:
        token = settings.api_token_value()
        if token is None and settings.kafka_security_protocol == "SASL_SSL":
            raise SystemExit(f"{spec.name}: secure mode needs an API token (SAGA_API_TOKEN or "
                             "SAGA_API_TOKEN_FILE): its HTTP routes are behind it")
        #: Dependencies of the routes that write and of those that read (bootstrap.py's too).
        self.writes, self.reads = guards(token, settings.reads_need_token)
        self.settings, self.spec, self.uow_class = settings, spec, uow_class
        self.store = open_store(settings)
        self.store.claim_instance(spec.name, settings.instance)
        self.writer = StoreWriter(self.store)
        self.writer.run_sync(_migrate, self.store, create_tables)
        self.readers = StoreReaders(self.store)
        self.metrics = ServiceMetrics()
        self.metrics.instance.labels(spec.name, settings.instance, self.store.dialect).set(1)
        self.crash_points = CrashPoints(settings.crash_point)
        self.tracing = Tracing(spec.name, settings.otlp_endpoint, settings.trace_sample_ratio)
        self.relay = OutboxRelay(settings, self.writer, self.metrics, self.crash_points)
        self.dispatcher = Dispatcher(spec, self.new_uow, FaultInjector(settings.fault_rate))
        self.processor = EventProcessor(
            self.writer.db, self.dispatcher, DeadLetters(spec.name, settings.consumer_group),
            max_attempts=settings.retry_max_attempts,
            backoff=Backoff(settings.retry_base_delay, settings.retry_max_delay),
            max_message_bytes=settings.max_message_bytes, crash_points=self.crash_points,
            metrics=self.metrics, tracing=self.tracing)
        self.app = operational_app(spec.name, self.status, self.parked, self.retry_parked,
                                   self.metrics, writes=self.writes, reads=self.reads,
                                   allowed_hosts=settings.allowed_hosts)
        self.http = HttpServer(self.app, settings.http_host, settings.http_port)
        self.consumer: EventConsumer | None = None
        #: Consumers in a row that ended with an error before deciding anything.
        self.consumer_crashes = 0
        self.started = asyncio.Event()
        self.stopping = asyncio.Event()

    def new_uow(self) -> UnitOfWork:
        return self.uow_class(self.writer.db, crash_points=self.crash_points,
                              instance=self.settings.instance,
                              saga_version=self.settings.flow_version or LATEST_VERSION)

    async def execute(self, command: Callable[..., Any], order_id: str, *args: Any) -> Any:
        """``command(order_id, *args, uow)`` as one transaction on the writer thread (an API
        call), in a span of the order's trace; the events it added go straight to the relay."""
        uow = self.new_uow()
        with self.tracing.originating(command.__name__.replace("_", " "), order_id) as headers:
            uow.headers = headers
            result = await self.writer.call(command, order_id, *args, uow)
        self.relay.hand_over(uow.messages)
        return result

    async def status(self) -> dict:
        unsent, failed, queued = await self.readers.run(_outbox_and_queue)
        consumer = self.consumer
        # A consumer that ends with an error is replaced by a fresh one: count those in a row
        # until one makes progress, or a crash loop would look healthy.
        crashes = 0 if consumer is not None and consumer.decided else self.consumer_crashes
        failing = (consumer is not None and consumer.failing) or crashes >= 3
        # A topic the relay has not been able to write for this long needs a person.
        relay_stuck = self.relay.held.failing_longer_than(self.settings.watchdog_timeout)
        self.metrics.retry_queue.labels("WAITING").set(queued["WAITING"])
        self.metrics.retry_queue.labels("PARKED").set(queued["PARKED"])
        return {"service": self.spec.name, "instance": self.settings.instance,
                "store": self.store.describe(),
                "ready": self.started.is_set() and not failing and not relay_stuck,
                "assigned_partitions": len(consumer.assigned) if consumer else 0,
                "consumer": {"failing": failing,
                             "consecutive_failures": consumer.failures if consumer else 0,
                             "consecutive_crashes": crashes,
                             "last_error": consumer.last_error if consumer else "",
                             "stalled_partitions": _named(consumer.stalled_partitions())
                             if consumer else {}},
                "outbox_unsent": unsent, "outbox_failed": failed, "retry_queue": queued,
                "published": self.relay.published,
                "relay_failing_since": self.relay.failing_since,
                "relay_held_topics": self.relay.held.report()}

    async def parked(self) -> list[dict]:
        return await self.readers.run(_parked)

    async def retry_parked(self, event_id: str) -> bool:
        """Revive a parked event in place; the retry worker takes it from there."""
        return await self.writer.run(_revive, event_id)

    async def run(self, *, handle_signals: bool = True) -> None:
        if handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
        try:
            await ensure_topics(self.settings, self._own_topics())
            relay_stopping = asyncio.Event()
            relay = asyncio.create_task(self.relay.run(relay_stopping))
            workers = [asyncio.create_task(coroutine) for coroutine in (
                self._consume_with_watchdog(), self._retry_due_events(),
                self.http.serve(self.stopping), self._housekeeping(),
                *([self._fire_timers()] if self.spec.timeouts else []))]
            try:
                await self._mark_started(workers)
                await asyncio.gather(*workers)
            finally:
                self.stopping.set()
                await asyncio.gather(*workers, return_exceptions=True)
                relay_stopping.set()
                await relay
        finally:
            self.close()
            log.info("stopped", extra={"service": self.spec.name})

    def close(self) -> None:
        """Connections closed, and this instance's name free for the next process."""
        self.readers.close()
        self.writer.close()
        self.store.release_instance()
        self.tracing.shutdown()

    def _own_topics(self) -> list[str]:
        """What this service reads, writes and dead-letters to: the topics it creates if
        missing (in secure mode it may only make sure they exist; the setup creates them)."""
        consumed = self.spec.consumed_topics
        emitted = [payload.event_type() for payload in self.spec.emits]
        return list(dict.fromkeys([*consumed, *emitted, *(t + DLT_SUFFIX for t in consumed)]))

    async def _mark_started(self, workers: list[asyncio.Task]) -> None:
        while self.http.port is None or self.consumer is None or not self.consumer.started:
            if any(task.done() for task in workers):
                return
            await asyncio.sleep(0.05)
        self.started.set()
        log.info("started", extra={"service": self.spec.name, "http": self.http.url,
                                   "topics": len(self.spec.consumes)})

    def _new_consumer(self) -> EventConsumer:
        return self.consumer_class(
            self.settings, self.spec.consumed_topics,
            self.writer, self.processor, self.relay.hand_over, metrics=self.metrics,
            crash_points=self.crash_points)

    async def _consume_with_watchdog(self) -> None:
        while not self.stopping.is_set():
            self.consumer = self._new_consumer()
            task = asyncio.create_task(self.consumer.run(self.stopping))
            while not task.done():
                await asyncio.wait([task], timeout=self.watchdog_check_interval)
                stall = _stall(self.consumer, self.settings.watchdog_timeout)
                if not task.done() and stall:
                    reason, details = stall
                    log.error("consumer stalled; restarting it", extra=details)
                    self.metrics.consumer_restarts.labels(reason).inc()
                    await _cancel_once(task, grace=self.settings.send_timeout + 5)
                    break
            if not task.done():
                continue  # abandoned (logged): a new consumer takes over
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
            except Exception as error:
                self.consumer_crashes = 1 if self.consumer.decided else self.consumer_crashes + 1
                self.consumer.last_error = f"{type(error).__name__}: {error}"[:300]
                log.exception("consumer failed; restarting it",
                              extra={"consecutive_crashes": self.consumer_crashes})
                await sleep_or_stop(self.stopping, self.consumer_restart_pause)

    async def _retry_due_events(self) -> None:
        """The retry worker: survives any error (a SQLite error, say) and tries again."""
        while not self.stopping.is_set():
            try:
                self.relay.hand_over(await self.writer.call(self.processor.retry_due))
                wait = await self.writer.call(self.processor.queue.seconds_until_next)
            except Exception:
                log.exception("retrying queued events failed; trying again shortly",
                              extra={"pause": self.retry_error_pause})
                wait = self.retry_error_pause
            await sleep_or_stop(self.stopping, 1.0 if wait is None else min(wait, 1.0))

    async def _fire_timers(self) -> None:
        """The timer worker (services that declare timeouts): every tick, the due timers; it
        survives any error and tries again."""
        while not self.stopping.is_set():
            try:
                self.relay.hand_over(await self.writer.call(self.processor.fire_due_timers))
            except Exception:
                log.exception("firing due timers failed; trying again shortly")
            await sleep_or_stop(self.stopping, self.settings.timer_tick)

    async def _housekeeping(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.writer.run(_prune, self.settings.inbox_retention_days)
            except Exception:
                log.exception("housekeeping failed")
            await sleep_or_stop(self.stopping, HOUSEKEEPING_INTERVAL)


def _stall(consumer: EventConsumer, timeout: float) -> tuple[str, dict] | None:
    """Why the consumer counts as stalled, or None: no batch at all for ``timeout`` seconds
    ("consumer"), or a partition behind its end that has not moved for that long ("partition")."""
    idle = time.monotonic() - consumer.last_progress
    if idle > timeout:
        return "consumer", {"stalled_for": round(idle, 1)}
    stuck = _named({tp: seconds for tp, seconds in consumer.stalled_partitions().items()
                    if seconds > timeout})
    return ("partition", {"partitions": stuck}) if stuck else None


async def _cancel_once(task: asyncio.Task, grace: float) -> None:
    """Cancel a task once and let its clean-up run (bounded): a second cancel would land
    inside that clean-up and cut it short."""
    task.cancel()
    await asyncio.wait([task], timeout=grace)
    if not task.done():
        log.error("a cancelled consumer did not stop in time; abandoning it",
                  extra={"grace": grace})


def _named(stalled: dict) -> dict[str, float]:
    return {f"{tp.topic}[{tp.partition}]": round(seconds, 1) for tp, seconds in stalled.items()}


def _migrate(db, store, create_tables: Callable) -> None:
    with store.migrating(db):
        create_all_tables(db, create_tables)


def _outbox_and_queue(db) -> tuple[int, int, dict[str, int]]:
    outbox = Outbox(db)
    return outbox.unsent_count(), len(outbox.failed()), RetryQueue(db).counts()


def _parked(db) -> list[dict]:
    return [{"order_key": q.order_key, "event_id": q.event_id, "topic": q.delivery.topic,
             "partition": q.delivery.partition, "offset": q.delivery.offset,
             "attempts": q.attempts, "error": q.last_error}
            for q in RetryQueue(db).parked()]


def _revive(db, event_id: str) -> bool:
    with db.transaction():
        return RetryQueue(db).revive(event_id)


def _prune(db, inbox_retention_days: float) -> None:
    with db.transaction():
        Inbox(db).prune(inbox_retention_days)
        Outbox(db).prune_sent(older_than_days=1.0)


def run_service(name: str, bootstrap: Callable[[Settings], ServiceRuntime]) -> None:
    """The console-script entry point shared by all five services."""
    settings = load(Settings, service_name=name)
    configure_logging(settings)
    try:
        asyncio.run(bootstrap(settings).run())
    except (BrokerUnreachable, TopicsRefused, InstanceInUse, StoreUnreachable) as error:
        log.error("cannot start: %s", error)
        raise SystemExit(1) from None
