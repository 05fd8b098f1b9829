"""Failover: two instances of every service, as processes, on a real broker and PostgreSQL.

One instance of every service is SIGKILLed while orders flow: the others take its partitions
over (once the group's session timeout expires) and finish every saga. Then the other
instance of every service is SIGKILLed, its local files deleted, and started again: its state
is in PostgreSQL, so nothing is lost. Saga latency per window is printed, never asserted
(docs/reliability.md has the figures of `python -m devtools.failover`).
"""

import shutil
import time

import httpx
import pytest

from devtools.benchkit import BENCH_CUSTOMERS, BENCH_SKU
from devtools.failover import kill_and_take_over, latency_windows, owned, table
from devtools.invariants import settled_violations
from devtools.orders import order_body
from devtools.processes import SERVICES
from devtools.steadyload import SteadyLoad
from tests.e2e.conftest import ProcessMesh
from tests.support.waiting import until

pytestmark = pytest.mark.integration
RATE = 10  # orders per second: a steady stream the 2-core CI machine carries with ten services


@pytest.fixture
def two_of_each(kafka_bootstrap, topic_prefix, tmp_path, postgres_databases):
    with ProcessMesh(tmp_path, kafka_bootstrap, topic_prefix, instances=2,
                     **postgres_databases.environment()) as mesh:
        mesh.start()
        mesh.seed(mesh.tool, {BENCH_SKU: 1_000_000}, {c: "1000000.00" for c in BENCH_CUSTOMERS})
        yield mesh


def _completed_since(load: SteadyLoad, moment: float) -> bool:
    return any(load.created.get(order_id, 0) >= moment * 1000 for order_id in load.completed)


def _start_and_rejoin(processes) -> None:
    for process in processes:
        process.start()
    for process in processes:
        process.wait_healthy()
    until(lambda: all(owned(process) for process in processes),
          what="the instances started again owning partitions")


def test_survivors_finish_a_killed_instances_sagas_and_a_lost_disk_loses_nothing(two_of_each):
    mesh = two_of_each
    first = [mesh[f"{name}-1"] for name in SERVICES]
    second = [mesh[f"{name}-2"] for name in SERVICES]
    with SteadyLoad(mesh.tool, RATE, say=print) as load:
        until(lambda: len(load.completed) >= 2 * RATE, what="orders flowing")
        killed, taken_over = kill_and_take_over(mesh, mesh.tool, first)
        print(f"the survivors own every partition {taken_over - killed:.1f}s after the kill")
        placed = httpx.post(f"{mesh['order_service-2'].url}/orders", timeout=10, json=order_body(
            customer=BENCH_CUSTOMERS[0], sku=BENCH_SKU, quantity=1, price="1.00"))
        assert placed.status_code == 201, placed.text
        until(lambda: _completed_since(load, taken_over), what="a saga begun on the survivors")
        print(f"a saga begun on the survivors completed; {len(load.completed)} so far")

        restarted = time.time()
        _start_and_rejoin(first)
        print(f"the killed instances are back, {time.time() - restarted:.1f}s after the start")
        for process in second:  # a lost disk: the process and everything it kept locally
            process.kill()
            assert [path.name for path in process.data_dir.iterdir()] == [process.log_path.name]
            shutil.rmtree(process.data_dir)
        _start_and_rejoin(second)
        back = time.time()
        print(f"the instances whose disks were lost are back, {back - restarted:.1f}s after the "
              "first restart")
        until(lambda: _completed_since(load, back), what="sagas after the restarts")
        print(f"sagas complete again; {len(load.created)} orders sent, waiting for them all")
    print(table(latency_windows(load, killed, taken_over, restarted, gap=5)))

    assert load.unsent == 0 and load.missing == []
    order_id = placed.json()["order_id"]
    assert mesh.wait_final(order_id)["status"] == "COMPLETED"  # read on order_service-1
    assert settled_violations(mesh.stores, {*load.created, order_id}) == []
