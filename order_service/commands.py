"""What the order service is asked to do, not by an event: place an order and request a
cancellation (its HTTP API), and cancel an order whose deadline passed (its timer).

Same shape as the handlers: one local transaction that changes the order and
adds the resulting event to the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from order_service import model
from order_service.repository import DEADLINE, OrderUnitOfWork
from shared.events import DEADLINE_PASSED, OrderCancellationRequested, OrderCreated

log = logging.getLogger(__name__)


class OrderNotFound(LookupError):
    pass


class OrderAlreadyExists(ValueError):
    pass


def place_order(order_id: str, order: OrderCreated, deadline_seconds: float | None,
                uow: OrderUnitOfWork) -> None:
    """Record the order and start its saga, with a deadline (the service's default unless
    given)."""
    with uow:
        if uow.orders.get(order_id) is not None:
            raise OrderAlreadyExists(f"order {order_id} already exists")
        if uow.orders.has_history(order_id):
            # Its saga already runs: an OrderCreated for it reached the other services straight
            # from Kafka, and their facts arrived here first. A second order would never end.
            raise OrderAlreadyExists(f"order {order_id} already has saga events; choose another id")
        deadline = uow.now() + (deadline_seconds or uow.deadline_seconds)
        uow.orders.add(order_id, order, deadline)
        created = uow.originate(order, order_id=order_id,
                                deadline_at=datetime.fromtimestamp(deadline, UTC))
        uow.inbox.claim(created)  # our own OrderCreated, read back from Kafka, is a duplicate
        uow.orders.record(created)
        uow.deadlines.set(DEADLINE, order_id, deadline)
        uow.commit()


def request_cancellation(order_id: str, reason: str, uow: OrderUnitOfWork) -> model.Order:
    """Ask for the cancellation; raises CancellationRefused once the order has shipped."""
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"order {order_id} not found")
        if model.request_cancellation(order):
            order = _ask_for_cancellation(order, reason, uow)
        uow.commit()
    return order


def cancel_overdue_order(order_id: str, uow: OrderUnitOfWork) -> None:
    """Its deadline passed: cancel it as an accepted cancellation would — unless it has
    shipped (the decider decides, and after the pivot the saga only goes forward), or a
    cancellation is already under way."""
    with uow:
        order = uow.orders.get(order_id)
        if order is not None and model.cancel_when_overdue(order):
            when = datetime.fromtimestamp(uow.deadlines.due_at(DEADLINE, order_id), UTC)
            _ask_for_cancellation(order, f"{DEADLINE_PASSED} ({when:%Y-%m-%d %H:%M:%S} UTC)", uow)
        else:
            log.info("deadline passed; nothing to cancel", extra={
                "order_id": order_id, "status": order and str(order.status)})
        uow.commit()


def _ask_for_cancellation(order: model.Order, reason: str, uow: OrderUnitOfWork) -> model.Order:
    """The request goes to whoever decides cancellations: shipping, the pivot, in the
    choreography; the orchestrator when it runs the saga."""
    requested = uow.originate(OrderCancellationRequested(reason=reason), order_id=order.order_id)
    uow.orders.record(requested)
    order = replace(order, cancellation=model.Cancellation.REQUESTED)
    uow.orders.save(order)
    return order
