"""`make bench`: how fast the saga runs on this machine, next to the raw Kafka floor.

One run on one machine: a fresh local broker (unless ``KAFKA_BOOTSTRAP_SERVERS`` is set) and
the services as separate processes, then

* floor      — the raw Kafka hop on that broker, p50/p99;
* monitor    — a burst of ``--orders`` with the saga monitor beside the services: how far its
  counts trail the topics (``monitor_lag_s``, ``devtools.benchmonitor``), its CPU per saga;
  then the monitor is stopped;
* throughput — a burst of ``--orders`` happy-path orders straight onto ``OrderCreated`` →
  completed sagas/s from the first send to the last ``OrderCompleted``, and the services'
  CPU per saga;
* latency    — an open loop at each ``--rates`` for ``--seconds``: created → ``OrderCompleted``
  p50/p95/p99, ``hop_ratio`` = p50 / (4 × raw hop p50), and the services' CPU per saga at
  that rate (from the first order sent until the last completed: at a steady rate a batch is
  a few events, and what each batch costs is shared by fewer sagas than in a burst);
* breakdown  — where a hop's time goes at one rate, from the services' ``/metrics``;
* usage      — peak RSS and CPU ms per saga (= CPU seconds per 1,000 sagas), per service.

``--baseline REF`` first measures the services of that git commit the same way (same broker,
same run), for an honest before/after on a noisy machine; ``--instances N`` then measures the
current services again on PostgreSQL, with one instance per service and with N
(``devtools.benchstores``; the baseline stays on SQLite). Writes a table to stdout,
``.run/bench/bench.json`` and ``.run/bench/latency.png``, and ends with one line
``bench: sagas_per_s=… p50_ms@R=… p99_ms@R=… hop_ratio@R=… rss_mb_max=… raw_hop_p50_ms=…
cpu_ms_per_saga=… baseline_sagas_per_s=… baseline_cpu_ms_per_saga=… monitor_lag_s=…
monitor_cpu_ms_per_saga=…`` (``-`` where there is no baseline or no monitor figure); with
``--instances``, one ``bench: store=… instances=…`` line per configuration comes before it.
There are no pass/fail thresholds: the figures are for people to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from devtools import benchkit, benchmesh, benchmetrics, benchmonitor, benchplot, benchstores
from devtools.benchkit import BENCH_CUSTOMERS, BENCH_SKU, OrderStream, percentile, process_usage
from devtools.benchstores import BenchPostgres, Configuration
from devtools.processes import Mesh, ServiceProcess
from shared.settings import Settings

OUT = Path(".run") / "bench"
WARMUP_ORDERS = 300
SETTLE_SECONDS = 30.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.breakdown_rate is None:
        args.breakdown_rate = 200.0 if 200.0 in args.rates else args.rates[0]
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with benchmesh.broker() as bootstrap:
        say(f"bench: broker {bootstrap}; measuring the raw hop")
        floor = asyncio.run(benchkit.raw_hop(bootstrap, f"bench-floor-{int(started)}",
                                             linger_ms=Settings().producer_linger_ms))
        say(f"bench: raw hop p50 {percentile(floor, 50):.2f} ms")
        runs = {}
        if args.baseline:
            with benchmesh.checkout(args.baseline) as code_dir:
                runs["baseline"] = _measure(benchstores.BASELINE, bootstrap, args, code_dir)
        runs["current"] = _measure(benchstores.CURRENT, bootstrap, args)
        runs.update(_on_postgres(bootstrap, args))
    tuning = Settings()
    report = {"machine": benchmesh.machine(), "raw_hop_ms": _percentiles(floor),
              "baseline": args.baseline,
              "settings": {name: getattr(tuning, name) for name in (
                  "batch_max_events", "fetch_max_wait_ms", "offset_commit_interval_ms",
                  "producer_linger_ms", "producer_batch_bytes")},
              "orders": args.orders, "rates": args.rates, "seconds": args.seconds,
              "duration_s": round(time.time() - started), "runs": runs}
    (OUT / "bench.json").write_text(json.dumps(report, indent=2))
    benchplot.plot(report, OUT / "latency.png")
    print(benchmetrics.table(report))
    print(f"written: {OUT / 'bench.json'}, {OUT / 'latency.png'}")
    for line in benchmetrics.configuration_lines(report):
        print(line)
    print(benchmetrics.last_line(report))
    return 0


def _on_postgres(bootstrap: str, args: argparse.Namespace) -> dict[str, dict]:
    """The PostgreSQL configurations ``--instances`` asks for, each on fresh databases."""
    configurations = benchstores.postgres_configurations(args.instances)
    if not configurations:
        return {}
    with BenchPostgres(Settings()) as postgres:
        say(f"bench: PostgreSQL: {postgres.describe()}")
        return {configuration.label: _measure(configuration, bootstrap, args, None,
                                              postgres.environment(configuration),
                                              postgres.cpu_seconds)
                for configuration in configurations}


def _measure(configuration: Configuration, bootstrap: str, args: argparse.Namespace,
             code_dir: Path | None = None,
             store: dict[str, str | None] = benchstores.SQLITE_ENVIRONMENT,
             server_cpu: Callable[[], float | None] = lambda: None) -> dict:
    label = configuration.label
    prefix = f"bench{int(time.time())}{label}."
    settings = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
    shutil.rmtree(OUT / label, ignore_errors=True)  # databases of an earlier run know its orders
    with Mesh(OUT / label, bootstrap, prefix, code_dir=code_dir,
              instances=configuration.instances, **store) as mesh:
        say(f"bench [{label}]: starting the services ({configuration.describe()})"
            f"{' and the saga monitor' if configuration.monitored else ''}")
        mesh.start()
        monitor = benchmonitor.start(mesh, code_dir, say) if configuration.monitored else None
        try:
            mesh.seed(settings, {BENCH_SKU: 1_000_000},
                      {c: "1000000000.00" for c in BENCH_CUSTOMERS})
            result = asyncio.run(_phases(label, mesh, monitor, settings, args, server_cpu))
        finally:
            if monitor is not None:
                monitor.stop()
        result.update(store=configuration.store, instances=configuration.instances,
                      peak_rss_mb={name: round(process_usage(service.process.pid).peak_rss_mb, 1)
                                   for name, service in mesh.services.items()})
    return result


async def _phases(label: str, mesh: Mesh, monitor: ServiceProcess | None, settings: Settings,
                  args: argparse.Namespace, server_cpu: Callable[[], float | None]) -> dict:
    result: dict = {}
    async with OrderStream(settings, say, ids=settings.topic_prefix,
                           busy=lambda: benchmesh.busy(mesh)) as stream:
        say(f"bench [{label}]: warm-up, {WARMUP_ORDERS} orders")
        await stream.burst("warmup", WARMUP_ORDERS, SETTLE_SECONDS)
        await benchmesh.until_idle(mesh, say)
        result["monitor"] = await _monitored(label, mesh, monitor, stream, args.orders)
        say(f"bench [{label}]: burst of {args.orders} orders")
        result["burst"] = await _burst(mesh, stream, args.orders, server_cpu)
        result["rates"] = {}
        for rate in args.rates:
            await benchmesh.until_idle(mesh, say)
            say(f"bench [{label}]: open loop at {rate:g} orders/s for {args.seconds:g}s")
            scraped = benchmetrics.scrape(mesh) if rate == args.breakdown_rate else None
            cpu_before = _services_cpu(mesh)
            run = await stream.open_loop(f"rate{rate:g}", rate, args.seconds, SETTLE_SECONDS)
            latencies = run.latencies_ms
            result["rates"][f"{rate:g}"] = {
                **_percentiles(latencies), "orders": len(run.created), "incomplete": run.missing,
                "cpu_ms_per_saga": benchkit.per_saga_ms(_services_cpu(mesh) - cpu_before,
                                                        len(latencies))}
            if scraped is not None:
                result["breakdown_ms"] = benchmetrics.breakdown(scraped, benchmetrics.scrape(mesh))
    return result


async def _monitored(label: str, mesh: Mesh, monitor: ServiceProcess | None,
                     stream: OrderStream, orders: int) -> dict | None:
    """The monitor's own burst; then it stops, so that the services' figures are measured
    without it."""
    if monitor is None:
        return None
    say(f"bench [{label}]: burst of {orders} orders, the saga monitor watching")
    found = await benchmonitor.measure(monitor, stream, orders, SETTLE_SECONDS, say)
    monitor.stop()
    await benchmesh.until_idle(mesh, say)
    return found


async def _burst(mesh: Mesh, stream: OrderStream, orders: int,
                 server_cpu: Callable[[], float | None]) -> dict:
    """Throughput, and the CPU of the services (every instance) and of the database server
    (None: none here, or SQLite) from the first send to the last OrderCompleted."""
    processes = list(mesh.services.values())
    before = [process_usage(service.process.pid).cpu_seconds for service in processes]
    server_before = server_cpu()
    burst = await stream.burst("burst", orders, SETTLE_SECONDS)
    server = None if server_before is None else server_cpu() - server_before
    spent: dict[str, float] = defaultdict(float)
    for service, cpu in zip(processes, before, strict=True):
        spent[service.name] += process_usage(service.process.pid).cpu_seconds - cpu
    completed = len(burst.completed)
    return {"orders": orders, "completed": completed, "sagas_per_s": round(burst.sagas_per_s, 1),
            "cpu_ms_per_saga": benchkit.per_saga_ms(sum(spent.values()), completed),
            "cpu_s_per_1000_sagas": {name: benchkit.per_saga_ms(seconds, completed)
                                     for name, seconds in spent.items()},
            "postgres_cpu_ms_per_saga": None if server is None else benchkit.per_saga_ms(
                server, completed)}


def _services_cpu(mesh: Mesh) -> float:
    """CPU seconds the services (every instance) have used so far."""
    return sum(process_usage(service.process.pid).cpu_seconds
               for service in mesh.services.values())


def _percentiles(values: list[float]) -> dict:
    return {f"p{p}": round(percentile(values, p), 2) for p in (50, 95, 99)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="burst size")
    parser.add_argument("--rates", type=_rates, default=[50.0, 200.0, 500.0],
                        help="offered rates, orders/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each rate")
    parser.add_argument("--breakdown-rate", type=float, default=None,
                        help="rate at which to break a hop down (default: 200, or the first)")
    parser.add_argument("--baseline", metavar="GIT_REF",
                        help="also measure this commit, first (on SQLite)")
    parser.add_argument("--instances", type=_positive, metavar="N",
                        help="also measure PostgreSQL with one and with N instances per service")
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of instances, 1 or more: {text!r}")
    return int(text)


def _rates(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    sys.exit(main())
