"""The service runtime's own promises, without a broker: the watchdog, the retry worker,
and the API's commands reaching the relay."""

import asyncio
import sqlite3
import time

import pytest

from inventory_service.bootstrap import bootstrap
from shared.events import StockAdded
from shared.settings import Settings


@pytest.fixture
def runtime(tmp_path):
    runtime = bootstrap(Settings(service_name="inventory_service", watchdog_timeout=0.1,
                                 send_timeout=4.0, database_path=tmp_path / "inventory.db"))
    runtime.watchdog_check_interval = runtime.retry_error_pause = 0.01
    yield runtime
    runtime.close()


class SlowStoppingConsumer:
    """Never makes progress; once cancelled, needs a while to leave its group, as
    aiokafka's ``stop()`` does — a second cancellation in that time would cut it short
    (the watchdog looks every 0.01 s here: thirty times during the stop)."""

    instances: list = []

    def __init__(self, *args, **options) -> None:
        self.last_progress = time.monotonic() - 1000
        self.started, self.cancels, self.stopped = True, 0, False
        self.assigned, self.failures, self.last_error, self.failing = set(), 0, "", False
        SlowStoppingConsumer.instances.append(self)

    def stalled_partitions(self) -> dict:
        return {}

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancels += 1
            try:
                await asyncio.sleep(0.3)
            except asyncio.CancelledError:
                self.cancels += 1
                raise
            self.stopped = True
            raise


async def test_the_watchdog_cancels_a_stalled_consumer_once_and_lets_it_stop(runtime):
    SlowStoppingConsumer.instances = []
    runtime.consumer_class = SlowStoppingConsumer
    watchdog = asyncio.create_task(runtime._consume_with_watchdog())
    await _until(lambda: len(SlowStoppingConsumer.instances) >= 3)
    runtime.stopping.set()
    await asyncio.wait_for(watchdog, 10)
    restarted = SlowStoppingConsumer.instances[:-1]
    assert restarted, "the stalled consumer was never restarted"
    assert all(c.cancels == 1 and c.stopped for c in restarted)


class CrashingConsumer:
    """Fails as soon as it runs, before deciding anything: as a record that crashes the
    client every time it is fetched once made every new consumer do."""

    instances: list = []

    def __init__(self, *args, **options) -> None:
        self.last_progress, self.started, self.decided = time.monotonic(), True, 0
        self.assigned, self.failures, self.last_error, self.failing = set(), 0, "", False
        CrashingConsumer.instances.append(self)

    def stalled_partitions(self) -> dict:
        return {}

    async def run(self, stopping: asyncio.Event) -> None:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


async def test_consumers_that_keep_crashing_make_the_service_unhealthy(runtime):
    CrashingConsumer.instances = []
    runtime.consumer_class, runtime.consumer_restart_pause = CrashingConsumer, 0.01
    runtime.started.set()
    watchdog = asyncio.create_task(runtime._consume_with_watchdog())
    await _until(lambda: len(CrashingConsumer.instances) >= 4)
    status = await runtime.status()
    runtime.stopping.set()
    await asyncio.wait_for(watchdog, 10)

    assert status["ready"] is False and status["consumer"]["failing"] is True
    assert status["consumer"]["consecutive_crashes"] >= 3
    assert "UnicodeDecodeError" in status["consumer"]["last_error"]


async def test_the_retry_worker_survives_an_error_and_tries_again(runtime, monkeypatch):
    calls = []

    def failing_then_fine():
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise sqlite3.OperationalError("disk I/O error")
        return []

    monkeypatch.setattr(runtime.processor, "retry_due", failing_then_fine)
    worker = asyncio.create_task(runtime._retry_due_events())
    await _until(lambda: len(calls) >= 3 or worker.done())
    assert not worker.done() and len(calls) >= 3
    runtime.stopping.set()
    await asyncio.wait_for(worker, 5)


async def test_an_api_command_hands_its_events_to_the_relay_without_a_query(runtime):
    def add_stock(sku, uow):
        with uow:
            uow.originate(StockAdded(sku=sku, quantity=1), order_id=None)
            uow.commit()

    await runtime.execute(add_stock, "WIDGET-1")
    assert runtime.relay.backlog == 1


async def _until(condition, timeout: float = 10.0) -> None:
    """A hang guard, not a timing assert: the condition is what the test checks."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
