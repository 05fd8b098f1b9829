"""What the customer is told. One notification per order and kind, never two.

Notifications move only forward: a failed delivery is retried, never compensated.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import (
    NotifyCustomer,
    OrderCancelled,
    OrderCompleted,
    Payload,
    PaymentRefunded,
)

#: Kinds that tell the customer how their order ended (exactly one per order).
OUTCOME_KINDS = frozenset({"order_completed", "order_cancelled"})


@dataclass(frozen=True)
class Notification:
    order_id: str
    customer_id: str
    kind: str
    message: str


def compose(order_id: str, fact: Payload) -> Notification:
    match fact:
        case OrderCompleted(customer_id=customer, total=total):
            return Notification(order_id, customer, "order_completed",
                                f"Your order {order_id} ({total}) is on its way.")
        case OrderCancelled(customer_id=customer, reason=reason):
            return Notification(order_id, customer, "order_cancelled",
                                f"Your order {order_id} was cancelled: {reason}.")
        case PaymentRefunded(customer_id=customer, amount=amount):
            return Notification(order_id, customer, "payment_refunded",
                                f"We refunded {amount} for order {order_id}.")
        # The orchestrator's command (SAGA_MODE=orchestrated) says which outcome to tell.
        case NotifyCustomer(customer_id=customer, kind="order_completed", total=total):
            return compose(order_id, OrderCompleted(customer_id=customer, total=total or 0))
        case NotifyCustomer(customer_id=customer, reason=reason):
            return compose(order_id, OrderCancelled(customer_id=customer,
                                                    reason=reason or "cancelled"))
    raise ValueError(f"nothing to tell the customer about {fact.event_type()}")
