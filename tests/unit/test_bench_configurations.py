"""`make bench --instances N`: which configurations it measures, their summary lines and table
rows, and the database server's CPU read from /proc — without a broker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from itertools import count

import pytest

from devtools.benchkit import OrderStream, tree_cpu_seconds
from devtools.benchmetrics import configuration_lines, table
from devtools.benchstores import postgres_configurations
from shared.settings import Settings


def run(store: str, instances: int, sagas_per_s: float, postgres_cpu: float | None) -> dict:
    processes = {f"order_service-{n}": 80.0 + n for n in range(1, instances + 1)}
    return {"store": store, "instances": instances,
            "burst": {"sagas_per_s": sagas_per_s, "cpu_ms_per_saga": 2.5,
                      "cpu_s_per_1000_sagas": {"order_service": 2.5},
                      "postgres_cpu_ms_per_saga": postgres_cpu},
            "rates": {"50": {"p50": 20.0, "p95": 30.0, "p99": 45.5, "incomplete": 0},
                      "200": {"p50": 60.0, "p95": 90.0, "p99": 120.0, "incomplete": 0}},
            "peak_rss_mb": processes, "monitor": None}


def report(**runs: dict) -> dict:
    return {"rates": [50.0, 200.0], "raw_hop_ms": {"p50": 2.0, "p99": 5.0}, "runs": runs}


def test_each_configuration_of_the_current_services_gets_a_bench_line_naming_store_and_instances():
    lines = configuration_lines(report(
        baseline=run("sqlite", 1, 400.0, None), current=run("sqlite", 1, 500.0, None),
        **{"postgres-1": run("postgres", 1, 300.0, 1.25), "postgres-2": run("postgres", 2, 250.0,
                                                                            1.5)}))

    assert lines == [
        "bench: store=sqlite instances=1 sagas_per_s=500 p50_ms@50=20 p99_ms@50=45.5 "
        "p50_ms@200=60 p99_ms@200=120 cpu_ms_per_saga=2.5 postgres_cpu_ms_per_saga=- "
        "rss_mb_max=81 rss_mb_total=81",
        "bench: store=postgres instances=1 sagas_per_s=300 p50_ms@50=20 p99_ms@50=45.5 "
        "p50_ms@200=60 p99_ms@200=120 cpu_ms_per_saga=2.5 postgres_cpu_ms_per_saga=1.25 "
        "rss_mb_max=81 rss_mb_total=81",
        "bench: store=postgres instances=2 sagas_per_s=250 p50_ms@50=20 p99_ms@50=45.5 "
        "p50_ms@200=60 p99_ms@200=120 cpu_ms_per_saga=2.5 postgres_cpu_ms_per_saga=1.5 "
        "rss_mb_max=82 rss_mb_total=163"]


def test_a_run_without_postgres_prints_no_configuration_lines_and_no_postgres_rows():
    plain = report(baseline=run("sqlite", 1, 400.0, None), current=run("sqlite", 1, 500.0, None))

    assert configuration_lines(plain) == []
    assert "PostgreSQL" not in table(plain)


def test_the_table_gives_the_database_server_a_row_of_its_own_with_a_dash_for_sqlite():
    rows = table(report(current=run("sqlite", 1, 500.0, None),
                        **{"postgres-2": run("postgres", 2, 250.0, 1.5)})).splitlines()

    server = next(row for row in rows if row.startswith("CPU ms/saga, PostgreSQL server"))
    assert server.split()[-2:] == ["-", "1.5"]
    store = next(row for row in rows if row.startswith("store"))
    assert store.split()[-4:] == ["sqlite", "x1", "postgres", "x2"]


def test_a_service_the_baseline_lacks_gets_a_dash_in_the_baselines_column():
    older, current = run("sqlite", 1, 400.0, None), run("sqlite", 1, 500.0, None)
    current["burst"]["cpu_s_per_1000_sagas"]["fraud_service"] = 0.1

    rows = table(report(baseline=older, current=current)).splitlines()
    assert next(row for row in rows if row.startswith("CPU s/1000 sagas fraud")).split()[-2:] \
        == ["-", "0.1"]


def test_the_table_gives_the_services_cpu_per_saga_at_each_rate_beside_the_bursts():
    older, current = run("sqlite", 1, 400.0, None), run("sqlite", 1, 500.0, None)
    current["rates"]["200"]["cpu_ms_per_saga"] = 6.4
    older["rates"]["200"]["cpu_ms_per_saga"] = 9.1

    rows = table(report(baseline=older, current=current)).splitlines()
    assert next(row for row in rows if row.startswith("CPU ms/saga @ 200/s")).split()[-2:] == [
        "9.1", "6.4"]
    assert next(row for row in rows if row.startswith("CPU ms/saga @ 50/s")).split()[-2:] == [
        "-", "-"]  # a report written before the figure existed


def test_instances_n_measures_postgres_with_one_instance_and_with_n():
    assert [(c.label, c.store, c.instances) for c in postgres_configurations(2)] == [
        ("postgres-1", "postgres", 1), ("postgres-2", "postgres", 2)]
    assert [c.label for c in postgres_configurations(1)] == ["postgres-1"]
    assert postgres_configurations(None) == []
    assert not any(c.monitored for c in postgres_configurations(3))


#: A process that runs one child to its end (reaped), starts another that stays, and waits.
FAMILY = """
import subprocess, sys
burn = "import time\\nwhile time.process_time() < 0.15: pass\\n"
subprocess.run([sys.executable, "-c", burn], check=True)
living = subprocess.Popen([sys.executable, "-c", burn + "print(flush=True); input()"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE)
living.stdout.readline()
print(flush=True)
input()
living.communicate(b"\\n")
"""


def test_a_process_trees_cpu_counts_its_own_and_its_childrens_living_and_reaped():
    parent = subprocess.Popen([sys.executable, "-c", FAMILY], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        parent.stdout.readline()  # both children have burnt 0.15 s; one of them still runs

        assert tree_cpu_seconds(parent.pid) >= 0.3  # its own, alone, is about 0.05 s
    finally:
        parent.communicate(b"\n")


@pytest.fixture
async def unstarted() -> AsyncIterator[Callable[..., OrderStream]]:
    """Streams whose Kafka clients never start: only their waiting is tested."""
    streams: list[OrderStream] = []

    def make(**options) -> OrderStream:
        streams.append(OrderStream(Settings(), lambda message: None, **options))
        return streams[-1]
    yield make
    for stream in streams:
        await asyncio.gather(stream._producer.stop(), stream._consumer.stop())


async def test_a_burst_whose_first_saga_completes_after_the_settle_time_is_waited_for_while_busy(
        unstarted):
    stream = unstarted(busy=busy_for(calls=3))
    created = {"a": 1, "b": 2}

    async def complete_later() -> None:
        await asyncio.sleep(0.4)  # past the settle time: the services were still at it
        stream.completed.update(a=10, b=11)

    later = asyncio.create_task(complete_later())
    found = await stream._until_completed("burst", created, first_sent=0.0, settle=0.1)
    await later

    assert found.missing == 0 and len(found.completed) == 2


async def test_nothing_completed_for_the_settle_time_with_idle_services_ends_the_wait(unstarted):
    stream = unstarted(busy=busy_for(calls=0))

    found = await stream._until_completed("burst", {"a": 1}, first_sent=0.0, settle=0.1)

    assert found.missing == 1


def busy_for(calls: int):
    """The services have work in hand for the first ``calls`` looks."""
    looks = count()

    async def busy() -> bool:
        return next(looks) < calls
    return busy
