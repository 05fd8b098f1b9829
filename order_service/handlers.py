"""Order's reactions: record every saga fact, conclude the order once, exactly once.

Each: claim the inbox, apply the rules, emit, commit.
"""

from __future__ import annotations

from order_service import model
from order_service.commands import cancel_overdue_order
from order_service.repository import DEADLINE, OrderUnitOfWork
from shared.choreography import Reaction, ServiceSpec, Timeout
from shared.events import (
    CancelOrder,
    CompleteOrder,
    CustomerNotified,
    Event,
    FraudCheckFailed,
    FraudCheckPassed,
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
            deadline = (event.deadline_at.timestamp() if event.deadline_at
                        else uow.now() + uow.deadline_seconds)
            order = uow.orders.add(event.order_id, event.payload, deadline)
            uow.deadlines.set(DEADLINE, event.order_id, deadline)
            uow.orders.record(event)
            # Its other facts may have come first (they wait in its history): all of them, once.
            _settle(order, model.advance(order, uow.orders.facts(order.order_id)), event, uow)
        uow.commit()


def track_order(event: Event, uow: OrderUnitOfWork) -> None:
    with uow:
        if uow.inbox.claim(event):
            fact = uow.orders.record(event)
            order = uow.orders.get(event.order_id)
            if order is not None:  # else the fact waits in the history for its order
                _settle(order, model.apply(order, fact), event, uow)
        uow.commit()


def _settle(before: model.Order, after: model.Order, cause: Event, uow: OrderUnitOfWork) -> None:
    """Store what changed; conclude the order when it has just become final."""
    if after == before:
        return
    uow.orders.save(after)
    if after.status != before.status and after.status in model.TERMINAL:
        uow.orders.record(uow.emit(_conclusion(after), caused_by=cause))


def _conclusion(order: model.Order) -> OrderCompleted | OrderCancelled:
    if order.status is model.OrderStatus.COMPLETED:
        return OrderCompleted(customer_id=order.customer_id, total=order.total)
    return OrderCancelled(customer_id=order.customer_id,
                          reason=order.cancel_reason or "cancelled")


_CONCLUDES = (OrderCompleted, OrderCancelled)
_SCREENED = frozenset({2})

SERVICE = ServiceSpec(
    name="order_service",
    description="Owns orders: the HTTP API places and cancels them; records every saga fact "
                "and concludes each order exactly once.",
    originates=(OrderCreated, OrderCancellationRequested),
    # An order not past shipping by its deadline is cancelled (compensations as usual).
    timeouts={DEADLINE: Timeout(cancel_overdue_order, emits=(OrderCancellationRequested,))},
    reactions={
        # Recording an order whose outcome already arrived concludes it at once.
        OrderCreated: Reaction(record_order, emits=_CONCLUDES),
        StockReserved: Reaction(track_order),
        StockReservationFailed: Reaction(track_order, emits=(OrderCancelled,)),
        # The screening's verdict, from flow version 2 on (a rejection starts compensating).
        FraudCheckPassed: Reaction(track_order, versions=_SCREENED),
        FraudCheckFailed: Reaction(track_order, versions=_SCREENED),
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

#: The order's record when orchestrator_service runs the saga (SAGA_MODE=orchestrated): it
#: concludes the order when told to, and records the orchestrator's cancellation decisions.
COMMANDED = ServiceSpec(
    name="order_service",
    description="Owns orders: the HTTP API places and cancels them; concludes each order "
                "exactly once when the orchestrator says so.",
    originates=SERVICE.originates,
    timeouts=SERVICE.timeouts,
    reactions={
        OrderCreated: Reaction(record_order, emits=_CONCLUDES),
        CompleteOrder: Reaction(track_order, emits=(OrderCompleted,)),
        CancelOrder: Reaction(track_order, emits=(OrderCancelled,)),
        OrderCancellationAccepted: Reaction(track_order),
        OrderCancellationRejected: Reaction(track_order),
        # The saga's last fact, as in the choreography: the order's history says it is over.
        CustomerNotified: Reaction(track_order),
    },
)

#: What this service does in each mode (SAGA_MODE).
DECLARATIONS = {"choreographed": SERVICE, "orchestrated": COMMANDED}
