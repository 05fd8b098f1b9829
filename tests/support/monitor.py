"""The real `saga-monitor` process, against a mesh's broker and topic prefix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from devtools.processes import free_port


class MonitorProcess:
    def __init__(self, bootstrap: str, prefix: str, data_dir: Path, **env: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "saga_monitor.log"
        environment = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                       "SAGA_TOPIC_PREFIX": prefix, "SAGA_HTTP_PORT": str(self.port),
                       "SAGA_DATABASE_PATH": str(data_dir / "saga_monitor.db"),
                       "SAGA_LOG_LEVEL": "WARNING", **env}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "saga_monitor"], env=environment,
                                        stdout=self._log, stderr=subprocess.STDOUT)

    async def get(self, path: str) -> tuple[int | None, dict | None]:
        """(status, JSON body); (None, None) while nothing answers."""
        try:
            async with httpx.AsyncClient(base_url=self.url) as client:
                response = await client.get(path, timeout=5)
        except httpx.HTTPError:
            return None, None
        return response.status_code, response.json()

    async def json(self, path: str) -> dict | None:
        status, body = await self.get(path)
        return body if status == 200 else None

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
