"""`make services` / `make services-stop`: the six services in the background, for a manual run.

    python -m devtools.services start    # start, wait until each answers /health, print URLs
    python -m devtools.services status   # which run, on which address
    python -m devtools.services stop     # SIGTERM each (they stop cleanly), SIGKILL if stuck

Each service gets its default port (8000-8004 and 8006, as in shared/settings.py; ``--port-base``
moves them all), its database and log in ``--state-dir`` (.run/services), and the environment of
the shell that started it (KAFKA_BOOTSTRAP_SERVERS, SAGA_*). Stdlib only, like devtools.wait_http:
it must work before anything else does.
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
                "payment_service": 2, "shipping_service": 3, "notification_service": 4}
NAMES = tuple(PORT_OFFSETS)


@dataclass(frozen=True)
class Services:
    state: Path
    port_base: int
    kafka_dir: Path = Path(".run") / "kafka"

    def port(self, name: str) -> int:
        return self.port_base + PORT_OFFSETS[name]

    def pid(self, name: str) -> int | None:
        """The pid of this service, if that process still runs it."""
        try:
            pid = int((self.state / f"{name}.pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError):
            return None
        return pid if name.encode() in cmdline and state != "Z" else None


def start(services: Services, timeout: float = 60.0) -> int:
    services.state.mkdir(parents=True, exist_ok=True)
    spawned: dict[str, subprocess.Popen] = {}
    for name in NAMES:
        if services.pid(name) is not None:
            continue
        log = (services.state / f"{name}.log").open("ab")
        env = {**os.environ, **_principal(services, name),
               "SAGA_HTTP_PORT": str(services.port(name)),
               "SAGA_DATABASE_PATH": str(services.state / f"{name}.db")}
        process = subprocess.Popen([sys.executable, "-m", name], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        (services.state / f"{name}.pid").write_text(str(process.pid))
        spawned[name] = process
    broker = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092 (the default)")
    print(f"waiting until the {len(NAMES)} services answer /health (Kafka: {broker})",
          file=sys.stderr)
    return _wait_healthy(services, timeout, spawned)


def _principal(services: Services, name: str) -> dict[str, str]:
    """In secure mode (`eval $(make -s kafka SECURE=1)`), each service runs as itself."""
    if os.environ.get("SAGA_KAFKA_SECURITY_PROTOCOL") != "SASL_SSL":
        return {}
    settings = services.kafka_dir / "clients" / f"{name}.env"
    return dict(line.split("=", 1) for line in settings.read_text().splitlines() if "=" in line)


def _wait_healthy(services: Services, timeout: float,
                  spawned: dict[str, subprocess.Popen]) -> int:
    """A process this call started is asked directly whether it exited (a look at /proc once
    took a starting service for a dead one); one already running, through its pid file."""
    deadline, pending = time.monotonic() + timeout, list(NAMES)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            exited = (spawned[name].poll() is not None if name in spawned
                      else services.pid(name) is None)
            if exited:
                print(f"{name} exited; see {services.state / f'{name}.log'}", file=sys.stderr)
                return 1
            if answers(f"http://127.0.0.1:{services.port(name)}/health"):
                print(f"{name:<22} http://127.0.0.1:{services.port(name)}")
                pending.remove(name)
        time.sleep(0.3)
    if pending:
        print(f"not healthy within {timeout:.0f}s: {', '.join(pending)}; see their logs in "
              f"{services.state}/ (is Kafka at KAFKA_BOOTSTRAP_SERVERS running?)", file=sys.stderr)
        return 1
    return 0


def stop(services: Services, timeout: float = 20.0) -> int:
    for name in NAMES:
        pid = services.pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, timeout)
            print(f"{name} stopped", file=sys.stderr)
        (services.state / f"{name}.pid").unlink(missing_ok=True)
    return 0


def status(services: Services) -> int:
    running = {name: services.pid(name) for name in NAMES}
    for name, pid in running.items():
        shown = f"running pid {pid}, port {services.port(name)}" if pid else "stopped"
        print(f"{name:<22} {shown}")
    return 0 if all(running.values()) else 1


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
    args = parser.parse_args(argv)
    return commands[args.command](Services(args.state_dir, args.port_base, args.kafka_dir))


if __name__ == "__main__":
    sys.exit(main())
