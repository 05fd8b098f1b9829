"""The real services as asyncio tasks in the test's event loop, on a real broker.

Each mesh has its own topic prefix, consumer groups and SQLite files, so many
meshes share one broker without seeing each other.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from devtools.invariants import Stores
from devtools.orders import is_final
from localpostgres import Databases
from participants import SERVICES
from sagactl.kafka import publish, read_topics
from sagactl.seeding import seed_payloads
from shared.events import CATALOG, Event, Payload, decode
from shared.runtime.service import ServiceRuntime
from shared.runtime.topics import ensure_topics
from shared.settings import Settings
from shared.store import Database, open_store

#: Every service of the choreography, by name: how it is wired (its bootstrap.py).
BOOTSTRAPS = {spec.name: importlib.import_module(f"{spec.name}.bootstrap").bootstrap
              for spec in SERVICES}


class InProcessMesh:
    def __init__(self, bootstrap_servers: str, prefix: str, data_dir: Path, *,
                 credentials: Callable[[str], dict] | None = None,
                 databases: Databases | None = None, **overrides: Any) -> None:
        """``credentials(principal)`` gives a principal's secure-mode settings: each service
        then runs as itself, and the tests' own client as the admin. ``databases``: each
        service keeps its state in its PostgreSQL database there (else a SQLite file)."""
        self.prefix, self.data_dir = prefix, data_dir
        store = ({"database_url": databases.url, "database_password_file": databases.password_file}
                 if databases else {})
        common = {"kafka_bootstrap_servers": bootstrap_servers, "topic_prefix": prefix,
                  "http_port": 0, "log_format": "text", **store, **overrides}
        as_ = credentials or (lambda principal: {})
        self.settings = {name: Settings(service_name=name, database_path=data_dir / f"{name}.db",
                                        **{**common, **as_(name)}) for name in BOOTSTRAPS}
        self.tool = Settings(service_name="tests", **{**common, **as_("admin")})
        self.runtimes: dict[str, ServiceRuntime] = {}
        self._span_exporters: list = []
        self._tasks: dict[str, asyncio.Task] = {}
        self._readers: dict[str, Any] = {}

    def trace_into(self, exporter) -> None:
        """Every service started from now on also exports its spans to ``exporter``."""
        self._span_exporters.append(exporter)

    def configure(self, service: str, **fields: Any) -> None:
        """Change a service's settings for its next start (e.g. ``fault_rate=1.0``)."""
        self.settings[service] = self.settings[service].model_copy(update=fields)

    async def start(self, *names: str) -> None:
        """Start these services (default: all of them) and wait until they consume."""
        await ensure_topics(self.tool)
        for name in names or BOOTSTRAPS:
            runtime = BOOTSTRAPS[name](self.settings[name])
            for exporter in self._span_exporters:
                runtime.tracing.add_exporter(exporter)
            self.runtimes[name] = runtime
            self._tasks[name] = asyncio.create_task(runtime.run(handle_signals=False), name=name)
        async with asyncio.timeout(60):
            await asyncio.gather(*(r.started.wait() for r in self.runtimes.values()))

    async def start_instance(self, service: str, number: int) -> ServiceRuntime:
        """One more instance of a running service (on PostgreSQL: they share its database),
        named ``<service>-<number>``; it runs beside the others until the mesh stops."""
        name = f"{service}-{number}"
        runtime = BOOTSTRAPS[service](self.settings[service].model_copy(
            update={"group_instance_id": name}))
        self.runtimes[name] = runtime
        self._tasks[name] = asyncio.create_task(runtime.run(handle_signals=False), name=name)
        async with asyncio.timeout(60):
            await runtime.started.wait()
        return runtime

    async def restart(self, service: str, **fields: Any) -> None:
        """Stop one service cleanly and start it again, with changed settings if given."""
        await self.stop_service(service)
        self.configure(service, **fields)
        await self.start(service)

    async def stop_service(self, service: str) -> None:
        """Stop one service cleanly (``start(service)`` brings it back)."""
        self.runtimes.pop(service).stopping.set()
        await self._tasks.pop(service)

    def running(self, service: str) -> bool:
        return not self._tasks[service].done()

    async def stop(self) -> None:
        for reader in self._readers.values():
            reader.close()
        for runtime in self.runtimes.values():
            runtime.stopping.set()
        results = await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]

    def db(self, service: str) -> Database:
        """A read-only view of the service's store, as another process would see it."""
        if service not in self._readers:
            self._readers[service] = open_store(self.settings[service]).open_reader()
        return self._readers[service]

    @property
    def stores(self) -> Stores:
        """Where the invariant checks read every service's state."""
        if self.settings["order_service"].database_url is None:
            return self.data_dir
        return {name: open_store(settings) for name, settings in self.settings.items()}

    @property
    def api(self) -> str:
        return self.runtimes["order_service"].http.url

    async def publish(self, *payloads_or_events: Payload | Event, order_id: str | None = None):
        events = [item if isinstance(item, Event) else
                  Event.new(item, order_id=order_id, producer="tests")
                  for item in payloads_or_events]
        await publish(self.tool, events)

    async def seed(self, stock: dict[str, int], balances: dict[str, str]) -> None:
        await self.publish(*seed_payloads({"stock": stock, "balances": balances}))
        expected = {("inventory_service", "stock"): len(stock),
                    ("payment_service", "accounts"): len(balances)}
        await self.wait_for(lambda: all(
            self.db(service).count(table) >= count for (service, table), count in expected.items()
            if service in self.runtimes))

    async def place_order(self, body: dict) -> str:
        headers = self.settings["order_service"].api_headers()
        async with httpx.AsyncClient(base_url=self.api, headers=headers) as client:
            response = await client.post("/orders", json=body)
        assert response.status_code == 201, response.text
        return response.json()["order_id"]

    async def order(self, order_id: str) -> dict:
        headers = self.settings["order_service"].api_headers()
        async with httpx.AsyncClient(base_url=self.api, headers=headers) as client:
            response = await client.get(f"/orders/{order_id}")
        return response.json() if response.status_code == 200 else {"status": None}

    async def wait_until_final(self, *order_ids: str, timeout: float = 60.0) -> dict[str, dict]:
        """Terminal status, and the customer told about it."""
        async def final() -> dict[str, dict] | None:
            orders = {oid: await self.order(oid) for oid in order_ids}
            return orders if all(map(is_final, orders.values())) else None
        return await self.wait_for_async(final, timeout)

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
        async def check():
            return condition()
        return await self.wait_for_async(check, timeout)

    async def wait_for_async(self, condition, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = await condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.1)

    async def events_on_topics(self, *types: str) -> list[Event]:
        """Every event published so far on these topics, oldest first."""
        events = []
        async for record in read_topics(self.tool, list(types or CATALOG), follow=False,
                                        from_beginning=True):
            events.append(decode(record.value, max_bytes=len(record.value)))
        return sorted(events, key=lambda e: e.occurred_at)
