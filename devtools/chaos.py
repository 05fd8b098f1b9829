"""`make chaos`: mixed orders while services are SIGKILLed, one is frozen past its session
timeout and the broker restarts; afterwards every guarantee is checked.

``--cluster`` runs on a local three-broker cluster (every topic three replicas, two in sync)
and adds broker faults under load (devtools/brokerchaos.py): the leader of the busiest
partitions and the active controller SIGKILLed and started again, a broker frozen past its
session timeout.

Ends with one line: ``orders=… kills=… freezes=… broker_restarts=… broker_kills=…
broker_freezes=… duration=…s violations=0`` (or the list of violations), and exit status 0
only when there were none.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from devtools.invariants import violations
from devtools.processes import Mesh, ServiceProcess, free_port
from devtools.workload import BALANCES, STOCK, PlannedOrder, plan
from localkafka import LocalKafka
from participants import SERVICES
from sagactl.topics import partitions_behind
from shared.settings import Settings, ToolSettings

SESSION_TIMEOUT_MS = 6000


@dataclass(frozen=True)
class ChaosPlan:
    orders: int = 200
    rate: float = 20.0             # orders placed per second
    kill_every: float = 3.0        # seconds between SIGKILLs
    min_kills: int = 5             # keep killing after the last order until this many
    freezes: int = 1               # SIGSTOPs longer than the consumer session timeout
    broker_restarts: int = 1       # the whole broker (every node) stopped and started
    brokers: int = 1               # 3: a replicated cluster, and the broker faults below
    broker_kills: int = 0          # SIGKILLs of a node: the busiest leader, the controller, …
    broker_freezes: int = 0        # SIGSTOPs of a node past its session timeout
    broker_down: float = 10.0      # seconds a killed node stays down
    fault_rate: float = 0.02       # injected transient handler failures
    settle_timeout: float = 300.0
    seed: int = 1


@dataclass
class ChaosReport:
    orders: int = 0
    kills: int = 0
    freezes: int = 0
    broker_restarts: int = 0
    broker_kills: int = 0
    broker_freezes: int = 0
    duration: float = 0.0
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        found = ("0" if not self.violations else
                 f"{len(self.violations)}: " + "; ".join(self.violations[:25]))
        return (f"orders={self.orders} kills={self.kills} freezes={self.freezes} "
                f"broker_restarts={self.broker_restarts} broker_kills={self.broker_kills} "
                f"broker_freezes={self.broker_freezes} duration={self.duration:.0f}s "
                f"violations={found}")


def service_environment(fault_rate: float, replication_factor: int = 1) -> dict[str, str]:
    return {"SAGA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS), "SAGA_HEARTBEAT_INTERVAL_MS": "1500",
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
        self.report = ChaosReport()
        self.placed = 0
        self._thaws: list[threading.Timer] = []
        self.faults: BrokerFaults | None = None

    def run(self) -> ChaosReport:
        started = time.monotonic()
        orders = plan(self.chaos.orders, self.chaos.seed)
        with self._broker() as broker:
            prefix = f"chaos-{int(time.time())}."
            replication = 3 if self.chaos.brokers >= 3 else 1
            if broker is not None and self.chaos.brokers > 1:
                self.faults = BrokerFaults(broker, prefix, kills=self.chaos.broker_kills,
                                           freezes=self.chaos.broker_freezes,
                                           down=self.chaos.broker_down, say=self.say)
            with Mesh(self.data_dir, self._bootstrap(broker), prefix,
                      **service_environment(self.chaos.fault_rate, replication)) as mesh:
                self.say(f"starting the services (logs in {self.data_dir})")
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

    def _bootstrap(self, broker: LocalKafka | None) -> str:
        return self.external or broker.bootstrap_servers

    def _place_under_fire(self, mesh: Mesh, broker: LocalKafka | None,
                          orders: list[PlannedOrder]) -> None:
        placer = threading.Thread(target=self._place_all, args=(mesh, orders), daemon=True)
        placer.start()
        freeze_at, restart_at = len(orders) // 3, 2 * len(orders) // 3
        faults_from = len(orders) // 10
        while (placer.is_alive() or self.report.kills < self.chaos.min_kills
               or (self.faults is not None and not self.faults.done)):
            time.sleep(self.chaos.kill_every)
            if self.report.freezes < self.chaos.freezes and self.placed >= freeze_at:
                self._freeze(mesh)
            if self._may_restart(broker) and self.placed >= restart_at:
                self._restart_broker(broker)
            if self.faults is not None and self.placed >= faults_from:
                self.faults.step(self.placed)
            self._kill(mesh)
        placer.join()
        while self.report.freezes < self.chaos.freezes:  # a short run still gets every fault
            self._freeze(mesh)
        while self._may_restart(broker):
            self._restart_broker(broker)
        for thaw in self._thaws:
            thaw.join()

    def _place_all(self, mesh: Mesh, orders: list[PlannedOrder]) -> None:
        with httpx.Client(base_url=mesh.order_api, timeout=10) as client:
            for planned in orders:
                _retry(partial(client.post, "/orders", json=planned.body), (201, 409))
                if planned.cancel:
                    _retry(partial(client.post, f"/orders/{planned.order_id}/cancellation"),
                           (202, 409))
                self.placed += 1
                time.sleep(1 / self.chaos.rate)

    def _kill(self, mesh: Mesh) -> None:
        victim = self.rng.choice([s for s in mesh.services.values() if not s.frozen])
        victim.kill()
        self.report.kills += 1
        self.say(f"SIGKILL {victim.name} ({self.placed} orders placed)")
        time.sleep(0.3)
        victim.start()

    def _freeze(self, mesh: Mesh) -> None:
        """Longer than the session timeout: the group evicts it; on SIGCONT it must rejoin."""
        victim: ServiceProcess = self.rng.choice(list(mesh.services.values()))
        seconds = SESSION_TIMEOUT_MS / 1000 + 3
        self.say(f"SIGSTOP {victim.name} for {seconds:.0f}s (session timeout "
                 f"{SESSION_TIMEOUT_MS / 1000:.0f}s)")
        victim.freeze()
        thaw = threading.Timer(seconds, victim.thaw)
        thaw.start()
        self._thaws.append(thaw)
        self.report.freezes += 1

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
        deadline = time.monotonic() + self.chaos.settle_timeout
        while (found := violations(self.data_dir, order_ids)) and time.monotonic() < deadline:
            time.sleep(1)
        if found:
            for line in _where_each_service_stands(mesh):
                self.say(line)
        return found


def _where_each_service_stands(mesh: Mesh) -> list[str]:
    """What a stuck run leaves to look at: each service's health and consumer lag, and every
    partition a group has not committed to its end."""
    settings = ToolSettings(kafka_bootstrap_servers=mesh.bootstrap, topic_prefix=mesh.prefix)
    readers = {spec.name: spec.consumed_topics for spec in SERVICES}
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
            lines.append(f"{service.name}: no answer ({error!r})")
            continue
        lines.append(f"{service.name}: {health}")
        lines += [f"{service.name}: {line}" for line in lag]
    return lines


def _retry(call: Callable[[], httpx.Response], ok: tuple[int, ...], timeout: float = 180.0):
    """Clients retry while the order service is down; the order id makes it idempotent."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if call().status_code in ok:
                return
        if time.monotonic() > deadline:
            raise TimeoutError("the order API did not accept a request for 180s")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = ChaosPlan()
    for name in ("orders", "rate", "kill_every", "freezes", "broker_restarts", "fault_rate",
                 "settle_timeout", "seed", "broker_kills", "broker_freezes", "broker_down"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(getattr(defaults, name)),
                            default=None, help=f"default {getattr(defaults, name)}")
    parser.add_argument("--cluster", action="store_true",
                        help="a local 3-broker cluster, and broker faults (default: 4 broker "
                             "kills, 1 broker freeze, no whole-broker restart)")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(".run") / "chaos" / time.strftime("%Y%m%d-%H%M%S"))
    args = vars(parser.parse_args(argv))
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
