"""`make rollout`: a step added to the saga while sagas run; the deploy itself is the test.

    python -m devtools.rollout [--from REF] [--rate 10] [--dwell 4] [--after 8]

Two instances of every service of ``--from`` (a git ref; by default the last release before
fraud_service joined) run on PostgreSQL and a local broker (``SAGA_DATABASE_URL`` and
``KAFKA_BOOTSTRAP_SERVERS``, when set, are used instead). Orders of every path (the chaos
workload) flow through the order API while the mesh is upgraded to this checkout's code, in
the order docs/adding-a-step.md gives:

1. the joining service (fraud_service) starts: it takes part in flow version 2 only, which no
   saga has yet;
2. every other participant, one instance at a time (SIGTERM, started again on the new code);
   for ``--dwell`` seconds an old and a new instance of the service share its partitions;
3. the order service last: only then do new sagas start with the latest version of the flow.

Orders go on for ``--after`` seconds, then it checks: every saga final, and the guarantees
`make chaos` checks (violations); no dead letter on any topic; the sagas placed before the
order service's upgrade ran flow 1 (none screened), those placed after it flow 2 (each one
whose stock was reserved screened). Ends with one line, ``rollout: from=… orders=… old_flow=…
new_flow=… screened=… fraud_rejected=… mixed_orders=… dead_letters=… violations=…
duration=…s``, and exit status 0 only when every check holds.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devtools.benchmesh import broker, checkout
from devtools.chaos import place
from devtools.databases import service_databases
from devtools.failover import owned, wait_until
from devtools.invariants import Stores, rows, settled_violations
from devtools.processes import SERVICES, Mesh, ServiceProcess, services_in
from devtools.workload import BALANCES, STOCK, PlannedOrder, plan
from sagactl.topics import topic_states
from shared.deadletters import DLT_SUFFIX
from shared.settings import Settings, ToolSettings

#: The last commit of main before fraud_service joined the saga (flow version 1 only).
BEFORE_SCREENING = "2e2b3206c6891884d7768a6a662543c8cb0b1391"
#: What the services run with: a short session, so that a stopped instance's partitions move
#: soon; retries as patient as in `make chaos`.
ENVIRONMENT = {"SAGA_SESSION_TIMEOUT_MS": "6000", "SAGA_HEARTBEAT_INTERVAL_MS": "1500",
               "SAGA_RETRY_MAX_ATTEMPTS": "40", "SAGA_RETRY_BASE_DELAY": "0.05",
               "SAGA_RETRY_MAX_DELAY": "2", "SAGA_LOG_FORMAT": "text"}


@dataclass
class RolloutReport:
    ref: str
    orders: int = 0
    old_flow: int = 0           # placed before the order service's upgrade
    new_flow: int = 0           # placed after it
    screened: int = 0           # of the new-flow sagas, those fraud_service screened
    fraud_rejected: int = 0
    mixed_orders: dict[str, int] = field(default_factory=dict)  # placed while old met new
    dead_letters: int = 0
    violations: list[str] = field(default_factory=list)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return (not self.violations and not self.dead_letters and self.old_flow > 0
                and self.new_flow > 0 and min(self.mixed_orders.values(), default=0) > 0)

    def summary(self) -> str:
        found = ("0" if not self.violations else
                 f"{len(self.violations)}: " + "; ".join(self.violations[:25]))
        mixed = min(self.mixed_orders.values(), default=0)
        return (f"rollout: from={self.ref[:12]} orders={self.orders} old_flow={self.old_flow} "
                f"new_flow={self.new_flow} screened={self.screened} "
                f"fraud_rejected={self.fraud_rejected} mixed_orders={mixed} "
                f"dead_letters={self.dead_letters} violations={found} "
                f"duration={self.duration:.0f}s")


def deploy_order(old: tuple[str, ...]) -> list[str]:
    """Joining services first, then every other participant, the order service last: it
    starts the sagas, so new ones take the new flow only once everyone knows it."""
    joining = [name for name in SERVICES if name not in old]
    return [*joining, *(name for name in old if name != "order_service"), "order_service"]


class Rollout:
    """Upgrades ``mesh`` (started on an older checkout) to this checkout while orders flow."""

    def __init__(self, mesh: Mesh, old: tuple[str, ...], rate: float, dwell: float,
                 after: float, say: Callable[[str], None]) -> None:
        self.mesh, self.old, self.rate, self.dwell, self.after = mesh, old, rate, dwell, after
        self.say = say
        self.placed: list[str] = []
        self.mixed: dict[str, int] = {}
        self.first_new = self.all_new = 0   # how many orders were placed at each moment

    def run(self, orders: list[PlannedOrder]) -> None:
        stopping = threading.Event()
        placer = threading.Thread(target=place, daemon=True, args=(
            self.mesh, orders, self.rate, lambda o: self.placed.append(o.order_id), stopping))
        placer.start()
        try:
            wait_until(lambda: len(self.placed) >= 3 * self.rate, 60, "orders flowing")
            for service in deploy_order(self.old):
                if service in self.old:
                    self._upgrade(service)
                else:
                    self._join(service)
            self.say(f"every instance runs the new code; {len(self.placed)} orders placed")
            time.sleep(self.after)
        finally:
            stopping.set()
            placer.join()

    def _join(self, service: str) -> None:
        processes = self.mesh.join(service)
        for process in processes:
            process.start()
        for process in processes:
            self._serving(process)
        self.say(f"{service} joined: {len(processes)} instances on the new code")

    def _upgrade(self, service: str) -> None:
        first, *others = self.mesh.instances_of(service)
        if service == "order_service":
            self.first_new = len(self.placed)
        self._restart_on_new_code(first)
        mixed_from = len(self.placed)
        time.sleep(self.dwell)  # an old and a new instance of the service, side by side
        self.mixed[service] = len(self.placed) - mixed_from
        for process in others:
            self._restart_on_new_code(process)
        if service == "order_service":
            self.all_new = len(self.placed) + 1  # the one in flight may have gone to an old one
        self.say(f"{service} upgraded; {self.mixed[service]} orders placed while old and new "
                 "instances ran side by side")

    def _restart_on_new_code(self, process: ServiceProcess) -> None:
        process.stop()
        process.code_dir = None
        process.start()
        self._serving(process)

    def _serving(self, process: ServiceProcess) -> None:
        process.wait_healthy(90)
        wait_until(lambda: owned(process) > 0, 90, f"{process.instance} owning partitions")

    def check(self, settle_timeout: float) -> RolloutReport:
        report = RolloutReport(ref="", orders=len(self.placed), mixed_orders=self.mixed)
        report.violations = settled_violations(self.mesh.stores, set(self.placed), settle_timeout)
        old, new = set(self.placed[:self.first_new]), set(self.placed[self.all_new:])
        screened, rejected, reserved = _screenings(self.mesh.stores)
        report.old_flow, report.new_flow = len(old), len(new)
        report.screened, report.fraud_rejected = len(new & screened), len(new & rejected)
        if old & screened:
            report.violations.append(f"{len(old & screened)} sagas of flow 1 were screened, "
                                     f"e.g. {sorted(old & screened)[0]}")
        if (new & reserved) - screened:
            report.violations.append(f"{len((new & reserved) - screened)} sagas of flow 2 got "
                                     f"their stock but no screening, e.g. "
                                     f"{sorted((new & reserved) - screened)[0]}")
        report.dead_letters = asyncio.run(_dead_letters(self.mesh))
        return report


def _screenings(stores: Stores) -> tuple[set[str], set[str], set[str]]:
    """The orders fraud_service screened, those it rejected, and those whose stock was
    reserved (as the order service's history has it)."""
    screenings = rows(stores, "fraud_service", "SELECT order_id, verdict FROM screenings")
    reserved = rows(stores, "order_service", "SELECT DISTINCT order_id FROM order_history "
                                             "WHERE event_type = 'StockReserved'")
    return ({order_id for order_id, _ in screenings},
            {order_id for order_id, verdict in screenings if verdict == "REJECTED"},
            {order_id for (order_id,) in reserved})


async def _dead_letters(mesh: Mesh) -> int:
    settings = ToolSettings(kafka_bootstrap_servers=mesh.bootstrap, topic_prefix=mesh.prefix)
    return sum(state.messages for state in await topic_states(settings)
               if state.name.endswith(DLT_SUFFIX))


def rollout(ref: str, bootstrap: str, databases: dict[str, str], data_dir: Path, *,
            rate: float = 10.0, dwell: float = 4.0, after: float = 8.0,
            settle_timeout: float = 180.0, say: Callable[[str], None] = print) -> RolloutReport:
    started = time.monotonic()
    prefix = f"rollout{int(time.time())}."
    with checkout(ref) as code:
        old = services_in(code)
        resolved = subprocess.run(["git", "rev-parse", ref], capture_output=True, text=True,
                                  check=True).stdout.strip()
        with Mesh(data_dir, bootstrap, prefix, code_dir=code, instances=2, **databases,
                  **ENVIRONMENT) as mesh:
            say(f"two instances of each of {len(old)} services at {resolved[:12]} "
                f"(logs in {data_dir})")
            mesh.start()
            mesh.seed(Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix),
                      STOCK, BALANCES)
            run = Rollout(mesh, old, rate, dwell, after, say)
            run.run(plan(100_000, tag=prefix.rstrip(".")))
            say(f"{len(run.placed)} orders placed; waiting for every saga to finish")
            report = run.check(settle_timeout)
    report.ref, report.duration = resolved, time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.rollout",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="ref", default=BEFORE_SCREENING,
                        help="the release the mesh starts on (a git ref)")
    parser.add_argument("--rate", type=float, default=10.0, help="orders placed per second")
    parser.add_argument("--dwell", type=float, default=4.0,
                        help="seconds an old and a new instance of a service run side by side")
    parser.add_argument("--after", type=float, default=8.0,
                        help="seconds orders go on once every instance is upgraded")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(".run") / "rollout" / time.strftime("%Y%m%d-%H%M%S"))
    args = parser.parse_args(argv)
    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    say("the broker KAFKA_BOOTSTRAP_SERVERS names, else a local one")
    with broker() as bootstrap, \
            service_databases(args.data_dir / "postgres", say) as databases:
        report = rollout(args.ref, bootstrap, databases, args.data_dir, rate=args.rate,
                         dwell=args.dwell, after=args.after, say=say)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
