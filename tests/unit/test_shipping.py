"""Shipping, the pivot: ship or fail before anything leaves; decide cancellations."""

import re

import pytest

from shared.events import (
    OrderCancellationAccepted,
    OrderCancellationRejected,
    OrderCancellationRequested,
    OrderShipped,
    PaymentCharged,
    ShipmentFailed,
)
from shipping_service import model
from shipping_service.handlers import SERVICE
from shipping_service.repository import ShippingUnitOfWork, create_tables
from tests.support.builders import ADDRESS, UNSERVED_ADDRESS, event


def charged(address=ADDRESS) -> PaymentCharged:
    return PaymentCharged(payment_id="p1", customer_id="alice", amount="19.90",
                          shipping_address=address)


@pytest.fixture
def shipping(service_under_test):
    return service_under_test(SERVICE, ShippingUnitOfWork, create_tables)


def test_a_paid_order_to_a_served_country_ships(shipping):
    [shipped] = shipping.deliver(event(charged()))
    assert isinstance(shipped.payload, OrderShipped)
    assert shipped.payload.tracking_number.startswith("PX")


def test_an_address_the_carrier_cannot_serve_fails_before_anything_ships(shipping):
    [failed] = shipping.deliver(event(charged(UNSERVED_ADDRESS)))
    assert isinstance(failed.payload, ShipmentFailed)
    assert "AQ" in failed.payload.reason


def test_a_cancellation_before_shipping_is_accepted_and_the_order_never_ships(shipping):
    [accepted] = shipping.deliver(event(OrderCancellationRequested(reason="changed my mind")))
    assert isinstance(accepted.payload, OrderCancellationAccepted)
    assert accepted.payload.reason == "changed my mind: the order will not ship"
    [failed] = shipping.deliver(event(charged()))
    assert isinstance(failed.payload, ShipmentFailed)
    assert failed.payload.reason == "order cancelled before shipping"


def test_a_cancellation_after_shipping_is_rejected_with_a_reason(shipping):
    shipping.deliver(event(charged()))
    [rejected] = shipping.deliver(event(OrderCancellationRequested()))
    assert isinstance(rejected.payload, OrderCancellationRejected)
    assert "already shipped" in rejected.payload.reason


def test_one_order_ships_once_however_often_it_is_paid_for(shipping):
    paid = event(charged())
    assert len(shipping.deliver(paid, paid, event(charged()))) == 1
    assert len(shipping.rows("shipments")) == 1


def test_a_shipment_is_identified_and_tracked_by_numbers_derived_from_its_order():
    assert model.ship("ord-1", "DE", cancellation_accepted=False) == model.Shipment(
        "ord-1", model.ShipmentStatus.SHIPPED, "shp-da724c619bef", "PX3762787802")


def test_tracking_numbers_are_ten_digits_and_differ_between_orders():
    shipments = [model.ship(f"ord-{n}", "DE", cancellation_accepted=False) for n in range(300)]
    assert all(re.fullmatch(r"shp-[0-9a-f]{12}", s.shipment_id) for s in shipments)
    assert all(re.fullmatch(r"PX[0-9]{10}", s.tracking_number) for s in shipments)
    assert len({s.tracking_number for s in shipments}) == len(shipments)


@pytest.mark.parametrize(("country", "accepted", "reason"), [
    ("DE", True, "order cancelled before shipping"),
    ("AQ", False, "carrier does not deliver to country AQ"),
])
def test_a_shipment_that_cannot_leave_fails_for_its_order_with_the_reason(country, accepted,
                                                                          reason):
    assert model.ship("ord-1", country, cancellation_accepted=accepted) == model.Shipment(
        "ord-1", model.ShipmentStatus.FAILED, reason=reason)
