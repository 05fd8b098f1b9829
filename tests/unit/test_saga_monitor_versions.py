"""The monitor follows each saga through its own version of the flow (shared.saga.SAGAS): a saga
started before fraud_service joined waits for the charge after its reservation, a screened one
for the screening; both show their version on their page."""

from __future__ import annotations

import json

import pytest

from devtools.synthetic_sagas import FRAUD_REJECTED, HAPPY, SCREENED, saga
from saga_monitor import progress, views
from saga_monitor.waiting import Deadlines, waits

STEPS = Deadlines(30.0, {})


def fold(events):
    record = None
    for event in events:
        record = progress.fold_event(record, event, partition=0)
    return record


@pytest.mark.parametrize(("version", "path", "step", "services"), [
    (1, HAPPY[:2], "PaymentCharged", ("payment_service",)),
    (2, SCREENED[:2], "FraudCheckPassed", ("fraud_service",)),
    (2, SCREENED[:3], "PaymentCharged", ("payment_service",)),
    (2, FRAUD_REJECTED[:3], "StockReleased", ("inventory_service",)),
])
def test_after_each_step_a_saga_waits_for_what_its_own_version_of_the_flow_says(
        version, path, step, services):
    [wait] = waits(fold(saga("ord-1", path, version=version)))
    assert (wait.step, wait.services) == (step, services)


def test_a_fraud_rejection_is_a_failure_the_saga_compensates():
    record = fold(saga("ord-1", FRAUD_REJECTED, version=2))
    page = views.detail("ord-1", record, 0.0, STEPS, {})
    assert page["status"] == "cancelled" and page["finished"]
    assert page["compensations"] == ["StockReleased", "OrderCancelled"]
    assert [e["kind"] for e in page["timeline"]][2] == "failure"


def test_each_saga_shows_its_version_and_the_lanes_of_that_version():
    old, new = fold(saga("ord-1", HAPPY, version=1)), fold(saga("ord-2", SCREENED, version=2))
    old_page, new_page = (views.detail(order, record, 0.0, STEPS, {})
                          for order, record in (("ord-1", old), ("ord-2", new)))
    assert (old_page["flow_version"], new_page["flow_version"]) == (1, 2)
    assert "fraud_service" not in old_page["lanes"]
    assert new_page["lanes"][:4] == ["order_service", "inventory_service", "fraud_service",
                                     "payment_service"]


def test_the_version_survives_the_changelog_and_an_older_record_reads_as_version_one():
    record = fold(saga("ord-2", SCREENED[:3], version=2))
    assert progress.from_json(json.loads(json.dumps(progress.to_json(record)))) == record
    older = progress.to_json(record)[:progress.VERSION]
    assert progress.flow_version(progress.from_json(older)) == 1
