"""Order's reactions: record every saga fact, conclude the order once, exactly once.

Each: claim the inbox, apply the rules, emit, commit.
"""

from __future__ import annotations

from order_service import model
from order_service.repository import OrderUnitOfWork
from shared.choreography import Reaction, ServiceSpec
from shared.events import (
    CustomerNotified,
    Event,
    OrderCancellationAccepted,
    OrderCancellationRejected,
    OrderCancellationRequested,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderShipped,
    PaymentCharged,
    PaymentFailed,
    PaymentRefunded,
    ShipmentFailed,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)


def record_order(event: Event, uow: OrderUnitOfWork) -> None:
    with uow:
        # Orders placed through the API were claimed when placed: this is then a no-op.
        if uow.inbox.claim(event) and uow.orders.get(event.order_id) is None:
            uow.orders.add(event.order_id, event.payload)
            _apply_fact(event, uow)
        uow.commit()


def track_order(event: Event, uow: OrderUnitOfWork) -> None:
    with uow:
        if uow.inbox.claim(event):
            _apply_fact(event, uow)
        uow.commit()


def _apply_fact(event: Event, uow: OrderUnitOfWork) -> None:
    uow.orders.record(event)
    order = uow.orders.get(event.order_id)
    if order is None:
        return  # the facts wait in the history until the order itself arrives
    facts = uow.orders.facts(order.order_id)
    advanced = model.advance(order, facts)
    uow.orders.save(advanced)
    if advanced.status != order.status and advanced.status in model.TERMINAL:
        uow.orders.record(uow.emit(_conclusion(advanced, facts), caused_by=event))


def _conclusion(order: model.Order, facts: list[model.Fact]) -> OrderCompleted | OrderCancelled:
    if order.status is model.OrderStatus.COMPLETED:
        return OrderCompleted(customer_id=order.customer_id, total=order.total)
    return OrderCancelled(customer_id=order.customer_id, reason=model.cancellation_reason(facts))


_CONCLUDES = (OrderCompleted, OrderCancelled)

SERVICE = ServiceSpec(
    name="order_service",
    description="Owns orders: the HTTP API places and cancels them; records every saga fact "
                "and concludes each order exactly once.",
    originates=(OrderCreated, OrderCancellationRequested),
    reactions={
        # Recording an order whose outcome already arrived concludes it at once.
        OrderCreated: Reaction(record_order, emits=_CONCLUDES),
        StockReserved: Reaction(track_order),
        StockReservationFailed: Reaction(track_order, emits=(OrderCancelled,)),
        PaymentCharged: Reaction(track_order),
        PaymentFailed: Reaction(track_order),
        OrderShipped: Reaction(track_order, emits=(OrderCompleted,)),
        ShipmentFailed: Reaction(track_order),
        PaymentRefunded: Reaction(track_order),
        StockReleased: Reaction(track_order, emits=(OrderCancelled,)),
        OrderCancellationAccepted: Reaction(track_order),
        OrderCancellationRejected: Reaction(track_order),
        CustomerNotified: Reaction(track_order),
    },
)
