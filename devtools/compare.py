"""`make compare`: the same order saga choreographed and orchestrated, measured side by side.

One broker, both modes one after the other (``SAGA_MODE``), each on fresh services and topics,
under the same load of happy-path orders straight onto ``OrderCreated``:

* burst    — ``--orders`` at once: sagas/s from the first send to the last ``OrderCompleted``;
  the services' CPU (every process, from /proc) and the messages and bytes on the saga's topics
  (events and commands: key, value and headers, read back from the broker) until the mesh is
  idle again, per saga;
* latency  — an open loop at 50 and 200 orders/s for ``--seconds``: created → ``OrderCompleted``
  p50/p99, from Kafka's record timestamps (as `make bench`);
* kills    — a steady 20 orders/s while one process is SIGKILLed and kept down ``--down``
  seconds, then started again: a participant on the saga's path (payment_service) in both
  modes, and the orchestrator in the orchestrated one. A saga *stalled* if it took over
  ``max(1 s, 5 × that mode's p99 at 50 orders/s)``; ``lost`` counts sagas that never completed;
* failover — unless ``--no-failover``: the same kills with two instances of every service on
  PostgreSQL, the killed one left down (``devtools.failover``): how long until the survivor
  owns its partitions, the p99 meanwhile, sagas failed, invariants broken.

Prints one line per mode, ``compare: mode=… sagas_per_s=… p50_ms@50=… p99_ms@50=…
cpu_ms_per_saga=… msgs_per_saga=… stalled_on_kill=…`` (``stalled_on_kill`` lists
``victim:stalled/longest-stall-in-s/lost``), writes ``.run/compare/compare.json`` and renders
``docs/choosing.md`` (``--doc``) from the figures and from the declarations
(``devtools.choosing``). No pass/fail thresholds: the figures are for people to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from devtools import benchmesh, choosing, failover
from devtools.benchkit import BENCH_CUSTOMERS, BENCH_SKU, OrderStream, percentile, process_usage
from devtools.processes import Mesh
from devtools.steadyload import SteadyLoad
from sagactl.kafka import partitions_of
from shared.events import COMMANDS, SAGA_EVENTS
from shared.orchestration import ORCHESTRATOR
from shared.settings import Settings

OUT = Path(".run") / "compare"
MODES = ("choreographed", "orchestrated")
#: The open loops' rates; 50 orders/s always (the compare line's latency and the stall threshold).
RATES = (50.0, 200.0)
WARMUP_ORDERS = 200
SETTLE_SECONDS = 30.0
KILL_RATE = 20.0
#: The participant killed in both modes: every saga passes through it before the pivot.
PARTICIPANT = "payment_service"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.time()
    figures = {}
    with benchmesh.broker() as bootstrap:
        for mode in MODES:
            figures[mode] = measure(mode, bootstrap, args)
        failovers = _failovers(bootstrap) if args.failover else []
    report = {"machine": benchmesh.machine(), "orders": args.orders, "seconds": args.seconds,
              "down_s": args.down, "duration_s": round(time.time() - started), "modes": figures,
              "failovers": failovers}
    for mode in MODES:
        print(line(mode, figures[mode]), flush=True)
    (OUT / "compare.json").write_text(json.dumps(report, indent=2))
    args.doc.write_text(choosing.render(report))
    say(f"written: {OUT / 'compare.json'}, {args.doc}")
    return 0


def line(mode: str, figures: dict) -> str:
    at50 = figures["rates"]["50"]
    stalled = ",".join(f"{victim}:{k['stalled']}/{k['longest_stall_s']:g}s/{k['lost']}"
                       for victim, k in figures["kills"].items())
    return (f"compare: mode={mode} sagas_per_s={figures['burst']['sagas_per_s']:g} "
            f"p50_ms@50={at50['p50']:g} p99_ms@50={at50['p99']:g} "
            f"cpu_ms_per_saga={figures['burst']['cpu_ms_per_saga']:g} "
            f"msgs_per_saga={figures['burst']['msgs_per_saga']:g} stalled_on_kill={stalled}")


def measure(mode: str, bootstrap: str, args: argparse.Namespace) -> dict:
    prefix = f"compare{int(time.time())}{mode[:5]}."
    settings = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
    shutil.rmtree(OUT / mode, ignore_errors=True)
    with Mesh(OUT / mode, bootstrap, prefix, mode=mode) as mesh:
        say(f"compare [{mode}]: starting {len(mesh.services)} services")
        mesh.start()
        mesh.seed(settings, {BENCH_SKU: 1_000_000},
                  {customer: "1000000000.00" for customer in BENCH_CUSTOMERS})
        figures = asyncio.run(_load(mode, mesh, settings, args))
        threshold = max(1000.0, 5 * figures["rates"]["50"]["p99"])
        figures["kills"] = {}
        asyncio.run(benchmesh.until_idle(mesh, say))  # a kill's load waits out its own sagas
        for victim in ([ORCHESTRATOR] if mode == "orchestrated" else []) + [PARTICIPANT]:
            figures["kills"][victim] = kill(mesh, settings, victim, args.down, threshold)
    return figures


async def _load(mode: str, mesh: Mesh, settings: Settings, args: argparse.Namespace) -> dict:
    async with OrderStream(settings, say, ids=settings.topic_prefix,
                           busy=lambda: benchmesh.busy(mesh)) as stream:
        warmup = min(WARMUP_ORDERS, args.orders)
        say(f"compare [{mode}]: warm-up, {warmup} orders")
        await stream.burst("warmup", warmup, SETTLE_SECONDS)
        await benchmesh.until_idle(mesh, say)
        say(f"compare [{mode}]: burst of {args.orders} orders")
        before, offsets = _cpu(mesh), await _end_offsets(settings)
        burst = await stream.burst("burst", args.orders, SETTLE_SECONDS)
        await benchmesh.until_idle(mesh, say)  # the notifications' tail is the saga's too
        spent = {name: seconds - before[name] for name, seconds in _cpu(mesh).items()}
        messages, size = await _wire(settings, offsets)
        completed = len(burst.completed)
        figures = {"burst": {
            "orders": args.orders, "completed": completed,
            "sagas_per_s": round(burst.sagas_per_s, 1),
            "cpu_ms_per_saga": _per_saga(sum(spent.values()), completed),
            "cpu_ms_per_saga_by_service": {name: _per_saga(seconds, completed)
                                           for name, seconds in spent.items()},
            "msgs_per_saga": round(messages / max(args.orders, 1), 2),
            "bytes_per_saga": round(size / max(args.orders, 1))}, "rates": {}}
        for n, rate in enumerate(args.rates):
            if n:  # the burst's tail was waited out above
                await benchmesh.until_idle(mesh, say)
            say(f"compare [{mode}]: open loop at {rate:g} orders/s for {args.seconds:g}s")
            run = await stream.open_loop(f"rate{rate:g}", rate, args.seconds, SETTLE_SECONDS)
            latencies = run.latencies_ms
            figures["rates"][f"{rate:g}"] = {"p50": round(percentile(latencies, 50), 1),
                                             "p99": round(percentile(latencies, 99), 1),
                                             "orders": len(run.created), "incomplete": run.missing}
    return figures


def kill(mesh: Mesh, settings: Settings, victim: str, down: float, threshold: float) -> dict:
    """SIGKILL ``victim`` under a steady load, keep it down ``down`` seconds, start it again;
    a saga that took longer than ``threshold`` ms stalled."""
    process, around = mesh[victim], min(5.0, down)  # load before the kill and after the restart
    with SteadyLoad(settings, KILL_RATE, say=say) as load:
        time.sleep(around)
        killed = time.time()
        say(f"compare [{mesh.mode}]: SIGKILL {victim}, down for {down:g}s")
        process.kill()
        time.sleep(down)
        process.start()
        process.wait_healthy(120)
        time.sleep(around)
    latencies = load.latencies_ms(since=killed - around)
    stalled = [ms for ms in latencies if ms > threshold]
    counted = [t for t in load.created.values() if t >= (killed - around) * 1000]
    return {"down_s": down, "threshold_ms": round(threshold), "orders": len(counted),
            "stalled": len(stalled) + len(load.missing),
            "longest_stall_s": round(max(stalled, default=0) / 1000, 1),
            "lost": len(load.missing)}


def _failovers(bootstrap: str) -> list[dict]:
    """Each kill again with a sibling instance to take over (PostgreSQL)."""
    found = []
    for mode, victim in (("choreographed", PARTICIPANT), ("orchestrated", ORCHESTRATOR),
                         ("orchestrated", PARTICIPANT)):
        say(f"compare [{mode}]: failover, SIGKILL {victim}-1 of two instances (PostgreSQL)")
        outcome = failover.run(bootstrap, failover.options(mode=mode, services=[victim]), say)
        found.append({"mode": mode, "victim": victim, "takeover_s": round(outcome[
            "takeover_s"], 1), "failed": outcome["failed"], "violations": outcome["violations"],
            **{f"{window}_p99_ms": round(outcome["windows"][window]["p99"])
               for window in failover.WINDOWS}})
    return found


def _cpu(mesh: Mesh) -> dict[str, float]:
    spent: dict[str, float] = defaultdict(float)
    for process in mesh.services.values():
        spent[process.name] += process_usage(process.process.pid).cpu_seconds
    return dict(spent)


def _per_saga(seconds: float, sagas: int) -> float:
    return round(seconds * 1000 / max(sagas, 1), 2)


def _topics(settings: Settings) -> list[str]:
    """Every topic a saga's messages travel on, in either mode."""
    return [settings.topic(payload.event_type()) for payload in (*SAGA_EVENTS, *COMMANDS)]


async def _end_offsets(settings: Settings) -> dict[TopicPartition, int]:
    partitions = await partitions_of(settings, _topics(settings))
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()


async def _wire(settings: Settings, since: dict[TopicPartition, int]) -> tuple[int, int]:
    """Records and bytes (key, value, headers) added to the saga's topics since ``since``."""
    ends = await _end_offsets(settings)
    wanted = {tp: end for tp, end in ends.items() if end > since.get(tp, 0)}
    if not wanted:
        return 0, 0
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    records = size = 0
    try:
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, since.get(tp, 0))
        left, deadline = set(wanted), time.monotonic() + 120
        while left and time.monotonic() < deadline:
            batches = await consumer.getmany(*left, timeout_ms=1000, max_records=5000)
            for tp, batch in batches.items():
                for record in (r for r in batch if r.offset < wanted[tp]):
                    records += 1
                    size += (len(record.key or b"") + len(record.value or b"")
                             + sum(len(k) + len(v or b"") for k, v in record.headers))
            # The position, not the last record: a transaction's marker takes an offset too.
            left = {tp for tp in left if await consumer.position(tp) < wanted[tp]}
    finally:
        await consumer.stop()
    return records, size


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.compare", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000, help="burst size")
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="how long each open loop offers orders")
    parser.add_argument("--rates", type=lambda text: sorted({50.0, *map(float, text.split(","))}),
                        default=list(RATES), help="open-loop rates, orders/s (50 always)")
    parser.add_argument("--down", type=float, default=10.0,
                        help="how long a killed process stays down, seconds")
    parser.add_argument("--no-failover", dest="failover", action="store_false",
                        help="skip the failover runs (two instances on PostgreSQL)")
    parser.add_argument("--doc", type=Path, default=Path("docs") / "choosing.md",
                        help="where to write the comparison")
    return parser


if __name__ == "__main__":
    sys.exit(main())
