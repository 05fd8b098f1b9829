"""Inventory's reactions. Each: claim the inbox, apply the rules, emit, commit."""

from __future__ import annotations

from inventory_service import model
from inventory_service.repository import InventoryUnitOfWork
from shared.choreography import Reaction, ServiceSpec
from shared.events import (
    Event,
    FraudCheckFailed,
    MarkStockShipped,
    OrderCreated,
    OrderShipped,
    PaymentFailed,
    PaymentRefunded,
    ReleasedLine,
    ReleaseStock,
    ReserveStock,
    Shortage,
    StockAdded,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)


def reserve_stock(event: Event, uow: InventoryUnitOfWork) -> None:
    order: OrderCreated = event.payload
    with uow:
        # A second OrderCreated for the same order (new event id) reserves nothing more.
        if uow.inbox.claim(event) and uow.reservations.get(event.order_id) is None:
            lines = [model.Line(item.sku, item.quantity) for item in order.items]
            stock = uow.stock.levels(line.sku for line in lines)
            reservation, levels, shortfalls = model.reserve(event.order_id, lines, stock)
            uow.reservations.save(reservation)
            uow.stock.save(levels)
            uow.emit(_reservation_outcome(order, shortfalls), caused_by=event)
        uow.commit()


def _reservation_outcome(order: OrderCreated, shortfalls: list[model.Shortfall]):
    if shortfalls:
        return StockReservationFailed(
            reason="insufficient stock",
            shortages=[Shortage(sku=s.sku, requested=s.requested, available=s.available)
                       for s in shortfalls])
    return StockReserved(customer_id=order.customer_id, items=order.items,
                         shipping_address=order.shipping_address)


def release_stock(event: Event, uow: InventoryUnitOfWork) -> None:
    with uow:
        reservation = uow.reservations.get(event.order_id)
        if uow.inbox.claim(event) and reservation is not None and reservation.holds_stock:
            released, levels = model.release(reservation, uow.stock.levels(
                line.sku for line in reservation.lines))
            uow.reservations.save(released)
            uow.stock.save(levels)
            uow.emit(StockReleased(
                items=[ReleasedLine(sku=line.sku, quantity=line.quantity) for line in released.lines],
                reason=f"compensating {event.event_type}"), caused_by=event)
        uow.commit()


def mark_stock_shipped(event: Event, uow: InventoryUnitOfWork) -> None:
    with uow:
        reservation = uow.reservations.get(event.order_id)
        if uow.inbox.claim(event) and reservation is not None:
            shipped, levels = model.ship(reservation, uow.stock.levels(
                line.sku for line in reservation.lines))
            uow.reservations.save(shipped)
            uow.stock.save(levels)
        uow.commit()


def add_stock(event: Event, uow: InventoryUnitOfWork) -> None:
    delivery: StockAdded = event.payload
    with uow:
        if uow.inbox.claim(event):
            level = uow.stock.level_to_add_to(delivery.sku)
            uow.stock.save({delivery.sku: level.add(delivery.quantity)})
        uow.commit()


SERVICE = ServiceSpec(
    name="inventory_service",
    description="Owns stock per SKU; reserves all-or-nothing per order, releases on compensation.",
    reactions={
        OrderCreated: Reaction(reserve_stock, emits=(StockReserved, StockReservationFailed)),
        PaymentFailed: Reaction(release_stock, emits=(StockReleased,)),
        # A rejected screening (flow version 2 on) undoes the reservation before it.
        FraudCheckFailed: Reaction(release_stock, emits=(StockReleased,),
                                   versions=frozenset({2})),
        PaymentRefunded: Reaction(release_stock, emits=(StockReleased,)),
        OrderShipped: Reaction(mark_stock_shipped),
        StockAdded: Reaction(add_stock),
    },
)

#: The same reactions when orchestrator_service commands each step (SAGA_MODE=orchestrated).
COMMANDED = ServiceSpec(
    name="inventory_service",
    description=SERVICE.description,
    reactions={
        ReserveStock: Reaction(reserve_stock, emits=(StockReserved, StockReservationFailed)),
        ReleaseStock: Reaction(release_stock, emits=(StockReleased,)),
        MarkStockShipped: Reaction(mark_stock_shipped),
        StockAdded: Reaction(add_stock),
    },
)

#: What this service does in each mode (SAGA_MODE).
DECLARATIONS = {"choreographed": SERVICE, "orchestrated": COMMANDED}
