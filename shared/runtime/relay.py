"""The outbox relay: publishes committed outbox rows to Kafka, in commit order.

Guarantees: at-least-once publication of every committed row; a row is marked
sent only after the broker acknowledged it (idempotent producer, acks=all).
Woken right after each local commit, so a saga never waits for a polling
interval; polls anyway as a safety net. Every send is bounded by
``send_timeout``: a broker outage delays publication, it never hangs the
service, and the producer is recreated after a failure (a wedged idempotent
producer does not recover by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import sqlite_utils
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.db import write_transaction
from shared.faults import CrashPoints
from shared.outbox import Outbox, OutgoingMessage
from shared.runtime.waiting import sleep_or_stop, wait_for_any
from shared.settings import Settings

log = logging.getLogger(__name__)
BATCH = 200


class OutboxRelay:
    def __init__(self, settings: Settings, db: sqlite_utils.Database,
                 crash_points: CrashPoints | None = None) -> None:
        self.settings = settings
        self.outbox = Outbox(db)
        self.db = db
        self.crash_points = crash_points or CrashPoints(None)
        self._wakeup = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.published = 0

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, stopping: asyncio.Event) -> None:
        failures = 0
        try:
            while not stopping.is_set():
                self._wakeup.clear()
                try:
                    await self.publish_pending()
                    failures = 0
                except Exception as error:  # the relay must outlive any single failure
                    failures += 1
                    log.warning("publishing failed; recreating the producer",
                                exc_info=not isinstance(error, KafkaError | OSError | TimeoutError),
                                extra={"error": repr(error), "failures": failures})
                    await self._close_producer()
                    await sleep_or_stop(stopping, min(10.0, 0.2 * 2 ** failures))
                    continue
                await wait_for_any(self._wakeup, stopping, timeout=self.settings.relay_poll_interval)
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                await self.publish_pending()  # flush what the last handlers committed
        finally:
            await self._close_producer()

    async def publish_pending(self) -> int:
        total = 0
        while rows := self.outbox.pending(BATCH):
            await self._publish(rows)
            total += len(rows)
        return total

    async def _publish(self, rows: list[OutgoingMessage]) -> None:
        producer = await self._ensure_producer()
        async with asyncio.timeout(self.settings.send_timeout):
            acks = [await producer.send(self.settings.topic(row.topic), row.value, key=row.key,
                                        headers=row.headers) for row in rows]
            results = await asyncio.gather(*acks, return_exceptions=True)
        sent = [row.seq for row, result in zip(rows, results, strict=True)
                if not isinstance(result, BaseException)]
        self.crash_points.reached("after_publish", *(row.topic for row in rows))
        with write_transaction(self.db):
            self.outbox.mark_sent(sent)
        self.published += len(sent)
        failed = [result for result in results if isinstance(result, BaseException)]
        if failed:
            raise failed[0]

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                client_id=self.settings.service_name, enable_idempotence=True, acks="all",
                linger_ms=2, request_timeout_ms=int(self.settings.send_timeout * 1000))
            self._producer = producer  # closed by _close_producer() even if start() fails
            async with asyncio.timeout(self.settings.send_timeout):
                await producer.start()
        return self._producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            # stop() flushes and can hang while the broker is down: bound it.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.send_timeout):
                    await producer.stop()

