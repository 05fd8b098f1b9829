"""Fraud's reaction: claim the inbox, screen the order once, emit the verdict, commit.

It takes part in version 2 of the saga's flow on: a saga started under version 1 goes from
StockReserved straight to payment, and this service does nothing for it.
"""

from __future__ import annotations

from fraud_service import model
from fraud_service.repository import FraudUnitOfWork
from shared.choreography import Reaction, ServiceSpec
from shared.events import (
    CheckFraud,
    Event,
    FraudCheckFailed,
    FraudCheckPassed,
    StockReserved,
)

#: The versions of the saga's flow in which orders are screened.
SCREENED = frozenset({2})


def screen_order(event: Event, uow: FraudUnitOfWork) -> None:
    order: StockReserved = event.payload
    with uow:
        # A second StockReserved for the same order (new event id) screens nothing more.
        if uow.inbox.claim(event) and uow.screenings.get(event.order_id) is None:
            screening = model.screen(event.order_id, order.customer_id, order.total)
            uow.screenings.add(screening, screened_at=uow.now())
            uow.emit(_verdict(order, screening), caused_by=event)
        uow.commit()


def _verdict(order: StockReserved, screening: model.Screening
             ) -> FraudCheckPassed | FraudCheckFailed:
    if screening.passed:  # carries on what payment and shipping need: nobody has to ask
        return FraudCheckPassed(customer_id=order.customer_id, items=order.items,
                                shipping_address=order.shipping_address)
    return FraudCheckFailed(customer_id=order.customer_id, reason=screening.reason)


SERVICE = ServiceSpec(
    name="fraud_service",
    description="Screens each order after its stock is reserved, before it is charged "
                "(flow version 2 on); decides only, so it has nothing to compensate.",
    reactions={
        StockReserved: Reaction(screen_order, emits=(FraudCheckPassed, FraudCheckFailed),
                                versions=SCREENED),
    },
)

#: The same screening when orchestrator_service commands each step (SAGA_MODE=orchestrated).
COMMANDED = ServiceSpec(
    name="fraud_service",
    description=SERVICE.description,
    reactions={CheckFraud: Reaction(screen_order, emits=(FraudCheckPassed, FraudCheckFailed),
                                    versions=SCREENED)},
)

#: What this service does in each mode (SAGA_MODE).
DECLARATIONS = {"choreographed": SERVICE, "orchestrated": COMMANDED}
