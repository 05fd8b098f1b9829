"""Order rules: the order's status follows from the facts seen, in any arrival order.

Events of one saga travel on different topics, so the order service may learn
that an order shipped before it sees the order itself (an ``OrderCreated``
published straight to Kafka while this service was down). The status is
therefore a function of the *set* of facts, and terminal states never change.

The status is kept up to date one fact at a time (:func:`apply`): each fact can only raise
the status (pending < cancelling < cancelled < completed), and the decision on a
cancellation, so the stored order and the new fact are all it takes — never the whole
history again. :func:`advance`, the fold over every fact at once, is what an order that
arrives after some of its facts starts from.
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
# CompleteOrder and CancelOrder: the orchestrator's word, when it runs the saga.
_COMPLETING = {"OrderShipped", "CompleteOrder"}
_CANCELLING = {"StockReservationFailed", "StockReleased", "CancelOrder"}
_COMPENSATING = {"FraudCheckFailed", "PaymentFailed", "ShipmentFailed", "PaymentRefunded",
                 "OrderCancellationAccepted"}
_CANCELLATION = {"OrderCancellationRequested": Cancellation.REQUESTED,
                 "OrderCancellationAccepted": Cancellation.ACCEPTED,
                 "OrderCancellationRejected": Cancellation.REJECTED}
_FAILURES = ("StockReservationFailed", "FraudCheckFailed", "PaymentFailed", "ShipmentFailed",
             "OrderCancellationAccepted", "CancelOrder")


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
    #: Why it is being cancelled: the first failure or accepted cancellation seen.
    cancel_reason: str | None = None


_RANK = {OrderStatus.PENDING: 0, OrderStatus.CANCELLING: 1, OrderStatus.CANCELLED: 2,
         OrderStatus.COMPLETED: 3}
_STATUS_OF = {**{name: OrderStatus.CANCELLING for name in _COMPENSATING},
              **{name: OrderStatus.CANCELLED for name in _CANCELLING},
              **{name: OrderStatus.COMPLETED for name in _COMPLETING}}
_DECISIONS = list(Cancellation)


def status_after(facts: Iterable[Fact]) -> OrderStatus:
    """The highest status any of the facts leads to."""
    return max((_STATUS_OF.get(fact.event_type, OrderStatus.PENDING) for fact in facts),
               key=_RANK.__getitem__, default=OrderStatus.PENDING)


def cancellation_after(facts: Iterable[Fact]) -> Cancellation | None:
    decisions = [_CANCELLATION[f.event_type] for f in facts if f.event_type in _CANCELLATION]
    return max(decisions, key=_DECISIONS.index, default=None)


def apply(order: Order, fact: Fact) -> Order:
    """The order after one more fact; a terminal status never changes again."""
    status, cancellation = order.status, order.cancellation
    raised = _STATUS_OF.get(fact.event_type)
    if raised is not None and status not in TERMINAL and _RANK[raised] > _RANK[status]:
        status = raised
    decision = _CANCELLATION.get(fact.event_type)
    if decision is not None and (cancellation is None or
                                 _DECISIONS.index(decision) > _DECISIONS.index(cancellation)):
        cancellation = decision
    reason = order.cancel_reason
    if reason is None and fact.event_type in _FAILURES:
        reason = _describe(fact)
    if (status, cancellation, reason) == (order.status, order.cancellation, order.cancel_reason):
        return order
    return replace(order, status=status, cancellation=cancellation, cancel_reason=reason)


def advance(order: Order, facts: list[Fact]) -> Order:
    """The order after all these facts at once (for an order that arrives after some of its
    facts); a terminal status never changes again."""
    status = order.status if order.status in TERMINAL else status_after(facts)
    return replace(order, status=status, cancellation=cancellation_after(facts),
                   cancel_reason=cancellation_reason(facts, default=None))


def cancellation_reason(facts: Iterable[Fact], default: str | None = "cancelled") -> str | None:
    """Why the order was cancelled: the first failure or accepted cancellation seen."""
    return next((_describe(fact) for fact in facts if fact.event_type in _FAILURES), default)


def _describe(fact: Fact) -> str:
    if fact.event_type == "CancelOrder":  # the orchestrator already says why, in full
        return fact.detail or "cancelled"
    return f"{fact.event_type}: {fact.detail}" if fact.detail else fact.event_type


class CancellationRefused(Exception):
    """A cancellation request that cannot be taken; the message says why."""


def cancel_when_overdue(order: Order) -> bool:
    """A deadline that passes cancels a saga still running forward with no cancellation under
    way; one already compensating, finished or being cancelled goes its way."""
    return order.status is OrderStatus.PENDING and order.cancellation is None


def request_cancellation(order: Order) -> bool:
    """True if a new request must go to shipping; False if one is already under way."""
    if order.status is OrderStatus.COMPLETED or order.cancellation is Cancellation.REJECTED:
        raise CancellationRefused(f"order {order.order_id} has already shipped")
    return order.status is OrderStatus.PENDING and order.cancellation is None
