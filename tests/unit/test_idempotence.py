"""The same event twice → one effect, for every event type every service consumes.

Generated from the ``ServiceSpec`` declarations: a service that starts consuming a new event
type is tested here without anyone writing a test for it.
"""

import uuid

import pytest

from fraud_service.repository import FraudUnitOfWork
from fraud_service.repository import create_tables as fraud_tables
from inventory_service.repository import InventoryUnitOfWork
from inventory_service.repository import create_tables as inventory_tables
from notification_service.repository import NotificationUnitOfWork
from notification_service.repository import create_tables as notification_tables
from order_service.repository import OrderUnitOfWork
from order_service.repository import create_tables as order_tables
from participants import SERVICES
from payment_service.repository import PaymentUnitOfWork
from payment_service.repository import create_tables as payment_tables
from shared.events import (
    REFERENCE_EVENTS,
    Event,
    FraudCheckPassed,
    OrderCreated,
    PaymentCharged,
    StockReserved,
)
from shared.events.examples import example_event
from shared.saga import LATEST_VERSION
from shipping_service.repository import ShippingUnitOfWork
from shipping_service.repository import create_tables as shipping_tables

WIRING = {
    "order_service": (OrderUnitOfWork, order_tables),
    "inventory_service": (InventoryUnitOfWork, inventory_tables),
    "payment_service": (PaymentUnitOfWork, payment_tables),
    "shipping_service": (ShippingUnitOfWork, shipping_tables),
    "notification_service": (NotificationUnitOfWork, notification_tables),
    "fraud_service": (FraudUnitOfWork, fraud_tables),
}
#: Forward steps that put an order into a state the later events act on.
FORWARD = (OrderCreated, StockReserved, FraudCheckPassed, PaymentCharged)
CASES = [pytest.param(spec, payload, id=f"{spec.name}-{payload.event_type()}")
         for spec in SERVICES for payload in spec.consumes]


def fresh(payload_type, version: int) -> Event:
    return example_event(payload_type).model_copy(update={"event_id": uuid.uuid4().hex,
                                                          "saga_version": version})


def snapshot(service) -> dict[str, list]:
    tables = service.db.table_names()
    return {table: service.db.execute(f"SELECT * FROM [{table}] ORDER BY rowid").fetchall()
            for table in tables}


@pytest.mark.parametrize(("spec", "payload"), CASES)
def test_an_event_delivered_twice_has_one_effect(service_under_test, spec, payload):
    service = service_under_test(spec, *WIRING[spec.name])
    # A saga of a flow version the reaction takes part in.
    version = min(spec.reactions[payload].versions or {LATEST_VERSION})
    # Reference data and the forward steps before it, so that the event has work to do.
    earlier = [p for p in (*REFERENCE_EVENTS, *FORWARD) if p in spec.consumes and p is not payload]
    service.deliver(*(fresh(p, version) for p in earlier))
    event = fresh(payload, version)

    before = snapshot(service)
    service.deliver(event)
    once = snapshot(service)
    service.deliver(event)

    effects = [table for table in once if table != "inbox" and once[table] != before[table]]
    assert effects, f"the first {payload.event_type()} changed nothing beyond the inbox"
    assert snapshot(service) == once, f"{spec.name} applied {payload.event_type()} twice"
