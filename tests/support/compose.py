"""The real docker-compose.yml (and its overlays), driven from the host as a user would."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from devtools.orders import is_final
from devtools.processes import SERVICES, free_port
from tests.support.waiting import until

ROOT = Path(__file__).parents[2]
CONTAINERS = {name: name.replace("_", "-") for name in SERVICES}


class ComposeMesh:
    """One compose project on free host ports; ``overlays`` are extra compose files,
    ``options`` extra compose options (``--env-file``, ``--profile``) and ``env`` extra
    variables (for sagactl too)."""

    def __init__(self, compose: list[str], overlays: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, sagactl_env: dict[str, str] | None = None,
                 options: tuple[str, ...] = ()) -> None:
        self.project = f"sagae2e{uuid.uuid4().hex[:8]}"
        self.api_port, self.kafka_port, self.monitor_port = free_port(), free_port(), free_port()
        self.prometheus_port = free_port()
        self.env = {**os.environ, "ORDER_API_PORT": str(self.api_port),
                    "KAFKA_HOST_PORT": str(self.kafka_port), "MONITOR_PORT": str(self.monitor_port),
                    "PROMETHEUS_PORT": str(self.prometheus_port),
                    "KAFKA_2_HOST_PORT": str(free_port()), "KAFKA_3_HOST_PORT": str(free_port()),
                    **(env or {})}
        self.sagactl_env = sagactl_env or {}
        #: The services' API token (secure mode): sent with every request but /health.
        self.token: str | None = None
        files = [arg for name in ("docker-compose.yml", *overlays) for arg in ("-f", str(ROOT / name))]
        self.compose = [*compose, "-p", self.project, *files, *options]

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([*self.compose, *args], env=self.env, cwd=ROOT, timeout=timeout,
                              capture_output=True, text=True)

    def sagactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "sagactl", "-b", f"127.0.0.1:{self.kafka_port}",
             "--api", self.api, *args], capture_output=True, text=True, timeout=120, cwd=ROOT,
            env={**os.environ, **self.sagactl_env})
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def container(self, service: str) -> str:
        return self.run("ps", "-q", CONTAINERS.get(service, service)).stdout.strip()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def service_json(self, service: str, path: str) -> dict:
        """Services other than the order API publish no port: ask from inside the container."""
        probe = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
                 f"urllib.request.Request('http://127.0.0.1:8000{path}', headers="
                 f"{self.headers!r}), timeout=5).read().decode())")
        result = subprocess.run(["docker", "exec", self.container(service), "python", "-c",
                                 probe], capture_output=True, text=True, timeout=30)
        return json.loads(result.stdout) if result.returncode == 0 else {}

    def order(self, order_id: str) -> dict:
        return httpx.get(f"{self.api}/orders/{order_id}", headers=self.headers, timeout=10).json()

    def until(self, condition, timeout: float = 90, what: str = "condition"):
        return until(condition, timeout, what)

    def final(self, order_id: str) -> dict:
        def done():
            order = self.order(order_id)
            return order if is_final(order) else None
        return self.until(done, what=f"order {order_id} final")

    def seen(self, order_id: str, event_type: str) -> None:
        self.until(lambda: any(h["event_type"] == event_type
                               for h in self.order(order_id)["history"]), what=event_type)

    def place(self, *args: str) -> str:
        return self.sagactl("order", "place", *args).stdout.split()[0]

    def leftovers(self) -> dict[str, str]:
        label = f"label=com.docker.compose.project={self.project}"
        listings = {"container": ["docker", "ps", "-aq"], "network": ["docker", "network", "ls", "-q"],
                    "volume": ["docker", "volume", "ls", "-q"]}
        return {kind: subprocess.run([*command, "--filter", label], capture_output=True,
                                     text=True).stdout.strip()
                for kind, command in listings.items()}




def healthy(mesh: ComposeMesh) -> bool:
    try:
        ok = httpx.get(f"{mesh.api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
    states = [subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}",
                              mesh.container(s)], capture_output=True, text=True).stdout.strip()
              for s in SERVICES]
    return ok and states == ["healthy"] * len(SERVICES)


@contextlib.contextmanager
def brought_up(mesh: ComposeMesh, timeout: float = 300):
    """`up -d --build`, every container healthy; at the end `down -v` of every profile."""
    up = mesh.run("up", "-d", "--build")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        mesh.until(lambda: healthy(mesh), timeout=timeout, what="every container healthy")
        yield mesh
    finally:
        mesh.run("--profile", "observability", "--profile", "cluster", "--profile",
                 "orchestrated", "down", "-v", "--remove-orphans")
