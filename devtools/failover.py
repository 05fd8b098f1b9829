"""`python -m devtools.failover`: what a failover costs the sagas in flight. Two instances of
every service on PostgreSQL; one instance of each SIGKILLed and left down while orders flow.

    python -m devtools.failover [--rate 20] [--services inventory_service,payment_service]

A fresh mesh of two instances per service (the databases ``SAGA_DATABASE_URL`` names, else a
PostgreSQL of its own; the broker ``KAFKA_BOOTSTRAP_SERVERS`` names, else a local one) and a
steady stream of happy-path orders straight onto ``OrderCreated`` (devtools/steadyload.py:
latency from Kafka's record timestamps). Then the first instance of each service is SIGKILLed
and stays down; the group gives its partitions to the survivor once its session timeout
expires (a static member is waited for); later it is started again, and the group splits
the partitions once more. Saga latency p50/p99/max per window of ``OrderCreated`` time:

* before — both instances: created in the ``--gap`` s before the kill, and completed before it;
* failover — created since then (so also those in flight at the kill) until every survivor owns
  all of its service's partitions (``/health``): the takeover;
* survivors — the next ``--gap`` s;  rejoin — ``--gap`` s from starting the killed ones again.

Figures are printed, never asserted. Ends with ``failover: takeover_s=… before_p99_ms=…
failover_p99_ms=… failover_max_ms=… survivors_p99_ms=… rejoin_p99_ms=… failed=…
violations=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from devtools.benchkit import BENCH_CUSTOMERS, BENCH_SKU, percentile
from devtools.databases import service_databases
from devtools.invariants import settled_violations
from devtools.processes import SERVICES, Mesh, ServiceProcess
from devtools.steadyload import SteadyLoad
from localkafka import LocalKafka
from participants import SERVICES_IN
from sagactl.kafka import partitions_of
from shared.settings import Settings

WINDOWS = ("before", "failover", "survivors", "rejoin")


def owned(process: ServiceProcess) -> int:
    """How many partitions the instance says it owns (0 while it does not answer)."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        return httpx.get(f"{process.url}/health", timeout=2).json()["assigned_partitions"]
    return 0


def partitions_read(settings: Settings, service: str, mode: str = "choreographed") -> int:
    [spec] = [spec for spec in SERVICES_IN[mode] if spec.name == service]
    topics = [settings.topic(topic) for topic in spec.consumed_topics]
    return len(asyncio.run(partitions_of(settings, topics)))


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Wall-clock seconds when ``condition`` first held; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f}s")
        time.sleep(0.1)
    return time.time()


def kill_and_take_over(mesh: Mesh, settings: Settings, victims: list[ServiceProcess],
                       timeout: float = 120.0) -> tuple[float, float]:
    """SIGKILL ``victims`` (left down); wall-clock times of the kill, and of the moment the
    other instances of each victim's service own every partition it reads."""
    totals = {v.name: partitions_read(settings, v.name, mesh.mode) for v in victims}
    survivors = {name: [p for p in mesh.instances_of(name) if p not in victims] for name in totals}
    killed_at = time.time()
    for victim in victims:
        victim.kill()
    taken_over_at = wait_until(lambda: all(
        sum(owned(p) for p in survivors[name]) == total for name, total in totals.items()),
        timeout, "the survivors owning every partition")
    return killed_at, taken_over_at


def latency_windows(load: SteadyLoad, killed: float, taken_over: float, restarted: float,
                    gap: float) -> dict[str, dict]:
    """p50/p99/max saga latency (ms) per window (wall-clock seconds). An order created before
    the kill but still running at it counts to the failover: the kill is what it waited for."""
    def created(since: float, until: float) -> set[str]:
        return {o for o, t in load.created.items() if since * 1000 <= t < until * 1000}
    done_before = {o for o, t in load.completed.items() if t < killed * 1000}
    orders = {"before": created(killed - gap, killed) & done_before,
              "failover": created(killed - gap, taken_over) - done_before,
              "survivors": created(taken_over, min(taken_over + gap, restarted)),
              "rejoin": created(restarted, restarted + gap)}
    figures = {}
    for window, chosen in orders.items():
        values = [load.completed[o] - load.created[o] for o in chosen if o in load.completed]
        figures[window] = {"orders": len(values), "p50": percentile(values, 50),
                           "p99": percentile(values, 99), "max": max(values, default=None)}
    return figures


def table(figures: dict[str, dict]) -> str:
    rows = [f"{'window':<10} {'orders':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
    rows += [f"{window:<10} {f['orders']:>6} {f['p50']:>8.0f} {f['p99']:>8.0f} "
             f"{f['max'] or float('nan'):>8.0f}" for window, f in figures.items()]
    return "\n".join(rows)


def measure(mesh: Mesh, settings: Settings, args: argparse.Namespace,
            say: Callable[[str], None]) -> tuple[dict, dict[str, float]]:
    victims = [mesh[f"{name}-1"] for name in args.services]
    with SteadyLoad(settings, args.rate, say=say) as load:
        time.sleep(args.warmup + args.gap)
        killed, taken_over = kill_and_take_over(mesh, settings, victims)
        say(f"SIGKILL {', '.join(v.instance for v in victims)}: the survivors own every "
            f"partition after {taken_over - killed:.1f}s")
        time.sleep(args.gap)
        restarted = time.time()
        for victim in victims:
            victim.start()
        time.sleep(args.gap)
    return latency_windows(load, killed, taken_over, restarted, args.gap), {
        "takeover_s": taken_over - killed, "failed": len(load.missing) + load.unsent}


@contextlib.contextmanager
def _broker(say: Callable[[str], None]) -> Iterator[str]:
    settings = Settings()
    if "kafka_bootstrap_servers" in settings.model_fields_set:
        yield settings.kafka_bootstrap_servers
        return
    say("starting a local broker")
    with LocalKafka() as kafka:
        yield kafka.bootstrap_servers


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    with _broker(say) as bootstrap:
        found = run(bootstrap, args, say)
    print(table(found["windows"]))
    print("failover: " + " ".join(
        [f"takeover_s={found['takeover_s']:.1f}",
         *(f"{w}_p99_ms={found['windows'][w]['p99']:.0f}" for w in WINDOWS),
         f"failover_max_ms={found['windows']['failover']['max'] or 0:.0f}",
         f"failed={found['failed']}", f"violations={found['violations']}"]))
    return 0 if not found["violations"] and not found["failed"] else 1


def run(bootstrap: str, args: argparse.Namespace, say: Callable[[str], None]) -> dict:
    """Two instances of each service on PostgreSQL, a steady load, the first instance of each
    of ``args.services`` SIGKILLed: the latency windows, the takeover time, sagas that failed,
    and how many invariants the run broke."""
    data_dir = Path(".run") / "failover" / time.strftime("%Y%m%d-%H%M%S")
    prefix = f"failover{int(time.time())}."
    with service_databases(data_dir / "postgres", say) as databases:
        settings = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
        with Mesh(data_dir, bootstrap, prefix, instances=2, mode=args.mode, **databases,
                  SAGA_SESSION_TIMEOUT_MS=str(args.session_timeout_ms)) as mesh:
            say(f"two instances of each service, logs in {data_dir}")
            mesh.start()
            mesh.seed(settings, {BENCH_SKU: 1_000_000},
                      {c: "1000000000.00" for c in BENCH_CUSTOMERS})
            figures, outcome = measure(mesh, settings, args, say)
            found = settled_violations(mesh.stores)
    return {"windows": figures, **outcome, "violations": len(found)}


def options(**overrides) -> argparse.Namespace:
    """The defaults of the command line, with ``overrides`` (for another tool's run)."""
    return argparse.Namespace(**{**vars(_parser().parse_args([])), **overrides})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.failover", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="orders per second")
    parser.add_argument("--services", type=lambda text: text.split(","), default=list(SERVICES),
                        help="whose first instance is killed (default: every service's)")
    parser.add_argument("--mode", choices=("choreographed", "orchestrated"),
                        default="choreographed", help="how the saga runs (SAGA_MODE); "
                        "orchestrated: --services orchestrator_service kills an orchestrator")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--gap", type=float, default=8.0, help="seconds per measured window")
    parser.add_argument("--session-timeout-ms", type=int, default=10_000,
                        help="the services' SAGA_SESSION_TIMEOUT_MS (their default: 10 s)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
