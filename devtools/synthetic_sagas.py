"""Whole sagas as the services would publish them, without the services: for the monitor's tests
and its memory measurement. Each event names the event that caused it and the service that
emits it in the choreography; times advance by ``step`` seconds per event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.events import CustomerNotified, Event
from shared.events.catalog import CATALOG
from shared.events.examples import EXAMPLES

# (event type, index of its cause in the path or None, producer)
HAPPY = (("OrderCreated", None, "order_service"), ("StockReserved", 0, "inventory_service"),
         ("PaymentCharged", 1, "payment_service"), ("OrderShipped", 2, "shipping_service"),
         ("OrderCompleted", 3, "order_service"), ("CustomerNotified", 4, "notification_service"))
NO_CARRIER = (*HAPPY[:3], ("ShipmentFailed", 2, "shipping_service"),
              ("PaymentRefunded", 3, "payment_service"),
              ("CustomerNotified", 4, "notification_service"),
              ("StockReleased", 4, "inventory_service"), ("OrderCancelled", 6, "order_service"),
              ("CustomerNotified", 7, "notification_service"))
OUT_OF_STOCK = (HAPPY[0], ("StockReservationFailed", 0, "inventory_service"),
                ("OrderCancelled", 1, "order_service"),
                ("CustomerNotified", 2, "notification_service"))
#: Flow version 2 (shared.saga.SAGAS): screened between the reservation and the charge.
SCREENED = (*HAPPY[:2], ("FraudCheckPassed", 1, "fraud_service"),
            ("PaymentCharged", 2, "payment_service"), ("OrderShipped", 3, "shipping_service"),
            ("OrderCompleted", 4, "order_service"),
            ("CustomerNotified", 5, "notification_service"))
FRAUD_REJECTED = (*HAPPY[:2], ("FraudCheckFailed", 1, "fraud_service"),
                  ("StockReleased", 2, "inventory_service"), ("OrderCancelled", 3, "order_service"),
                  ("CustomerNotified", 4, "notification_service"))
NOTIFICATION_KINDS = {"OrderCompleted": "order_completed", "OrderCancelled": "order_cancelled",
                      "PaymentRefunded": "payment_refunded"}


def saga(order_id: str, path=HAPPY, *, start: datetime | None = None, step: float = 0.01,
         customer: str = "alice", version: int = 1) -> list[Event]:
    """The events of one saga along ``path`` (or a prefix of one), in causal order, of
    ``version`` of the flow."""
    start = start or datetime.now(UTC)
    events: list[Event] = []
    for index, (event_type, cause, producer) in enumerate(path):
        payload = EXAMPLES[CATALOG[event_type]]
        if hasattr(payload, "customer_id"):
            payload = payload.model_copy(update={"customer_id": customer})
        if event_type == "CustomerNotified":
            payload = CustomerNotified(customer_id=customer, message="Your order news.",
                                       kind=NOTIFICATION_KINDS[path[cause][0]])
        events.append(Event.new(payload, order_id=order_id, producer=producer,
                                causation_id=events[cause].event_id if cause is not None
                                else None, saga_version=version).model_copy(
            update={"occurred_at": start + timedelta(seconds=index * step)}))
    return events
