"""The chaos run at CI size: kills, a freeze past the session timeout, a broker restart."""

import os

import pytest

from devtools.chaos import ChaosPlan, ChaosRun

pytestmark = pytest.mark.integration
ORDERS = int(os.environ.get("SAGA_CHAOS_ORDERS", "150"))


def test_chaos_leaves_every_saga_finished_and_every_guarantee_intact(tmp_path):
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")  # then the broker is not ours to restart
    chaos = ChaosPlan(orders=ORDERS, rate=15, kill_every=2.0, min_kills=5, freezes=1,
                      broker_restarts=0 if external else 1, fault_rate=0.05,
                      settle_timeout=180)
    report = ChaosRun(chaos, tmp_path, external, say=print).run()

    print(report.summary())
    assert report.violations == []
    assert report.kills >= 5 and report.freezes == 1
    assert report.broker_restarts == chaos.broker_restarts
    assert report.orders == ORDERS
