"""`python -m devtools.monitor_memory --sagas 100000`: the saga monitor's memory with that many
sagas in its table.

Starts the real `saga-monitor` process on a fresh topic prefix, publishes the events of that
many synthetic sagas (four in five along the happy path, six events; one in five along the
no-carrier path, nine events with compensations and two notifications) straight onto the saga
topics — the services take no part — waits until the monitor has folded every one of them, and
reads the process's resident memory (and the CPU it spent on them) from /proc. Retention (and
the stall deadline) are set to a day, so that nothing leaves the table while it is measured.
Prints one line, e.g.
`sagas=100000 events=660000 rss_mb=... baseline_mb=... per_saga_bytes=... cpu_us_per_event=...`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from devtools.benchkit import process_usage
from devtools.processes import free_port
from devtools.synthetic_sagas import HAPPY, NO_CARRIER, saga
from shared.events import encode
from shared.settings import Settings


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


async def publish_sagas(settings: Settings, count: int) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                linger_ms=20, max_batch_size=512 * 1024, acks=1)
    await producer.start()
    sent, pending = 0, []
    start = datetime.now(UTC) - timedelta(minutes=30)
    try:
        for n in range(count):
            path = NO_CARRIER if n % 5 == 4 else HAPPY
            order_id = f"mem-{n:07d}"
            for event in saga(order_id, path, start=start + timedelta(milliseconds=n)):
                pending.append(await producer.send(settings.topic(event.event_type),
                                                   encode(event), key=order_id.encode()))
                sent += 1
            if len(pending) > 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def stats(url: str) -> dict:
    try:
        return httpx.get(f"{url}/api/stats", timeout=30).json()
    except (httpx.HTTPError, ValueError):
        return {}


def main(sagas: int, bootstrap: str, timeout: float) -> int:
    prefix = f"mem{uuid.uuid4().hex[:8]}."
    port, data = free_port(), Path(".run") / "monitor-memory" / prefix.rstrip(".")
    data.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SAGA_TOPIC_PREFIX": prefix,
           "SAGA_HTTP_PORT": str(port), "SAGA_DATABASE_PATH": str(data / "monitor.db"),
           "SAGA_LOG_LEVEL": "WARNING", "SAGA_MONITOR_RETENTION_SECONDS": "86400",
           # A backlog of 660,000 events is folded over minutes: its half-folded sagas are not
           # stuck, and one warning each would measure the logger, not the table.
           "SAGA_STALL_AFTER_SECONDS": "86400"}
    url = f"http://127.0.0.1:{port}"
    with (data / "monitor.log").open("wb") as log:
        monitor = subprocess.Popen([sys.executable, "-m", "saga_monitor"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not _ready(url):
            if time.monotonic() > deadline:
                raise TimeoutError("the monitor did not become ready")
            time.sleep(1)
        baseline = rss_mb(monitor.pid)
        cpu = process_usage(monitor.pid).cpu_seconds
        started = time.monotonic()
        settings = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
        events = asyncio.run(publish_sagas(settings, sagas))
        published = time.monotonic() - started
        deadline = time.monotonic() + timeout
        while (seen := stats(url)).get("finished", 0) < sagas:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {seen.get('finished')} of {sagas} sagas after {timeout}s")
            print(f"  folded {seen.get('finished', 0)}/{sagas} "
                  f"rss={rss_mb(monitor.pid):.0f} MB", file=sys.stderr)
            time.sleep(5)
        folded = time.monotonic() - started
        cpu = process_usage(monitor.pid).cpu_seconds - cpu
        time.sleep(3)
        rss, peak = rss_mb(monitor.pid), rss_mb(monitor.pid, "VmHWM")
        print(f"sagas={sagas} events={events} rss_mb={rss:.0f} peak_mb={peak:.0f} "
              f"baseline_mb={baseline:.0f} per_saga_bytes={(rss - baseline) * 2**20 / sagas:.0f} "
              f"publish_s={published:.0f} folded_s={folded:.0f} "
              f"cpu_us_per_event={cpu / events * 1e6:.0f}")
        return 0
    finally:
        monitor.terminate()
        monitor.wait(60)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=100_000)
    parser.add_argument("--bootstrap", default=Settings().kafka_bootstrap_servers)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    sys.exit(main(args.sagas, args.bootstrap, args.timeout))
