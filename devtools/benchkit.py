"""Measurements behind `make bench`: the raw Kafka hop, bursts and open-loop streams of orders,
and what each service process used.

Saga latency is read from Kafka's own record timestamps (CreateTime, set by each producer when
it sends): ``OrderCreated`` as the bench sent it → ``OrderCompleted`` as the order service's
relay sent it. The services are only ever seen from the outside (topics, ``/proc``,
``/metrics``), so the same bench measures any commit of the project.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from sagactl.kafka import partitions_of
from shared.events import Address, Event, LineItem, OrderCreated, encode
from shared.settings import Settings

BENCH_SKU = "BENCH-1"
BENCH_CUSTOMERS = [f"bench-{n}" for n in range(10)]
_ADDRESS = Address(name="Ada Lovelace", street="1 Main Street", city="Berlin", country="DE")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def per_saga_ms(cpu_seconds: float, sagas: int) -> float:
    """CPU milliseconds per saga (= CPU seconds per 1,000 sagas); 0 sagas count as one."""
    return round(cpu_seconds / max(sagas, 1) * 1000, 2)


def happy_order(order_id: str, n: int) -> bytes:
    order = OrderCreated(customer_id=BENCH_CUSTOMERS[n % len(BENCH_CUSTOMERS)],
                         items=[LineItem(sku=BENCH_SKU, quantity=1, unit_price="1.00")],
                         shipping_address=_ADDRESS)
    # Flow version 1 (no screening), said outright: every baseline release runs it too, so a
    # `--baseline` comparison measures the same saga on both (docs/performance.md).
    return encode(Event.new(order, order_id=order_id, producer="bench", saga_version=1))


async def raw_hop(bootstrap: str, topic: str, count: int = 300, warmup: int = 30,
                  linger_ms: int = 0) -> list[float]:
    """Milliseconds from send (idempotent, acks=all, the relay's linger) to receipt by a group
    consumer, one message at a time: the floor under any hop of a saga on this broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{topic}-group",
                                auto_offset_reset="latest", enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                                linger_ms=linger_ms)
    await asyncio.gather(consumer.start(), producer.start())
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await consumer.seek_to_end()
        samples = []
        for n in range(count + warmup):
            started = time.perf_counter()
            await producer.send_and_wait(topic, str(n).encode())
            while not any(await consumer.getmany(timeout_ms=1000)):
                pass
            samples.append((time.perf_counter() - started) * 1000)
        return samples[warmup:]
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())


@dataclass
class StreamResult:
    created: dict[str, int]      # order id → OrderCreated timestamp (ms)
    completed: dict[str, int]    # order id → OrderCompleted timestamp (ms)
    first_sent: float            # wall clock, seconds
    last_completed: float

    @property
    def latencies_ms(self) -> list[float]:
        return [self.completed[o] - t for o, t in self.created.items() if o in self.completed]

    @property
    def missing(self) -> int:
        return len(set(self.created) - set(self.completed))

    @property
    def sagas_per_s(self) -> float:
        done = len(set(self.created) & set(self.completed))
        return done / max(self.last_completed - self.first_sent, 1e-9)


class OrderStream:
    """Publishes happy-path orders straight to ``OrderCreated`` and watches ``OrderCompleted``."""

    def __init__(self, settings: Settings, say: Callable[[str], None], ids: str = "",
                 busy: Callable[[], Awaitable[bool]] | None = None) -> None:
        """``ids`` starts every order id of :meth:`burst` and :meth:`open_loop`: a database
        that an earlier run used knows that run's orders. ``busy`` says whether the services
        still have work in hand; while they do, a wait for completions goes on even when none
        came for ``settle`` seconds (a slow mesh completes a burst's first saga only once each
        service got through its share of the burst)."""
        self.settings, self.say, self.ids, self.busy = settings, say, ids, busy
        #: order id → the OrderCompleted record's timestamp (ms), filled while the stream is open.
        self.completed: dict[str, int] = {}
        self._producer = AIOKafkaProducer(**settings.client_options(), enable_idempotence=True,
                                          acks="all", linger_ms=1)
        self._consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
        self._watcher: asyncio.Task | None = None

    async def __aenter__(self) -> OrderStream:
        topic = self.settings.topic("OrderCompleted")
        partitions = await partitions_of(self.settings, [topic])
        if not partitions:
            raise RuntimeError(f"topic {topic} does not exist: are the services running?")
        await asyncio.gather(self._producer.start(), self._consumer.start())
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        self._watcher = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._watcher.cancel()
        await asyncio.gather(self._watcher, return_exceptions=True)
        await asyncio.gather(self._producer.stop(), self._consumer.stop())

    async def send(self, order_id: str, n: int) -> asyncio.Future:
        """One happy-path order onto ``OrderCreated``; the future resolves when acknowledged."""
        return await self._producer.send(self.settings.topic("OrderCreated"),
                                         happy_order(order_id, n), key=order_id.encode())

    async def _watch(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for record in (r for records in batches.values() for r in records):
                self.completed.setdefault(record.key.decode(), record.timestamp)

    async def burst(self, tag: str, count: int, settle: float) -> StreamResult:
        """All orders at once, as fast as one producer sends them."""
        first_sent = time.time()
        ids = [f"{self.ids}{tag}-{n:06d}" for n in range(count)]
        futures = {order_id: await self.send(order_id, n) for n, order_id in enumerate(ids)}
        created = {order_id: (await future).timestamp for order_id, future in futures.items()}
        return await self._until_completed(tag, created, first_sent, settle)

    async def open_loop(self, tag: str, rate: float, seconds: float, settle: float
                        ) -> StreamResult:
        """Orders at a fixed offered rate, whatever the services manage (an open loop)."""
        count = max(1, int(rate * seconds))
        first_sent = time.time()
        start = time.perf_counter()
        futures = {}
        for n in range(count):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            order_id = f"{self.ids}{tag}-{n:06d}"
            futures[order_id] = await self.send(order_id, n)
            if n and n % int(max(rate, 1) * 5) == 0:
                done = sum(1 for o in futures if o in self.completed)
                self.say(f"  {rate:g}/s: sent {n + 1}/{count}, completed {done}")
        created = {order_id: (await future).timestamp for order_id, future in futures.items()}
        return await self._until_completed(tag, created, first_sent, settle)

    async def _until_completed(self, tag: str, created: dict[str, int], first_sent: float,
                               settle: float) -> StreamResult:
        """Wait until every order completed, or nothing completed for ``settle`` seconds while
        the services had nothing in hand."""
        last_count, last_change, last_report = -1, time.monotonic(), 0.0
        while True:
            done = sum(1 for order_id in created if order_id in self.completed)
            now = time.monotonic()
            if done != last_count:
                last_count, last_change = done, now
            if done == len(created):
                break
            if now - last_change > settle:
                if self.busy is None or not await self.busy():
                    break
                last_change = now
            if now - last_report > 2:
                self.say(f"  {tag}: {done}/{len(created)} completed")
                last_report = now
            await asyncio.sleep(0.05)
        finished = [self.completed[o] for o in created if o in self.completed]
        return StreamResult(created, {o: self.completed[o] for o in created if o in self.completed},
                            first_sent, max(finished, default=first_sent * 1000) / 1000)


@dataclass(frozen=True)
class ProcessUsage:
    cpu_seconds: float
    peak_rss_mb: float


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name: [0] state, [1] ppid, [11] utime,
    [12] stime, [13] cutime, [14] cstime (clock ticks), [16] nice."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_usage(pid: int) -> ProcessUsage:
    """CPU seconds so far (user + system) and peak resident memory, from /proc."""
    fields = _stat(pid)
    ticks = int(fields[11]) + int(fields[12])
    status = Path(f"/proc/{pid}/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmHWM:"))
    return ProcessUsage(ticks / os.sysconf("SC_CLK_TCK"), peak_kb / 1024)


def nice_of(pid: int) -> int:
    """The nice value a process runs at (of its main thread)."""
    return int(_stat(pid)[16])


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds so far of a process and its children, living and exited (once it reaped
    them): a PostgreSQL server, whose postmaster forks a backend per connection."""
    fields = _stat(pid)
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                child = _stat(int(entry.name))
            except OSError:  # gone meanwhile: its CPU is in the parent's cutime once reaped
                continue
            if int(child[1]) == pid:
                ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")
