"""What the HTTP API asks of the order service: place an order, request a cancellation.

Same shape as the handlers: one local transaction that changes the order and
adds the resulting event to the outbox.
"""

from __future__ import annotations

from dataclasses import replace

from order_service import model
from order_service.repository import OrderUnitOfWork
from shared.events import OrderCancellationRequested, OrderCreated


class OrderNotFound(LookupError):
    pass


class OrderAlreadyExists(ValueError):
    pass


def place_order(order_id: str, order: OrderCreated, uow: OrderUnitOfWork) -> None:
    with uow:
        if uow.orders.get(order_id) is not None:
            raise OrderAlreadyExists(f"order {order_id} already exists")
        if uow.orders.has_history(order_id):
            # Its saga already runs: an OrderCreated for it reached the other services straight
            # from Kafka, and their facts arrived here first. A second order would never end.
            raise OrderAlreadyExists(f"order {order_id} already has saga events; choose another id")
        uow.orders.add(order_id, order)
        created = uow.originate(order, order_id=order_id)
        uow.inbox.claim(created)  # our own OrderCreated, read back from Kafka, is a duplicate
        uow.orders.record(created)
        uow.commit()


def request_cancellation(order_id: str, reason: str, uow: OrderUnitOfWork) -> model.Order:
    """Ask shipping to cancel; raises CancellationRefused once the order has shipped."""
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"order {order_id} not found")
        if model.request_cancellation(order):
            requested = uow.originate(OrderCancellationRequested(reason=reason), order_id=order_id)
            uow.orders.record(requested)
            order = replace(order, cancellation=model.Cancellation.REQUESTED)
            uow.orders.save(order)
        uow.commit()
    return order
