"""The real `sagactl`, in its own process, as an operator runs it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def sagactl_env(mesh=None, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("SAGA_") and key != "KAFKA_BOOTSTRAP_SERVERS"}
    if mesh is not None:
        env.update(KAFKA_BOOTSTRAP_SERVERS=mesh.tool.kafka_bootstrap_servers,
                   SAGA_TOPIC_PREFIX=mesh.prefix)
        if mesh.runtimes:
            urls = {name: runtime.http.url for name, runtime in mesh.runtimes.items()}
            env.update(SAGA_SERVICE_URLS=json.dumps(urls),
                       SAGA_ORDER_API_URL=urls.get("order_service", "http://127.0.0.1:1"))
    return {**env, **extra}


def run_sagactl(*args: str, env: dict[str, str], stdin: str | None = None,
                timeout: float = 60) -> Ran:
    result = subprocess.run([sys.executable, "-m", "sagactl", *args], env=env,
                            input=stdin or "", capture_output=True, text=True, timeout=timeout)
    return Ran(result.returncode, result.stdout, result.stderr)


async def sagactl(mesh, *args: str, **extra: str) -> Ran:
    return await asyncio.to_thread(run_sagactl, *args, env=sagactl_env(mesh, **extra))
