"""Inventory: all-or-nothing reservations, semantic releases, conservation of stock."""

import pytest

from inventory_service import model
from inventory_service.handlers import SERVICE
from inventory_service.repository import InventoryUnitOfWork, StockRepository, create_tables
from shared.events import (
    FraudCheckFailed,
    OrderShipped,
    PaymentFailed,
    PaymentRefunded,
    StockAdded,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from tests.support.builders import event, order_created

SHIPPED = OrderShipped(shipment_id="s1", carrier="c", tracking_number="t")


@pytest.fixture
def inventory(service_under_test):
    inventory = service_under_test(SERVICE, InventoryUnitOfWork, create_tables)
    inventory.deliver(event(StockAdded(sku="WIDGET-1", quantity=5)),
                      event(StockAdded(sku="GADGET-2", quantity=1)))
    return inventory


def _levels(inventory) -> dict[str, model.StockLevel]:
    return {level.sku: level for level in StockRepository(inventory.db).all()}


def test_reserving_holds_every_line_and_carries_the_order_forward(inventory):
    emitted = inventory.deliver(event(order_created(lines={"WIDGET-1": (2, "1.00"),
                                                           "GADGET-2": (1, "5.00")})))
    [reserved] = emitted
    assert isinstance(reserved.payload, StockReserved)
    assert reserved.payload.shipping_address.country == "DE"
    assert _levels(inventory)["WIDGET-1"] == model.StockLevel("WIDGET-1", 3, 2, 0, 5)
    assert _levels(inventory)["GADGET-2"].reserved == 1


def test_a_rejected_screening_releases_the_reservation_in_the_second_flow(inventory):
    inventory.deliver(event(order_created(), saga_version=2))
    rejected = FraudCheckFailed(customer_id="mallory", reason="on the blocklist")
    [released] = inventory.deliver(event(rejected, saga_version=2))
    assert isinstance(released.payload, StockReleased)
    assert released.payload.reason == "compensating FraudCheckFailed"
    assert _levels(inventory)["WIDGET-1"] == model.StockLevel("WIDGET-1", 5, 0, 0, 5)


def test_a_shortage_on_one_line_reserves_nothing_at_all(inventory):
    [failed] = inventory.deliver(event(order_created(lines={"WIDGET-1": (2, "1.00"),
                                                           "GADGET-2": (3, "5.00")})))
    assert isinstance(failed.payload, StockReservationFailed)
    assert [(s.sku, s.requested, s.available) for s in failed.payload.shortages] == [
        ("GADGET-2", 3, 1)]
    assert all(level.reserved == 0 for level in _levels(inventory).values())


def test_an_unknown_sku_is_a_shortage_of_zero(inventory):
    [failed] = inventory.deliver(event(order_created(lines={"NEVER-STOCKED": (1, "1.00")})))
    assert failed.payload.shortages[0].available == 0


def test_releasing_returns_the_stock_and_keeps_the_reservation_on_record(inventory):
    inventory.deliver(event(order_created()))
    [released] = inventory.deliver(event(PaymentFailed(customer_id="alice", amount="19.90",
                                                       reason="declined")))
    assert isinstance(released.payload, StockReleased)
    assert _levels(inventory)["WIDGET-1"] == model.StockLevel("WIDGET-1", 5, 0, 0, 5)
    assert inventory.rows("reservations")[0]["status"] == "RELEASED"


def test_a_second_compensation_releases_nothing_more(inventory):
    inventory.deliver(event(order_created()))
    inventory.deliver(event(PaymentFailed(customer_id="alice", amount="19.90", reason="x")))
    again = inventory.deliver(event(PaymentRefunded(refund_id="r1", payment_id="p1",
                                                    customer_id="alice", amount="19.90",
                                                    reason="y")))
    assert again == []
    assert _levels(inventory)["WIDGET-1"].available == 5


def test_shipping_moves_reserved_stock_to_shipped(inventory):
    inventory.deliver(event(order_created()))
    inventory.deliver(event(SHIPPED))
    level = _levels(inventory)["WIDGET-1"]
    assert (level.available, level.reserved, level.shipped) == (3, 0, 2)
    assert level.conserved


def test_the_same_event_delivered_twice_reserves_once(inventory):
    created = event(order_created())
    assert len(inventory.deliver(created, created)) == 1
    assert _levels(inventory)["WIDGET-1"].reserved == 2


def test_the_same_order_under_a_new_event_id_reserves_once(inventory):
    first, second = event(order_created()), event(order_created())
    assert first.event_id != second.event_id
    assert len(inventory.deliver(first, second)) == 1
    assert _levels(inventory)["WIDGET-1"].reserved == 2


def test_a_rejected_order_stays_rejected_when_stock_arrives_later(inventory):
    inventory.deliver(event(order_created(lines={"WIDGET-1": (9, "1.00")})))
    inventory.deliver(event(StockAdded(sku="WIDGET-1", quantity=10)))
    assert inventory.deliver(event(order_created(lines={"WIDGET-1": (9, "1.00")}))) == []


def test_stock_cannot_return_after_it_shipped():
    reservation = model.Reservation("o", (model.Line("A", 1),), model.ReservationStatus.SHIPPED)
    with pytest.raises(model.InvariantViolation, match="^order o shipped; its stock cannot return$"):
        model.release(reservation, {"A": model.StockLevel("A", 0, 0, 1, 1)})


def test_a_second_shipment_notice_under_a_new_event_id_changes_nothing(inventory):
    inventory.deliver(event(order_created()), event(SHIPPED), event(SHIPPED))
    level = _levels(inventory)["WIDGET-1"]
    assert (level.available, level.reserved, level.shipped) == (3, 0, 2)
    assert inventory.rows("reservations")[0]["status"] == "SHIPPED"


def test_a_released_reservation_never_ships(inventory):
    inventory.deliver(event(order_created()),
                      event(PaymentFailed(customer_id="alice", amount="19.90", reason="x")))
    with pytest.raises(model.InvariantViolation,
                       match="^order ord-1 shipped while its reservation is RELEASED$"):
        inventory.deliver(event(SHIPPED))
    assert _levels(inventory)["WIDGET-1"] == model.StockLevel("WIDGET-1", 5, 0, 0, 5)


def test_the_same_stock_delivery_twice_is_received_once(inventory):
    delivery = event(StockAdded(sku="WIDGET-1", quantity=3))
    inventory.deliver(delivery, delivery)
    assert _levels(inventory)["WIDGET-1"] == model.StockLevel("WIDGET-1", 8, 0, 0, 8)
