"""What a saga costs each service's processing, in CPU, without Kafka: `python -m devtools.hotpath`.

The five services' real event processors (each built by its own bootstrap, on its own SQLite
file with ``synchronous=FULL``) are chained in one process: the outbox rows one service's group
commit returns are delivered, as bytes with their headers, to every service that consumes their
topic, in batches of ``--batch``. That is every step of a happy saga — decode, inbox, handler,
state, outbox, tracing, metrics, logs — except the Kafka client and the event loop. CPU time is
counted per service (``time.thread_time``), so other jobs on a shared machine move it far less
than they move `make bench`. ``--profile SERVICE`` prints where that service's time goes
(cProfile, cumulative). Prints one line: ``hotpath: cpu_ms_per_saga=… order=… inventory=… …``.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path

from devtools.benchkit import BENCH_CUSTOMERS, BENCH_SKU, happy_order
from participants import SERVICES
from shared.choreography import consumers_of
from shared.deadletters import Delivery
from shared.events import CATALOG, Event, FundsDeposited, StockAdded, encode
from shared.logs import configure_logging
from shared.runtime.service import ServiceRuntime
from shared.settings import Settings


def _runtimes(data_dir: Path) -> dict[str, ServiceRuntime]:
    import importlib
    return {spec.name: importlib.import_module(f"{spec.name}.bootstrap").bootstrap(Settings(
        service_name=spec.name, database_path=data_dir / f"{spec.name}.db", http_port=0))
        for spec in SERVICES}


class Pipeline:
    """Every service's processor, fed what the others emit, as Kafka would deliver it."""

    def __init__(self, runtimes: dict[str, ServiceRuntime], batch: int) -> None:
        self.runtimes, self.batch = runtimes, batch
        self.inbound: dict[str, deque[Delivery]] = {name: deque() for name in runtimes}
        self.offsets: dict[str, int] = defaultdict(int)
        self.cpu: dict[str, float] = defaultdict(float)
        self.profiles: dict[str, cProfile.Profile] = {}

    def publish(self, topic: str, key: bytes | None, value: bytes, headers=()) -> None:
        if topic not in CATALOG:
            return  # dead letters: nobody in the saga reads them
        offset = self.offsets[topic]
        self.offsets[topic] += 1
        for name in consumers_of(CATALOG[topic], SERVICES):
            self.inbound[name].append(Delivery(topic, 0, offset, key, value, tuple(headers),
                                               int(time.time() * 1000)))

    def run(self) -> None:
        while any(self.inbound.values()):
            for name, waiting in self.inbound.items():
                if waiting:
                    batch = [waiting.popleft() for _ in range(min(self.batch, len(waiting)))]
                    for row in self._process(name, batch):
                        self.publish(row.topic, row.key, row.value, row.headers)

    def _process(self, name: str, batch: list[Delivery]) -> list:
        processor, profile = self.runtimes[name].processor, self.profiles.get(name)
        started = time.thread_time()
        if profile is not None:
            profile.enable()
        try:
            return processor.process_batch(batch)
        finally:
            if profile is not None:
                profile.disable()
            self.cpu[name] += time.thread_time() - started


def measure(sagas: int, batch: int, profile: str | None, data_dir: Path) -> dict[str, float]:
    runtimes = _runtimes(data_dir)
    try:
        pipeline = Pipeline(runtimes, batch)
        for payload in [StockAdded(sku=BENCH_SKU, quantity=10 * sagas + 1000),
                        *(FundsDeposited(customer_id=c, amount="1000000000.00")
                          for c in BENCH_CUSTOMERS)]:
            event = Event.new(payload, producer="hotpath")
            pipeline.publish(payload.event_type(), event.key.encode(), encode(event))
        for n in range(200):  # warm-up: caches, prepared statements, first-time imports
            pipeline.publish("OrderCreated", f"warm-{n}".encode(), happy_order(f"warm-{n}", n))
        pipeline.run()
        pipeline.cpu.clear()
        if profile:
            pipeline.profiles[profile] = cProfile.Profile()
        for n in range(sagas):
            pipeline.publish("OrderCreated", f"hot-{n}".encode(), happy_order(f"hot-{n}", n))
        pipeline.run()
        if profile:
            pstats.Stats(pipeline.profiles[profile]).sort_stats("cumulative").print_stats(45)
        return {name: seconds * 1000 / sagas for name, seconds in pipeline.cpu.items()}
    finally:
        for runtime in runtimes.values():
            runtime.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.hotpath",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sagas", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=20, help="events per group commit")
    parser.add_argument("--profile", metavar="SERVICE", help="cProfile this service")
    args = parser.parse_args(argv)
    # A JSON log line per event is part of the cost: made as a service makes it, then dropped.
    configure_logging(Settings(service_name="hotpath"))
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    with tempfile.TemporaryDirectory(prefix="hotpath-") as data_dir:
        costs = measure(args.sagas, args.batch, args.profile, Path(data_dir))
    shown = " ".join(f"{name.removesuffix('_service')}={ms:.3f}" for name, ms in costs.items())
    print(f"hotpath: cpu_ms_per_saga={sum(costs.values()):.3f} {shown} "
          f"(sagas={args.sagas} batch={args.batch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
