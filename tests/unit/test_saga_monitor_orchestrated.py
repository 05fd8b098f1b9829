"""The monitor follows orchestrated sagas too (SAGA_MODE=orchestrated): it reads the commands
beside the events, a saga ends when the customer is told, and what it waits for names the
orchestrator until the command is sent, then the service the command went to. The sagas are
real: every service's orchestrated reactions run in memory (tests/support/orchestrated.py)."""

import pytest

from devtools.synthetic_sagas import HAPPY, saga
from saga_monitor import progress, views
from saga_monitor.topics import READ
from saga_monitor.waiting import Deadlines, waits
from tests.support.builders import order_created
from tests.support.orchestrated import InMemoryMesh

STEPS = Deadlines(30.0, {})


@pytest.fixture
def mesh() -> InMemoryMesh:
    return InMemoryMesh()


def fold(events, order_id="ord-1"):
    record = None
    for event in (e for e in events if e.order_id == order_id):
        record = progress.fold_event(record, event, partition=0)
    return record


def test_the_monitor_reads_every_command_topic_and_its_dead_letters():
    assert {"ChargePayment", "RefundPayment", "NotifyCustomer.DLT"} <= set(READ)


def test_an_orchestrated_saga_finishes_when_the_customer_is_told(mesh):
    mesh.run(order_created())
    page = views.detail("ord-1", fold(mesh.seen), 0.0, STEPS, {})
    assert page["mode"] == "orchestrated" and page["finished"] and page["status"] == "completed"
    assert page["waiting_for"] == [] and "orchestrator_service" in page["lanes"]
    assert "ChargePayment" in page["steps"]


def test_a_compensated_orchestrated_saga_finishes_cancelled(mesh):
    mesh.run(order_created(customer="bob"))
    page = views.detail("ord-1", fold(mesh.seen), 0.0, STEPS, {})
    assert (page["status"], page["finished"]) == ("cancelled", True)
    assert page["compensations"] == ["StockReleased", "OrderCancelled"]


def test_until_the_command_is_sent_the_orchestrator_must_react(mesh):
    mesh.run(order_created(), hold=("StockReserved",))
    [wait] = waits(fold(mesh.seen))
    assert (wait.step, wait.trigger, wait.services) == (
        "FraudCheckPassed", "StockReserved", ("orchestrator_service",))


def test_once_the_command_is_sent_the_service_it_went_to_must_react(mesh):
    mesh.run(order_created(), hold=("ChargePayment",))
    [wait] = waits(fold(mesh.seen))
    assert (wait.step, wait.trigger, wait.services) == (
        "PaymentCharged", "ChargePayment", ("payment_service",))


def test_a_choreographed_saga_still_names_the_services_that_react_to_each_other():
    record = fold(saga("ord-1", HAPPY[:2], version=1))
    [wait] = waits(record)
    assert progress.mode(record) == "choreographed" and wait.services == ("payment_service",)
