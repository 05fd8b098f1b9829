"""The services as separate OS processes: start, wait healthy, kill, freeze, stop.

Used by `make demo`, `make chaos` and the crash tests. Each service gets its
own log file, SQLite file and HTTP port; every process started here is stopped
here, also when the caller fails.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devtools.invariants import Stores
from participants import SERVICES as PARTICIPATING
from sagactl.kafka import publish
from sagactl.seeding import seed_payloads
from shared.events import Event
from shared.orchestration import ORCHESTRATOR
from shared.settings import Settings
from shared.store import open_store

#: Every service of the choreography (participants.SERVICES), by name.
SERVICES = tuple(spec.name for spec in PARTICIPATING)


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, and never one this process handed out before: the
    kernel may offer a port again once its probe is closed, and a mesh asks for ten before
    any service binds one (two services on one port: one dies, the other answers for both)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def services_in(code_dir: Path | None) -> tuple[str, ...]:
    """The services a checkout has: all of them, or an older checkout's (``code_dir``, say a
    baseline for `make bench` from before a service joined)."""
    if code_dir is None:
        return SERVICES
    return tuple(name for name in SERVICES if (code_dir / name / "__main__.py").exists())


class ServiceProcess:
    def __init__(self, name: str, data_dir: Path, env: dict[str, str | None],
                 code_dir: Path | None = None, instance: str | None = None) -> None:
        """``instance``: its name when the service runs several (they share a PostgreSQL
        database: SAGA_DATABASE_URL in ``env``); its log is then named after it. A variable
        that is None in ``env`` is not passed on, even when this process's environment has it.
        ``data_dir`` is this process's local disk: made again if it was deleted."""
        self.name, self.data_dir, self.instance = name, data_dir, instance or name
        #: Run the service from another checkout (e.g. a baseline commit for `make bench`).
        self.code_dir = code_dir
        self.port = free_port()
        self.env = {**env, "SAGA_DATABASE_PATH": str(data_dir / f"{name}.db"),
                    "SAGA_HTTP_PORT": str(self.port),
                    **({"SAGA_GROUP_INSTANCE_ID": instance} if instance else {})}
        self.log_path = data_dir / f"{self.instance}.log"
        self.process: subprocess.Popen | None = None
        self.frozen = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra_env: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        code = {"PYTHONPATH": str(self.code_dir)} if self.code_dir else {}
        env = {**os.environ, **self.env, **code, **extra_env}
        self.process = subprocess.Popen([sys.executable, "-m", self.name],
                                         env={k: v for k, v in env.items() if v is not None},
                                         cwd=self.code_dir, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.frozen = False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); "
                                   f"see {self.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not healthy after {timeout}s; see {self.log_path}")
            time.sleep(0.2)

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, like a power cut to this process."""
        if self.alive():
            self.process.kill()
            self.process.wait()

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.frozen = False

    def terminate(self) -> None:
        """SIGTERM (to a thawed process), without waiting for it to stop."""
        if self.alive():
            if self.frozen:
                self.thaw()
            self.process.terminate()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, the way an orchestrator stops a service; SIGKILL if it hangs."""
        if not self.alive():
            return
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class Mesh:
    """The services as processes sharing one broker and one topic prefix; with
    ``instances`` > 1, that many processes of each service, named ``<service>-<n>``, sharing
    the service's PostgreSQL database (``SAGA_DATABASE_URL`` in ``env`` or the environment;
    ``SAGA_DATABASE_URL=None`` keeps them on SQLite whatever the environment says), each with a
    directory of its own, ``data_dir/<service>-<n>``, for its log."""

    def __init__(self, data_dir: Path, bootstrap: str, prefix: str, *,
                 code_dir: Path | None = None, service_env: dict[str, dict] | None = None,
                 instances: int = 1, mode: str = "choreographed", **env: str | None) -> None:
        """``service_env`` adds environment per service (in secure mode, its principal);
        ``mode`` is how the saga runs (SAGA_MODE): orchestrated adds orchestrator_service."""
        data_dir.mkdir(parents=True, exist_ok=True)
        common = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SAGA_TOPIC_PREFIX": prefix,
                  "SAGA_MODE": mode, **env}
        self.mode = mode
        self.data_dir, self.bootstrap, self.prefix = data_dir, bootstrap, prefix
        # None in ``env`` keeps the environment's value from the services (SQLite, say).
        self.database_url, self.database_password_file = (
            env[name] if name in env else os.environ.get(name)
            for name in ("SAGA_DATABASE_URL", "SAGA_DATABASE_PASSWORD_FILE"))
        if instances > 1 and not self.database_url:
            raise ValueError("several instances of a service share a PostgreSQL database: "
                             "set SAGA_DATABASE_URL (eval $(make -s postgres))")
        self._common, self._service_env, self.instances = common, service_env or {}, instances
        self.services: dict[str, ServiceProcess] = {}
        for name in services_in(code_dir) + ((ORCHESTRATOR,) if mode == "orchestrated" else ()):
            self._add(name, code_dir)

    def _add(self, name: str, code_dir: Path | None) -> list[ServiceProcess]:
        added = []
        for n in range(1, self.instances + 1):
            instance = None if self.instances == 1 else f"{name}-{n}"
            process = ServiceProcess(name, self.data_dir / instance if instance else self.data_dir,
                                     {**self._common, **self._service_env.get(name, {})},
                                     code_dir, instance)
            self.services[instance or name] = process
            added.append(process)
        return added

    def join(self, name: str) -> list[ServiceProcess]:
        """Add a service this mesh's code lacks, on this checkout's code (a step added by a
        rolling upgrade): as many instances as every other service has, not started yet."""
        if name in {process.name for process in self.services.values()}:
            raise ValueError(f"{name} already runs in this mesh")
        return self._add(name, None)

    def __getitem__(self, name: str) -> ServiceProcess:
        """An instance by its name; a service by its name (its first instance)."""
        return self.services.get(name) or self.instances_of(name)[0]

    @property
    def stores(self) -> Stores:
        """Where every service keeps its state: for the invariant checks."""
        if not self.database_url:
            return self.data_dir
        return {name: open_store(Settings(service_name=name, database_url=self.database_url,
                                          database_password_file=self.database_password_file))
                for name in dict.fromkeys(p.name for p in self.services.values())}

    def instances_of(self, service: str) -> list[ServiceProcess]:
        return [process for process in self.services.values() if process.name == service]

    @property
    def order_api(self) -> str:
        return self["order_service"].url

    def start(self, timeout: float = 90.0, overrides: dict[str, dict[str, str]] | None = None
              ) -> None:
        """Start them all; ``overrides`` adds environment for this first start of a service."""
        for name, service in self.services.items():
            service.start(**(overrides or {}).get(name, {}))
        for service in self.services.values():
            service.wait_healthy(timeout)

    def stop(self) -> None:
        """Every process told at once, so that they stop side by side."""
        for service in self.services.values():
            service.terminate()
        for service in self.services.values():
            service.stop()

    def seed(self, settings: Settings, stock: dict[str, int], balances: dict[str, str],
             timeout: float = 60.0) -> None:
        """Publish stock and balances, and wait until the services have applied them: they
        travel on other topics than the orders, so an early order could find no stock."""
        payloads = seed_payloads({"stock": stock, "balances": balances})
        asyncio.run(publish(settings, [Event.new(p, producer="seed") for p in payloads]))
        deadline = time.monotonic() + timeout
        while not self._seeded(stock, balances, settings.api_headers()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"seed data did not arrive within {timeout:.0f}s")
            time.sleep(0.2)

    def _seeded(self, stock: dict[str, int], balances: dict[str, str],
                headers: dict[str, str]) -> bool:
        try:
            levels = httpx.get(f"{self['inventory_service'].url}/stock", headers=headers,
                               timeout=5).json()
            funded = all(httpx.get(f"{self['payment_service'].url}/accounts/{customer}",
                                   headers=headers, timeout=5).status_code == 200
                         for customer in balances)
        except httpx.HTTPError:
            return False
        return {level["sku"] for level in levels["stock"]} >= set(stock) and funded

    def __enter__(self) -> Mesh:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
