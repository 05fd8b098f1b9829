"""Fraud screening (flow version 2): a verdict per order, once, carrying what payment needs;
a rejection is undone as the saga requires. Written with the step authors' kit
(shared/testing.py), as docs/adding-a-step.md shows."""

from dataclasses import replace
from decimal import Decimal

import pytest

from fraud_service import model
from fraud_service.handlers import SERVICE
from fraud_service.repository import FraudUnitOfWork, ScreeningRepository, create_tables
from inventory_service.repository import InventoryUnitOfWork
from inventory_service.repository import create_tables as inventory_tables
from participants import INVENTORY, PARTICIPANTS
from shared.events import (
    FraudCheckFailed,
    FraudCheckPassed,
    OrderCancelled,
    PaymentFailed,
    StockReleased,
)
from shared.testing import ServiceKit
from tests.support.builders import ADDRESS, reserved


@pytest.fixture
def fraud() -> ServiceKit:
    return ServiceKit(SERVICE, FraudUnitOfWork, create_tables, choreography=PARTICIPANTS)


def test_a_clean_order_passes_carrying_what_payment_needs_to_charge(fraud):
    [passed] = fraud.deliver(fraud.event(reserved()))
    assert isinstance(passed.payload, FraudCheckPassed)
    assert (passed.payload.customer_id, passed.payload.total, passed.payload.shipping_address,
            passed.payload.items) == ("alice", Decimal("19.90"), ADDRESS, reserved().items)
    assert passed.saga_version == 2 and fraud.outbox_types() == ["FraudCheckPassed"]


def test_a_blocklisted_customer_is_rejected_with_a_reason_a_person_can_read(fraud):
    [failed] = fraud.deliver(fraud.event(reserved(customer="mallory")))
    assert isinstance(failed.payload, FraudCheckFailed)
    assert failed.payload.reason == "customer mallory is on the blocklist"
    assert ScreeningRepository(fraud.db).get("ord-1").verdict is model.Verdict.REJECTED


def test_an_order_above_the_limit_is_rejected_and_one_at_the_limit_passes():
    assert model.screen("ord-1", "alice", model.TOTAL_LIMIT).passed
    above = model.screen("ord-1", "alice", model.TOTAL_LIMIT + Decimal("0.01"))
    assert above.reason == "order total 10000.01 is above the screening limit 10000.00"


def test_a_second_reservation_of_the_same_order_is_screened_once(fraud):
    fraud.deliver(fraud.event(reserved()))
    assert fraud.deliver(fraud.event(reserved(customer="mallory"))) == []
    assert fraud.outbox_types() == ["FraudCheckPassed"]


def test_a_saga_of_the_first_flow_is_not_screened_and_leaves_no_trace(fraud):
    assert fraud.deliver(fraud.event(reserved(), version=1)) == []
    assert fraud.rows("inbox") == [] and fraud.rows("screenings") == []


def test_the_runtime_passes_over_a_first_flow_saga_without_a_savepoint_span_or_log_line(
        fraud, caplog):
    from tests.support.processing import delivery_of

    caplog.set_level("INFO")
    processor = fraud.processor()
    assert processor.process_batch([delivery_of(fraud.event(reserved(), version=1))]) == []
    assert [r.getMessage() for r in caplog.records if r.name == "shared.processing"] == []
    assert fraud.rows("inbox") == [] and fraud.outbox_types() == []


def test_the_screening_is_stamped_with_the_kits_clock(fraud):
    fraud.clock.advance(90)
    fraud.deliver(fraud.event(reserved()))
    assert ScreeningRepository(fraud.db).view("ord-1")["screened_at"] == fraud.clock.now


def test_the_views_list_the_latest_screenings_by_verdict(fraud):
    fraud.deliver(fraud.event(reserved(), order_id="ord-1"))
    fraud.clock.advance(1)
    fraud.deliver(fraud.event(reserved(customer="mallory"), order_id="ord-2"))
    screenings = ScreeningRepository(fraud.db)
    assert [s["order_id"] for s in screenings.latest(None, 10)] == ["ord-2", "ord-1"]
    assert [s["order_id"] for s in screenings.latest(model.Verdict.REJECTED, 10)] == ["ord-2"]


def test_a_rejected_screening_releases_the_stock_then_cancels_the_order(fraud):
    path = fraud.compensation_path_after(FraudCheckFailed)
    assert path == fraud.required_compensations_after(FraudCheckFailed)
    assert path == [StockReleased, OrderCancelled]


def test_the_kit_shows_a_rejection_nobody_compensates():
    """The check a step author relies on: without inventory's reaction to the rejection,
    the path after it falls short of what the saga requires."""
    forgetful = replace(INVENTORY, reactions={payload: reaction for payload, reaction
                                              in INVENTORY.reactions.items()
                                              if payload is not FraudCheckFailed})
    kit = ServiceKit(forgetful, InventoryUnitOfWork, inventory_tables, choreography=PARTICIPANTS)
    assert kit.compensation_path_after(FraudCheckFailed) == []
    assert kit.required_compensations_after(FraudCheckFailed) == [StockReleased, OrderCancelled]
    # In the first flow a declined payment is still undone as before.
    assert kit.compensation_path_after(PaymentFailed, version=1) == [StockReleased,
                                                                      OrderCancelled]
