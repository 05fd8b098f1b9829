"""`python -m devtools.rejoin`: how long a service killed with SIGKILL is away, with and without
static group membership, and what a rolling restart costs the sagas in flight.

    python -m devtools.rejoin [--brokers 3] [--service payment_service] [--kills 3] [--rate 20]

For each membership mode — ``dynamic`` (``SAGA_STATIC_MEMBERSHIP=false``, as before) and
``static`` (the default now) — a fresh mesh of five service processes on a fresh local broker
(``--brokers 3``: a cluster; ``KAFKA_BOOTSTRAP_SERVERS``: that one), a steady stream of orders
straight onto ``OrderCreated``, and then

* rejoin — ``--kills`` times: SIGKILL the service, start it again at once, and time SIGKILL →
  the new process logged ``started`` → it logged its first ``handled`` event;
* rolling restart — every service in turn: SIGTERM, start, wait until healthy; saga latency
  (``OrderCreated`` → ``OrderCompleted``) of the orders created before and during it, each
  service's SIGTERM → first event handled again, and every saga that did not complete.

Figures are printed (and written to ``.run/rejoin/rejoin.json``), never asserted: the machine
is noisy. Ends with one line ``rejoin: dynamic_s=… static_s=… steady_p99_ms=…
rolling_p99_ms=… rolling_max_ms=… failed=…`` (the static mode's latencies).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from devtools.benchkit import BENCH_CUSTOMERS, BENCH_SKU, percentile
from devtools.invariants import settled_violations
from devtools.processes import SERVICES, Mesh, ServiceProcess
from devtools.steadyload import SteadyLoad
from localkafka import LocalKafka
from shared.settings import Settings

OUT = Path(".run") / "rejoin"
MODES = {"dynamic": "false", "static": "true"}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.time()
    with _broker(args.brokers) as bootstrap:
        replication = 3 if len(bootstrap.split(",")) >= 3 else 1
        results = {mode: _measure(mode, bootstrap, replication, args) for mode in args.modes}
    report = {"brokers": len(bootstrap.split(",")), "service": args.service, "rate": args.rate,
              "kills": args.kills, "cpus": os.cpu_count(),
              "duration_s": round(time.time() - started), "modes": results}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "rejoin.json").write_text(json.dumps(report, indent=2))
    print(_table(report))
    print(_last_line(report))
    return 0


def _measure(mode: str, bootstrap: str, replication: int, args: argparse.Namespace) -> dict:
    prefix = f"rejoin{int(time.time())}{mode}."
    settings = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix,
                        topic_replication_factor=replication)
    env = {"SAGA_STATIC_MEMBERSHIP": MODES[mode],
           "SAGA_TOPIC_REPLICATION_FACTOR": str(replication)}
    if args.session_timeout_ms:
        env["SAGA_SESSION_TIMEOUT_MS"] = str(args.session_timeout_ms)
    data_dir = OUT / time.strftime("%Y%m%d-%H%M%S") / mode
    with Mesh(data_dir, bootstrap, prefix, **env) as mesh:
        say(f"[{mode}] {len(mesh.services)} services, logs in {data_dir}")
        mesh.start()
        mesh.seed(settings, {BENCH_SKU: 1_000_000}, {c: "1000000000.00" for c in BENCH_CUSTOMERS})
        with SteadyLoad(settings, args.rate, say=say) as load:
            time.sleep(args.warmup)
            steady_from = time.time()
            time.sleep(args.gap)
            steady_until = time.time()
            time.sleep(3)  # the orders created last complete undisturbed
            rejoins = []
            for n in range(args.kills):
                rejoins.append(_rejoin_after(mesh[args.service], _kill))
                say(f"[{mode}] SIGKILL {args.service} #{n + 1}: {rejoins[-1]}")
                time.sleep(args.gap)
            rolling_from = time.time()
            away = {name: _rejoin_after(mesh[name], _terminate)["handled_s"] for name in SERVICES}
            rolling_until = time.time()
            say(f"[{mode}] rolling restart in {rolling_until - rolling_from:.1f}s: {away}")
            time.sleep(args.gap)
        found = settled_violations(data_dir)
    steady = load.latencies_ms(steady_from, steady_until)
    rolling = load.latencies_ms(rolling_from, rolling_until)
    return {"rejoin": rejoins, "rolling_away_s": away,
            "rolling_duration_s": round(rolling_until - rolling_from, 1),
            "steady_ms": _percentiles(steady), "rolling_ms": _percentiles(rolling),
            "orders": len(load.created), "failed": len(load.missing) + load.unsent,
            "violations": found[:20]}


def _kill(service: ServiceProcess) -> None:
    service.kill()


def _terminate(service: ServiceProcess) -> None:
    service.stop()


def _rejoin_after(service: ServiceProcess, stop) -> dict:
    """Stop the service (as ``stop`` does), start it again at once; seconds from the signal
    to ``started`` and to the first ``handled`` event in its log."""
    signalled = time.time()
    stop(service)
    offset = service.log_path.stat().st_size
    service.start()
    deadline = time.monotonic() + 120
    times: dict[str, float] = {}
    while "handled" not in times and time.monotonic() < deadline:
        time.sleep(0.05)
        times = _first_lines(service.log_path, offset, ("started", "handled"))
    service.wait_healthy(60)
    return {f"{name}_s": round(at - signalled, 2) for name, at in times.items()}


def _first_lines(log: Path, offset: int, messages: tuple[str, ...]) -> dict[str, float]:
    """Wall-clock time of the first JSON log line with each message, after ``offset``."""
    found: dict[str, float] = {}
    with log.open("rb") as lines:
        lines.seek(offset)
        for line in lines:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("message") in messages and entry["message"] not in found:
                    found[entry["message"]] = datetime.fromisoformat(entry["time"]).timestamp()
    return found


def _percentiles(values: list[float]) -> dict:
    return {"orders": len(values), **{f"p{p}": round(percentile(values, p), 1)
                                      for p in (50, 99)},
            "max": round(max(values), 1) if values else None}


def _table(report: dict) -> str:
    rows = [f"{report['brokers']} broker(s), {report['rate']:g} orders/s, SIGKILL "
            f"{report['service']} x{report['kills']}; rolling restart of all five (SIGTERM)",
            f"{'mode':<8} {'kill→started s':>15} {'kill→handled s':>15} {'steady p50/p99 ms':>18} "
            f"{'rolling p50/p99/max ms':>23} {'rolling s':>9} {'failed':>6} {'violations':>10}"]
    for mode, r in report["modes"].items():
        started = [t.get("started_s", float("nan")) for t in r["rejoin"]]
        handled = [t.get("handled_s", float("nan")) for t in r["rejoin"]]
        s, roll = r["steady_ms"], r["rolling_ms"]
        rows.append(f"{mode:<8} {_spread(started):>15} {_spread(handled):>15} "
                    f"{s['p50']:>8}/{s['p99']:<9} {roll['p50']:>8}/{roll['p99']}/{roll['max']:<6} "
                    f"{r['rolling_duration_s']:>9} {r['failed']:>6} {len(r['violations']):>10}")
    return "\n".join(rows)


def _spread(values: list[float]) -> str:
    """median (min–max)"""
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def _last_line(report: dict) -> str:
    modes = report["modes"]
    parts = [f"{mode}_s={statistics.median(t.get('handled_s', float('nan')) for t in r['rejoin']):.1f}"
             for mode, r in modes.items() if r["rejoin"]]
    last = modes[list(modes)[-1]]
    parts += [f"steady_p99_ms={last['steady_ms']['p99']}", f"rolling_p99_ms={last['rolling_ms']['p99']}",
              f"rolling_max_ms={last['rolling_ms']['max']}",
              f"failed={sum(r['failed'] for r in modes.values())}",
              f"violations={sum(len(r['violations']) for r in modes.values())}"]
    return "rejoin: " + " ".join(parts)


@contextlib.contextmanager
def _broker(brokers: int) -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    say(f"starting {brokers} local broker(s)")
    with LocalKafka(brokers=brokers) as kafka:
        yield kafka.bootstrap_servers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.rejoin", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", type=int, default=1, help="1, or 3 (a local cluster)")
    parser.add_argument("--service", default="payment_service", choices=SERVICES)
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs per mode")
    parser.add_argument("--rate", type=float, default=20.0, help="orders per second")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--gap", type=float, default=8.0, help="seconds of steady load measured, "
                                                               "and between disturbances")
    parser.add_argument("--session-timeout-ms", type=int, default=None,
                        help="the services' SAGA_SESSION_TIMEOUT_MS (default: theirs, 10 s)")
    parser.add_argument("--modes", type=lambda text: text.split(","), default=list(MODES),
                        help="dynamic,static (default both, in that order)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
