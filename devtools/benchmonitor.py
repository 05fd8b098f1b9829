"""The saga monitor beside the mesh in `make bench`: how far its counts trail the topics.

The real monitor (``python -m saga_monitor``, from the same checkout as the services, so a
``--baseline`` run gets that commit's monitor) reads the mesh's topics from the start. It gets a
burst of its own, the same size as the throughput burst, so that neither its CPU nor the cores
it takes from the services enter the services' figures. It takes the priority its settings give
it (``SAGA_MONITOR_NICE``) where the bench's user may grant it, as in compose; the figures say
which nice value it ran at. Meanwhile its ``/api/stats`` (what a
person or a tool sees) is sampled every ``POLL_SECONDS``.

``monitor_lag_s`` is the worst trail over that burst: the burst's ``OrderCompleted`` records,
ordered by their timestamps t₁ ≤ t₂ ≤ …; for each k, the first sample at which the monitor
counted k of the burst's sagas as completed, minus t_k; the largest of these, in seconds. It
is the horizontal distance between the topic's cumulative completions and the monitor's, and
it overstates by at most one poll (plus the request).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from devtools.benchkit import OrderStream, nice_of, per_saga_ms, percentile, process_usage
from devtools.processes import Mesh, ServiceProcess

POLL_SECONDS = 0.2
#: The monitor creates its topics, joins its group and is ready only once it is assigned them all.
READY_SECONDS = 120.0


@dataclass(frozen=True)
class Trail:
    worst_s: float
    median_s: float
    caught_up: bool  # False: some sagas were never counted; worst_s is then a lower bound

    def __str__(self) -> str:
        return f"{'' if self.caught_up else '>'}{self.worst_s:.2f}"


def trail(completed_ms: Iterable[int], samples: list[tuple[float, int]]) -> Trail:
    """How long the monitor's count trailed the topic, from the completions' record timestamps
    (ms) and samples of (wall-clock seconds, sagas the monitor counts), oldest sample first.
    A saga never counted trails until the last sample."""
    times = sorted(completed_ms)
    if not times or not samples:
        return Trail(math.nan, math.nan, not times)
    trails, i = [], 0
    for k, created_ms in enumerate(times, start=1):
        while i < len(samples) and samples[i][1] < k:
            i += 1
        seen_at = samples[min(i, len(samples) - 1)][0]
        trails.append(max(0.0, seen_at - created_ms / 1000))
    return Trail(round(max(trails), 3), round(percentile(trails, 50), 3), i < len(samples))


def start(mesh: Mesh, code_dir: Path | None, say: Callable[[str], None]
          ) -> ServiceProcess | None:
    """The monitor of the same checkout on the mesh's broker and topics, once it is ready. An
    older commit's monitor that never gets ready (another shape) gives no figures; ours must."""
    monitor = ServiceProcess("saga_monitor", mesh.data_dir, {
        "KAFKA_BOOTSTRAP_SERVERS": mesh.bootstrap, "SAGA_TOPIC_PREFIX": mesh.prefix}, code_dir)
    monitor.start()
    try:
        monitor.wait_healthy(READY_SECONDS)
    except (RuntimeError, TimeoutError) as error:
        monitor.stop()
        if code_dir is None:
            raise
        say(f"  no monitor figures for this commit: {error}")
        return None
    return monitor


class CompletedCount:
    """Samples the monitor's count of completed sagas while a burst runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, int]] = []  # (wall clock s, completed sagas)

    async def now(self, client: httpx.AsyncClient) -> int | None:
        try:
            response = await client.get(f"{self.url}/api/stats")
            return response.json()["by_status"]["completed"]
        except (httpx.HTTPError, ValueError, KeyError):
            return None

    async def follow(self) -> None:
        """Until cancelled; the sample's time is when the answer arrived (never early)."""
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                count = await self.now(client)
                if count is not None:
                    self.samples.append((time.time(), count))
                await asyncio.sleep(POLL_SECONDS)

    async def until(self, count: int, settle: float) -> bool:
        """Wait until the last sample reaches ``count``, or it stops growing for ``settle`` s."""
        last, changed = -1, time.monotonic()
        while time.monotonic() - changed < settle:
            seen = self.samples[-1][1] if self.samples else -1
            if seen >= count:
                return True
            if seen != last:
                last, changed = seen, time.monotonic()
            await asyncio.sleep(POLL_SECONDS)
        return False


async def measure(monitor: ServiceProcess, stream: OrderStream, orders: int, settle: float,
                  say: Callable[[str], None]) -> dict:
    """A burst of ``orders`` with the monitor sampled; its trail, CPU and memory."""
    counts = CompletedCount(monitor.url)
    follower = asyncio.create_task(counts.follow())
    try:
        if not await counts.until(len(stream.completed), settle):  # the warm-up, first
            say("  the monitor did not catch up with the warm-up; its trail includes it")
        base = counts.samples[-1][1] if counts.samples else 0
        cpu = process_usage(monitor.process.pid).cpu_seconds
        burst = await stream.burst("monitored", orders, settle)
        caught_up = await counts.until(base + len(burst.completed), settle)
        cpu = process_usage(monitor.process.pid).cpu_seconds - cpu
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
    lag = trail(burst.completed.values(), [(t, n - base) for t, n in counts.samples])
    nice = nice_of(monitor.process.pid)  # SAGA_MONITOR_NICE, if it was allowed
    say(f"  monitor trail: worst {lag}s, median {lag.median_s}s, at nice {nice}"
        f"{'' if caught_up else ' (it never caught up)'}")
    return {"orders": orders, "completed": len(burst.completed),
            "sagas_per_s": round(burst.sagas_per_s, 1), "lag_s": lag.worst_s,
            "lag_median_s": lag.median_s, "caught_up": lag.caught_up, "nice": nice,
            "cpu_ms_per_saga": per_saga_ms(cpu, len(burst.completed)),
            "peak_rss_mb": round(process_usage(monitor.process.pid).peak_rss_mb, 1)}
