"""Shipping's reactions. Each: claim the inbox, apply the rules, emit, commit.

Both reactions first take the order's turn (ShippingRepository.take_turn), so "ship" and
"accept the cancellation" can never both happen for one order, whichever instance decides.
"""

from __future__ import annotations

from shared.choreography import Reaction, ServiceSpec
from shared.events import (
    Event,
    OrderCancellationAccepted,
    OrderCancellationRejected,
    OrderCancellationRequested,
    OrderShipped,
    PaymentCharged,
    ShipmentFailed,
    ShipOrder,
)
from shipping_service import model
from shipping_service.repository import ShippingUnitOfWork


def ship_order(event: Event, uow: ShippingUnitOfWork) -> None:
    paid: PaymentCharged = event.payload
    with uow:
        uow.shipping.take_turn(event.order_id)
        if uow.inbox.claim(event) and uow.shipping.shipment(event.order_id) is None:
            accepted = uow.shipping.cancellation(event.order_id) is model.CancellationDecision.ACCEPTED
            shipment = model.ship(event.order_id, paid.shipping_address.country,
                                  cancellation_accepted=accepted, past_deadline=event.deadline_at
                                  is not None and uow.now() > event.deadline_at.timestamp())
            uow.shipping.add_shipment(shipment)
            uow.emit(_shipment_outcome(shipment), caused_by=event)
        uow.commit()


def _shipment_outcome(shipment: model.Shipment) -> OrderShipped | ShipmentFailed:
    if shipment.status is model.ShipmentStatus.SHIPPED:
        return OrderShipped(shipment_id=shipment.shipment_id, carrier=model.CARRIER,
                            tracking_number=shipment.tracking_number)
    return ShipmentFailed(reason=shipment.reason)


def decide_cancellation(event: Event, uow: ShippingUnitOfWork) -> None:
    with uow:
        uow.shipping.take_turn(event.order_id)
        if uow.inbox.claim(event) and uow.shipping.cancellation(event.order_id) is None:
            decision, reason = model.decide_cancellation(uow.shipping.shipment(event.order_id),
                                                         event.payload.reason)
            uow.shipping.add_cancellation(event.order_id, decision, reason)
            outcome = (OrderCancellationAccepted if decision is model.CancellationDecision.ACCEPTED
                       else OrderCancellationRejected)
            uow.emit(outcome(reason=reason), caused_by=event)
        uow.commit()


SERVICE = ServiceSpec(
    name="shipping_service",
    description="The pivot: ships paid orders, or fails them before anything leaves; "
                "decides cancellations.",
    reactions={
        PaymentCharged: Reaction(ship_order, emits=(OrderShipped, ShipmentFailed)),
        OrderCancellationRequested: Reaction(
            decide_cancellation, emits=(OrderCancellationAccepted, OrderCancellationRejected)),
    },
)

#: The same shipping when orchestrator_service commands each step (SAGA_MODE=orchestrated):
#: the orchestrator decides cancellations itself, before it sends ShipOrder.
COMMANDED = ServiceSpec(
    name="shipping_service",
    description="The pivot: ships paid orders, or fails them before anything leaves.",
    reactions={ShipOrder: Reaction(ship_order, emits=(OrderShipped, ShipmentFailed))},
)

#: What this service does in each mode (SAGA_MODE).
DECLARATIONS = {"choreographed": SERVICE, "orchestrated": COMMANDED}
