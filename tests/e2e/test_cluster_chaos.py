"""Chaos on a three-broker cluster at CI size: the leader of the busiest partitions and the
active controller SIGKILLed while orders flow, a broker frozen past its session timeout,
services killed meanwhile — every saga still ends once, nothing lost, nothing doubled.

`make chaos CHAOS_ARGS=--cluster` is the long version (3000 orders, more faults)."""

import os

import pytest

from devtools.chaos import ChaosPlan, ChaosRun

pytestmark = pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
                                reason="starts (and kills) a cluster of its own")
ORDERS = int(os.environ.get("SAGA_CLUSTER_CHAOS_ORDERS", "300"))


def test_a_cluster_loses_no_saga_when_its_leader_and_its_controller_die_under_load(tmp_path):
    chaos = ChaosPlan(orders=ORDERS, rate=5, kill_every=3.0, min_kills=3, freezes=0,
                      broker_restarts=0, brokers=3, broker_kills=2, broker_freezes=1,
                      fault_rate=0.02, settle_timeout=240)
    said: list[str] = []

    def say(message: str) -> None:
        said.append(message)
        print(message, flush=True)

    report = ChaosRun(chaos, tmp_path, None, say=say).run()

    print(report.summary())
    assert report.violations == []
    assert (report.broker_kills, report.broker_freezes, report.orders) == (2, 1, ORDERS)
    broker_faults = [line for line in said if line.startswith(("SIGKILL broker", "SIGSTOP broker"))]
    assert [fault.split("(")[1].split(")")[0].split(",")[0] for fault in broker_faults] == [
        "leader", "controller", "freeze"]
