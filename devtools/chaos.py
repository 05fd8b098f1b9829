"""`make chaos`: mixed orders while services are SIGKILLed, one is frozen past its session
timeout and the broker restarts; afterwards every guarantee is checked.

``--instances 2`` runs two instances of each service on PostgreSQL (the databases
``SAGA_DATABASE_URL`` names, else a local PostgreSQL of its own), places orders through every
order-service instance, and makes some kills failovers: an instance left down past the session
timeout, its partitions taken over by the other, sometimes both instances of a service in turn
(never both at once; devtools/servicechaos.py).

``--cluster`` runs on a local three-broker cluster (every topic three replicas, two in sync)
and adds broker faults under load (devtools/brokerchaos.py): the leader of the busiest
partitions and the active controller SIGKILLed and started again, a broker frozen past its
session timeout.

Ends with one line: ``orders=… kills=… freezes=… broker_restarts=… broker_kills=…
broker_freezes=… duration=…s violations=0`` (or the list of violations; with ``--instances``
also ``instance_kills=…``, the failovers), and exit status 0 only when there were none.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from devtools.brokerchaos import BrokerFaults
from devtools.databases import service_databases
from devtools.invariants import settled_violations
from devtools.processes import Mesh, free_port
from devtools.servicechaos import ServiceFaults
from devtools.workload import BALANCES, STOCK, PlannedOrder, plan
from localkafka import LocalKafka
from participants import SERVICES_IN
from sagactl.topics import partitions_behind
from shared.settings import Settings, ToolSettings

SESSION_TIMEOUT_MS = 6000


@dataclass(frozen=True)
class ChaosPlan:
    orders: int = 200
    rate: float = 20.0             # orders placed per second
    kill_every: float = 3.0        # seconds between SIGKILLs
    min_kills: int = 5             # keep killing after the last order until this many
    instances: int = 1             # processes per service (more than one: on PostgreSQL)
    min_instance_kills: int = 3    # with several: failovers, at least
    freezes: int = 1               # SIGSTOPs longer than the consumer session timeout
    deadline: float = 0.0          # > 0: every order's deadline (s), and freezes outlast it
    broker_restarts: int = 1       # the whole broker (every node) stopped and started
    brokers: int = 1               # 3: a replicated cluster, and the broker faults below
    broker_kills: int = 0          # SIGKILLs of a node: the busiest leader, the controller, …
    broker_freezes: int = 0        # SIGSTOPs of a node past its session timeout
    broker_down: float = 10.0      # seconds a killed node stays down
    fault_rate: float = 0.02       # injected transient handler failures
    settle_timeout: float = 300.0
    seed: int = 1
    mode: str = "choreographed"    # SAGA_MODE: orchestrated adds the orchestrator (a victim too)


@dataclass
class ChaosReport:
    orders: int = 0
    kills: int = 0
    instance_kills: int = 0        # failovers: an instance down past the session timeout
    freezes: int = 0
    broker_restarts: int = 0
    broker_kills: int = 0
    broker_freezes: int = 0
    duration: float = 0.0
    violations: list[str] = field(default_factory=list)
    instances: int = 1

    def summary(self) -> str:
        found = ("0" if not self.violations else
                 f"{len(self.violations)}: " + "; ".join(self.violations[:25]))
        failovers = f" instance_kills={self.instance_kills}" if self.instances > 1 else ""
        return (f"orders={self.orders} kills={self.kills}{failovers} freezes={self.freezes} "
                f"broker_restarts={self.broker_restarts} broker_kills={self.broker_kills} "
                f"broker_freezes={self.broker_freezes} duration={self.duration:.0f}s "
                f"violations={found}")


def service_environment(fault_rate: float, replication_factor: int = 1,
                        deadline: float = 0.0) -> dict[str, str]:
    """With a ``deadline`` every order gets it (the order service's default deadline)."""
    return {**({"SAGA_ORDER_DEADLINE_SECONDS": str(deadline)} if deadline else {}),
            "SAGA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS), "SAGA_HEARTBEAT_INTERVAL_MS": "1500",
            "SAGA_FAULT_RATE": str(fault_rate), "SAGA_RETRY_MAX_ATTEMPTS": "40",
            "SAGA_RETRY_BASE_DELAY": "0.05", "SAGA_RETRY_MAX_DELAY": "2",
            "SAGA_SEND_TIMEOUT": "5", "SAGA_WATCHDOG_TIMEOUT": "30",
            "SAGA_TOPIC_REPLICATION_FACTOR": str(replication_factor)}


class ChaosRun:
    def __init__(self, chaos: ChaosPlan, data_dir: Path, bootstrap: str | None = None,
                 say: Callable[[str], None] = lambda message: None) -> None:
        self.chaos, self.data_dir, self.external = chaos, data_dir, bootstrap
        self.say = say
        self.rng = random.Random(chaos.seed)
        self.report = ChaosReport(instances=chaos.instances)
        self.placed = 0
        self.faults: BrokerFaults | None = None
        self.service_faults: ServiceFaults | None = None

    def run(self) -> ChaosReport:
        started = time.monotonic()
        prefix = f"chaos-{int(time.time())}."
        # Databases may outlive the run (SAGA_DATABASE_URL): its orders need ids of their own.
        orders = plan(self.chaos.orders, self.chaos.seed, tag=prefix.rstrip("."))
        with self._broker() as broker, self._databases() as databases:
            replication = 3 if self.chaos.brokers >= 3 else 1
            if broker is not None and self.chaos.brokers > 1:
                self.faults = BrokerFaults(broker, prefix, kills=self.chaos.broker_kills,
                                           freezes=self.chaos.broker_freezes,
                                           down=self.chaos.broker_down, say=self.say)
            with Mesh(self.data_dir, self._bootstrap(broker), prefix,
                      instances=self.chaos.instances, mode=self.chaos.mode, **databases,
                      **service_environment(self.chaos.fault_rate, replication,
                                            self.chaos.deadline)) as mesh:
                self.service_faults = ServiceFaults(mesh, self.rng, self.report,
                                                    session_timeout=SESSION_TIMEOUT_MS / 1000,
                                                    say=self.say,
                                                    # Long freezes: sagas waiting on the frozen
                                                    # service meet their deadline meanwhile.
                                                    freeze_for=self.chaos.deadline + 10)
                self.say(f"starting {len(mesh.services)} service processes (logs in "
                         f"{self.data_dir})")
                mesh.start()
                mesh.seed(Settings(kafka_bootstrap_servers=self._bootstrap(broker),
                                   topic_prefix=prefix), STOCK, BALANCES)
                self._place_under_fire(mesh, broker, orders)
                self.report.violations = self._settle(mesh, {o.order_id for o in orders})
        self.report.orders = len(orders)
        if self.faults is not None:
            self.report.broker_kills = self.faults.kills
            self.report.broker_freezes = self.faults.freezes
        self.report.duration = time.monotonic() - started
        return self.report

    @contextlib.contextmanager
    def _broker(self) -> Iterator[LocalKafka | None]:
        if self.external:
            yield None
            return
        if self.chaos.brokers > 1:
            self.say(f"starting a {self.chaos.brokers}-broker cluster")
        with LocalKafka(self.data_dir / "kafka", brokers=self.chaos.brokers,
                        port=free_port() if self.chaos.brokers == 1 else 0) as broker:
            yield broker

    @contextlib.contextmanager
    def _databases(self) -> Iterator[dict[str, str]]:
        """One SQLite file per service, or with several instances PostgreSQL."""
        if self.chaos.instances == 1:
            yield {}
            return
        with service_databases(self.data_dir / "postgres", self.say) as databases:
            yield databases

    def _bootstrap(self, broker: LocalKafka | None) -> str:
        return self.external or broker.bootstrap_servers

    def _place_under_fire(self, mesh: Mesh, broker: LocalKafka | None,
                          orders: list[PlannedOrder]) -> None:
        placer = threading.Thread(target=self._place_all, args=(mesh, orders), daemon=True)
        placer.start()
        freeze_at, restart_at = len(orders) // 3, 2 * len(orders) // 3
        faults_from = len(orders) // 10
        faults = self.service_faults
        while (placer.is_alive() or self.report.kills < self.chaos.min_kills
               or self._failovers_short()
               or (self.faults is not None and not self.faults.done)):
            time.sleep(self.chaos.kill_every)
            if self.report.freezes < self.chaos.freezes and self.placed >= freeze_at:
                faults.freeze(self.placed)
            if self._may_restart(broker) and self.placed >= restart_at:
                self._restart_broker(broker)
            if self.faults is not None and self.placed >= faults_from:
                self.faults.step(self.placed)
            faults.kill(self.placed)
        placer.join()
        while self.report.freezes < self.chaos.freezes:  # a short run still gets every fault
            if not faults.freeze(self.placed):
                time.sleep(1)  # an instance is down: its sibling may not freeze yet
        while self._may_restart(broker):
            self._restart_broker(broker)
        faults.finish()

    def _failovers_short(self) -> bool:
        return (self.chaos.instances > 1
                and self.report.instance_kills < self.chaos.min_instance_kills)

    def _place_all(self, mesh: Mesh, orders: list[PlannedOrder]) -> None:
        def placed(_: PlannedOrder) -> None:
            self.placed += 1
        place(mesh, orders, self.chaos.rate, placed)

    def _may_restart(self, broker: LocalKafka | None) -> bool:
        return broker is not None and self.report.broker_restarts < self.chaos.broker_restarts

    def _restart_broker(self, broker: LocalKafka) -> None:
        self.say(f"restarting the broker ({self.placed} orders placed)")
        broker.restart()
        self.report.broker_restarts += 1

    def _settle(self, mesh: Mesh, order_ids: set[str]) -> list[str]:
        self.say("all orders placed; waiting for every saga to finish")
        if self.faults is not None:
            self.faults.finish()
        for service in mesh.services.values():
            if not service.alive():
                service.start()
            service.wait_healthy(120)
        found = settled_violations(mesh.stores, order_ids, self.chaos.settle_timeout)
        if found:
            for line in _where_each_service_stands(mesh):
                self.say(line)
        return found


def _where_each_service_stands(mesh: Mesh) -> list[str]:
    """What a stuck run leaves to look at: each service's health and consumer lag, and every
    partition a group has not committed to its end."""
    settings = ToolSettings(kafka_bootstrap_servers=mesh.bootstrap, topic_prefix=mesh.prefix)
    readers = {spec.name: spec.consumed_topics for spec in SERVICES_IN[mesh.mode]}
    try:
        behind = asyncio.run(partitions_behind(settings, readers))
    except Exception as error:  # a diagnosis must not hide the violations it explains
        behind = []
        lines = [f"committed offsets unknown: {error!r}"]
    else:
        lines = []
    lines += [f"{group} committed {tp.topic.removeprefix(mesh.prefix)}[{tp.partition}] at "
              f"{'nothing' if committed is None else committed} of {end}"
              for group, tp, committed, end in behind]
    for service in mesh.services.values():
        try:
            health = httpx.get(f"{service.url}/health", timeout=2).text
            lag = [line for line in httpx.get(f"{service.url}/metrics", timeout=2).text.splitlines()
                   if line.startswith("saga_consumer_lag{") and not line.endswith(" 0.0")]
        except httpx.HTTPError as error:
            lines.append(f"{service.instance}: no answer ({error!r})")
            continue
        lines.append(f"{service.instance}: {health}")
        lines += [f"{service.instance}: {line}" for line in lag]
    return lines


def place(mesh: Mesh, orders: list[PlannedOrder], rate: float,
          placed: Callable[[PlannedOrder], None] = lambda planned: None,
          stopping: threading.Event | None = None) -> None:
    """Place ``orders`` (and ask for the planned cancellations) at ``rate`` per second, until
    ``stopping`` is set. Each request to the next order-service instance (any of them serves
    every order), and to the one after it while one does not answer; ``placed(it)`` after each."""
    apis = itertools.cycle([process.url for process in mesh.instances_of("order_service")])
    with httpx.Client(timeout=10) as client:
        for planned in orders:
            if stopping is not None and stopping.is_set():
                return
            _retry(partial(client.post, json=planned.body), "/orders", apis, (201, 409))
            if planned.cancel:
                _retry(client.post, f"/orders/{planned.order_id}/cancellation", apis,
                       (202, 409))
            placed(planned)
            time.sleep(1 / rate)


def _retry(call: Callable[[str], httpx.Response], path: str, apis: Iterator[str],
           ok: tuple[int, ...], timeout: float = 180.0):
    """Clients retry, at the next instance, while the order service is down; the order id
    makes it idempotent."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if call(next(apis) + path).status_code in ok:
                return
        if time.monotonic() > deadline:
            raise TimeoutError("the order API did not accept a request for 180s")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = ChaosPlan()
    for name in ("orders", "rate", "kill_every", "freezes", "broker_restarts", "fault_rate",
                 "settle_timeout", "seed", "broker_kills", "broker_freezes", "broker_down",
                 "instances", "min_instance_kills", "deadline"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(getattr(defaults, name)),
                            default=None, help=f"default {getattr(defaults, name)}")
    parser.add_argument("--cluster", action="store_true",
                        help="a local 3-broker cluster, and broker faults (default: 4 broker "
                             "kills, 1 broker freeze, no whole-broker restart)")
    parser.add_argument("--mode", choices=("choreographed", "orchestrated"), default=None,
                        help="how the saga runs (SAGA_MODE); orchestrated: the orchestrator "
                             "is killed and frozen like every service")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(".run") / "chaos" / time.strftime("%Y%m%d-%H%M%S"))
    args = vars(parser.parse_args(argv))
    if args["instances"] is not None and args["instances"] < 1:
        parser.error("--instances must be 1 or more")
    data_dir, cluster = args.pop("data_dir"), args.pop("cluster")
    if cluster:
        args = {"broker_kills": 4, "broker_freezes": 1, "broker_restarts": 0,
                **{k: v for k, v in args.items() if v is not None}, "brokers": 3}
    settings = Settings()
    external = (settings.kafka_bootstrap_servers
                if "kafka_bootstrap_servers" in settings.model_fields_set else None)
    if external and cluster:
        parser.error("--cluster starts a cluster of its own: unset KAFKA_BOOTSTRAP_SERVERS")
    chaos = ChaosPlan(**{k: v for k, v in args.items() if v is not None})
    report = ChaosRun(chaos, data_dir, external,
                      say=lambda message: print(message, file=sys.stderr, flush=True)).run()
    print(report.summary())
    return 0 if not report.violations else 1


if __name__ == "__main__":
    sys.exit(main())
