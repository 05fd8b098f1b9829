"""A step added while sagas run: the deploy itself is the test (docs/adding-a-step.md).

Two instances of every service of the release before fraud_service, on PostgreSQL and a real
broker, are upgraded to this checkout one instance at a time, in the documented order, while
orders of every path flow through the order API; fraud_service joins first, the order service
goes last. Meanwhile an old and a new instance of each service share its partitions (mixed
versions). Every saga, old and new, ends final with what `make chaos` checks holding, nothing
is dead-lettered, the old sagas finish the old way and the new ones are screened.
"""

import pytest

from devtools.processes import SERVICES
from devtools.rollout import BEFORE_SCREENING, rollout

pytestmark = pytest.mark.integration


def test_fraud_service_joins_a_running_mesh_old_sagas_finish_old_and_new_ones_are_screened(
        kafka_bootstrap, postgres_databases, tmp_path):
    report = rollout(BEFORE_SCREENING, kafka_bootstrap, postgres_databases.environment(),
                     tmp_path, dwell=3.0, after=5.0, say=print)  # shorter than make rollout
    print(report.summary())

    assert report.violations == [] and report.dead_letters == 0
    assert report.old_flow > 0 and report.new_flow > 0
    assert report.screened > 0 and report.fraud_rejected > 0
    old_services = [name for name in SERVICES if name != "fraud_service"]
    assert sorted(report.mixed_orders) == sorted(old_services)
    assert all(placed > 0 for placed in report.mixed_orders.values()), report.mixed_orders
