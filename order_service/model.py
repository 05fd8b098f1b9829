"""Order rules: the order's status follows from the facts seen, in any arrival order.

Events of one saga travel on different topics, so the order service may learn
that an order shipped before it sees the order itself (an ``OrderCreated``
published straight to Kafka while this service was down). The status is
therefore a function of the *set* of facts, and terminal states never change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "PENDING"          # the saga is running forward
    CANCELLING = "CANCELLING"    # a step failed or a cancellation was accepted: compensating
    COMPLETED = "COMPLETED"      # shipped: terminal
    CANCELLED = "CANCELLED"      # compensated: terminal


class Cancellation(StrEnum):
    REQUESTED = "REQUESTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


TERMINAL = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED})
_COMPLETING = {"OrderShipped"}
_CANCELLING = {"StockReservationFailed", "StockReleased"}
_COMPENSATING = {"PaymentFailed", "ShipmentFailed", "PaymentRefunded", "OrderCancellationAccepted"}
_CANCELLATION = {"OrderCancellationRequested": Cancellation.REQUESTED,
                 "OrderCancellationAccepted": Cancellation.ACCEPTED,
                 "OrderCancellationRejected": Cancellation.REJECTED}
_FAILURES = ("StockReservationFailed", "PaymentFailed", "ShipmentFailed",
             "OrderCancellationAccepted")


@dataclass(frozen=True)
class Fact:
    event_type: str
    detail: str = ""


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    total: Decimal
    status: OrderStatus = OrderStatus.PENDING
    cancellation: Cancellation | None = None


def status_after(facts: Iterable[Fact]) -> OrderStatus:
    seen = {fact.event_type for fact in facts}
    if seen & _COMPLETING:
        return OrderStatus.COMPLETED
    if seen & _CANCELLING:
        return OrderStatus.CANCELLED
    if seen & _COMPENSATING:
        return OrderStatus.CANCELLING
    return OrderStatus.PENDING


def cancellation_after(facts: Iterable[Fact]) -> Cancellation | None:
    decisions = [_CANCELLATION[f.event_type] for f in facts if f.event_type in _CANCELLATION]
    return max(decisions, key=list(Cancellation).index, default=None)


def advance(order: Order, facts: list[Fact]) -> Order:
    """The order after these facts; a terminal status never changes again."""
    status = order.status if order.status in TERMINAL else status_after(facts)
    return replace(order, status=status, cancellation=cancellation_after(facts))


def cancellation_reason(facts: Iterable[Fact]) -> str:
    """Why the order was cancelled: the first failure or accepted cancellation seen."""
    for fact in facts:
        if fact.event_type in _FAILURES:
            return f"{fact.event_type}: {fact.detail}" if fact.detail else fact.event_type
    return "cancelled"


class CancellationRefused(Exception):
    """A cancellation request that cannot be taken; the message says why."""


def request_cancellation(order: Order) -> bool:
    """True if a new request must go to shipping; False if one is already under way."""
    if order.status is OrderStatus.COMPLETED or order.cancellation is Cancellation.REJECTED:
        raise CancellationRefused(f"order {order.order_id} has already shipped")
    return order.status is OrderStatus.PENDING and order.cancellation is None
