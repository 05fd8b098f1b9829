"""`make services` / `make services-stop`: the six services in the background, for a manual run.

    python -m devtools.services start [--instances 2] [--mode orchestrated]  # wait for /health
    python -m devtools.services status   # which run, on which address
    python -m devtools.services stop     # SIGTERM each (they stop cleanly), SIGKILL if stuck

Each service gets its default port (8000-8004, 8006, and 8007 for the orchestrator when
``--mode orchestrated`` runs it, as in shared/settings.py; ``--port-base``
moves them all), its database and log in ``--state-dir`` (.run/services), and the environment of
the shell that started it (KAFKA_BOOTSTRAP_SERVERS, SAGA_*). With ``--instances N`` each service
runs as N processes named ``<service>-<n>`` (their SAGA_GROUP_INSTANCE_ID, pid and log files),
instance n on the first instance's port + 10·(n−1); they share the service's PostgreSQL
database, so SAGA_DATABASE_URL must be set (``eval $(make -s postgres)``). ``status`` and
``stop`` find whatever runs from the pid files. Stdlib only, like devtools.wait_http: it must
work before anything else does.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.wait_http import answers

#: Each service and its port, as an offset from the base: the default ports of
#: shared/settings.py (8005 is the monitor's). A unit test keeps both equal to the code's.
PORT_OFFSETS = {"order_service": 0, "inventory_service": 1, "fraud_service": 6,
                "payment_service": 2, "shipping_service": 3, "notification_service": 4,
                "orchestrator_service": 7}
NAMES = tuple(PORT_OFFSETS)
#: Runs only when the saga is orchestrated (SAGA_MODE=orchestrated, ``--mode``).
ORCHESTRATOR = "orchestrator_service"
#: Ports between one instance of a service and the next: room for the six and the monitor.
PORT_STRIDE = 10


@dataclass(frozen=True)
class Instance:
    service: str
    name: str   # its pid and log files; with several instances, its SAGA_GROUP_INSTANCE_ID
    port: int


@dataclass(frozen=True)
class Services:
    state: Path
    port_base: int
    kafka_dir: Path = Path(".run") / "kafka"
    instances: int = 1
    mode: str = "choreographed"

    @property
    def names(self) -> tuple[str, ...]:
        """The services of this mode: the orchestrator only when it runs the saga."""
        return tuple(name for name in NAMES if name != ORCHESTRATOR or self.mode == "orchestrated")

    def planned(self) -> list[Instance]:
        return [self.instance(name if self.instances == 1 else f"{name}-{n}")
                for n in range(1, self.instances + 1) for name in self.names]

    def instance(self, name: str) -> Instance:
        """``order_service`` (the only one), or ``order_service-2`` (one of several)."""
        service, _, number = name.rpartition("-") if name not in NAMES else (name, "", "1")
        port = self.port_base + PORT_STRIDE * (int(number) - 1) + PORT_OFFSETS[service]
        return Instance(service, name, port)

    def running(self) -> list[Instance]:
        """Every instance whose pid file names a live process of its service."""
        found = [self.instance(path.stem) for path in self.state.glob("*.pid")
                 if path.stem.split("-")[0] in NAMES]
        return sorted((instance for instance in found if self.pid(instance) is not None),
                      key=lambda instance: instance.port)

    def pid(self, instance: Instance) -> int | None:
        """The pid of this instance, if that process still runs its service."""
        try:
            pid = int((self.state / f"{instance.name}.pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError):
            return None
        return pid if instance.service.encode() in cmdline and state != "Z" else None


def start(services: Services, timeout: float = 60.0) -> int:
    if services.instances > 1 and not os.environ.get("SAGA_DATABASE_URL"):
        print(f"{services.instances} instances per service need PostgreSQL (SAGA_DATABASE_URL: "
              "they share the service's database): run `eval $(make -s postgres)` first",
              file=sys.stderr)
        return 2
    planned = services.planned()
    others = [i.name for i in services.running() if i not in planned]
    if others:
        print(f"already running with another number of instances ({', '.join(others)}): "
              "make services-stop first", file=sys.stderr)
        return 1
    services.state.mkdir(parents=True, exist_ok=True)
    spawned = {instance: _spawn(services, instance) for instance in planned
               if services.pid(instance) is None}
    broker = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092 (the default)")
    print(f"waiting until {len(planned)} service processes answer /health (Kafka: {broker})",
          file=sys.stderr)
    return _wait_healthy(services, planned, timeout, spawned)


def _spawn(services: Services, instance: Instance) -> subprocess.Popen:
    log = (services.state / f"{instance.name}.log").open("ab")
    named = {"SAGA_GROUP_INSTANCE_ID": instance.name} if services.instances > 1 else {}
    env = {**os.environ, **_principal(services, instance.service), **named,
           "SAGA_MODE": services.mode, "SAGA_HTTP_PORT": str(instance.port),
           "SAGA_DATABASE_PATH": str(services.state / f"{instance.service}.db")}
    process = subprocess.Popen([sys.executable, "-m", instance.service], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    (services.state / f"{instance.name}.pid").write_text(str(process.pid))
    return process


def _principal(services: Services, name: str) -> dict[str, str]:
    """In secure mode (`eval $(make -s kafka SECURE=1)`), each service runs as itself."""
    if os.environ.get("SAGA_KAFKA_SECURITY_PROTOCOL") != "SASL_SSL":
        return {}
    settings = services.kafka_dir / "clients" / f"{name}.env"
    return dict(line.split("=", 1) for line in settings.read_text().splitlines() if "=" in line)


def _wait_healthy(services: Services, planned: list[Instance], timeout: float,
                  spawned: dict[Instance, subprocess.Popen]) -> int:
    """A process this call started is asked directly whether it exited (a look at /proc once
    took a starting service for a dead one); one already running, through its pid file."""
    deadline, pending = time.monotonic() + timeout, list(planned)
    while pending and time.monotonic() < deadline:
        for instance in list(pending):
            exited = (spawned[instance].poll() is not None if instance in spawned
                      else services.pid(instance) is None)
            if exited:
                print(f"{instance.name} exited; see {services.state / f'{instance.name}.log'}",
                      file=sys.stderr)
                return 1
            if answers(f"http://127.0.0.1:{instance.port}/health"):
                print(f"{instance.name:<24} http://127.0.0.1:{instance.port}")
                pending.remove(instance)
        time.sleep(0.3)
    if pending:
        print(f"not healthy within {timeout:.0f}s: {', '.join(i.name for i in pending)}; see "
              f"their logs in {services.state}/ (is Kafka at KAFKA_BOOTSTRAP_SERVERS running?)",
              file=sys.stderr)
        return 1
    return 0


def stop(services: Services, timeout: float = 20.0) -> int:
    for instance in services.running():
        pid = services.pid(instance)
        os.kill(pid, signal.SIGTERM)
        _wait_gone(pid, timeout)
        print(f"{instance.name} stopped", file=sys.stderr)
    for pid_file in services.state.glob("*.pid"):
        pid_file.unlink(missing_ok=True)
    return 0


def status(services: Services) -> int:
    running = services.running()
    for instance in running or services.planned():
        pid = services.pid(instance)
        shown = f"running pid {pid}, port {instance.port}" if pid else "stopped"
        print(f"{instance.name:<24} {shown}")
    return 0 if {instance.service for instance in running} == set(services.names) else 1


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    commands = {"start": start, "stop": stop, "status": status}
    parser = argparse.ArgumentParser(prog="python -m devtools.services")
    parser.add_argument("command", choices=commands)
    parser.add_argument("--state-dir", type=Path, default=Path(".run") / "services",
                        help="pids, logs and databases")
    parser.add_argument("--port-base", type=int, default=8000, help="the order service's port; "
                        "the others follow it as the defaults do (8000-8004, 8006)")
    parser.add_argument("--kafka-dir", type=Path, default=Path(".run") / "kafka",
                        help="where a secure broker keeps each principal's settings")
    parser.add_argument("--instances", type=int, default=1,
                        help="processes per service (start; more than one needs PostgreSQL)")
    parser.add_argument("--mode", choices=("choreographed", "orchestrated"),
                        default=os.environ.get("SAGA_MODE", "choreographed"),
                        help="how the saga runs (SAGA_MODE); orchestrated adds "
                             "orchestrator_service (port 8007)")
    args = parser.parse_args(argv)
    if args.instances < 1:
        parser.error("--instances must be 1 or more")
    return commands[args.command](Services(args.state_dir, args.port_base, args.kafka_dir,
                                           args.instances, args.mode))


if __name__ == "__main__":
    sys.exit(main())
