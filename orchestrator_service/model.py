"""The orchestrator's rules: where one saga stands, and what to send when a reply arrives.

One command is in flight per saga at a time: the orchestrator sends a step's command, waits for
its reply, and decides the next command from the flow (``shared.orchestration``). A failure
starts the compensations of the steps before it, the latest first; an accepted cancellation
does the same once the step in flight has answered. Either way the customer is told at the end.
A cancellation is accepted only while the pivot's command (ShipOrder) has not been sent: from
then on the saga only moves forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from shared.events import (
    CancelOrder,
    ChargePayment,
    CheckFraud,
    CompleteOrder,
    MarkStockShipped,
    NotifyCustomer,
    OrderCancellationAccepted,
    OrderCancellationRejected,
    OrderCreated,
    Payload,
    RefundPayment,
    ReleaseStock,
    ReserveStock,
    ShipOrder,
)
from shared.orchestration import OrchestratedFlow


class Phase(StrEnum):
    FORWARD = "FORWARD"            # a step's command is in flight
    COMPENSATING = "COMPENSATING"  # an undo command is in flight
    CLOSING = "CLOSING"            # compensated; the customer is being told
    COMPLETED = "COMPLETED"        # terminal
    CANCELLED = "CANCELLED"        # terminal


@dataclass(frozen=True)
class Saga:
    order_id: str
    version: int
    #: What the commands carry (customer, lines, address); None while only a cancellation
    #: request has arrived (it can overtake its OrderCreated: they travel on different topics).
    order: OrderCreated | None
    phase: Phase = Phase.FORWARD
    #: The step whose reply (FORWARD) or whose compensation's reply (COMPENSATING) is awaited.
    at: int = 1
    #: Why it is being compensated.
    reason: str | None = None
    #: An accepted cancellation's reason, until the step in flight answers.
    cancellation: str | None = None


@dataclass(frozen=True)
class Decision:
    saga: Saga
    #: Commands to send, in order.
    commands: list[Payload] = field(default_factory=list)
    #: Events the orchestrator publishes as the decider (a cancellation's answer).
    answers: list[Payload] = field(default_factory=list)


def start(order_id: str, version: int, order: OrderCreated, flow: OrchestratedFlow,
          waiting: Saga | None = None) -> Decision:
    """The saga of a new order: the first step's command. ``waiting`` is a saga whose
    cancellation came first: it is undone at once."""
    saga = Saga(order_id, version, order)
    if waiting is not None and waiting.cancellation is not None:
        return _compensate(saga, flow, through=0, reason=waiting.cancellation)
    return Decision(saga, _commands(flow, 1, saga))


def on_reply(saga: Saga, flow: OrchestratedFlow, reply: Payload) -> Decision:
    """The next move after a participant's reply; a reply the saga no longer waits for (a
    redelivery, a duplicate) changes nothing."""
    kind = type(reply)
    step = flow.steps[saga.at].step
    if saga.phase is Phase.FORWARD and kind is step.action:
        if saga.cancellation is not None:
            return _compensate(saga, flow, through=saga.at, reason=saga.cancellation)
        if saga.at == flow.closing:
            return Decision(replace(saga, phase=Phase.COMPLETED))
        return Decision(replace(saga, at=saga.at + 1), _commands(flow, saga.at + 1, saga))
    if saga.phase is Phase.FORWARD and kind is step.failure:
        return _compensate(saga, flow, through=saga.at - 1, reason=_why(reply))
    if saga.phase is Phase.COMPENSATING and kind is step.compensation:
        return _compensate(saga, flow, through=saga.at - 1, reason=saga.reason)
    if saga.phase is Phase.CLOSING and kind is step.action:
        return Decision(replace(saga, phase=Phase.CANCELLED))
    return Decision(saga)


def on_cancellation(saga: Saga | None, order_id: str, version: int, reason: str,
                    flow: OrchestratedFlow) -> Decision:
    """Accept while the pivot's command has not been sent; reject from then on."""
    if saga is None:  # the request overtook its order: accepted, and kept for it
        return Decision(Saga(order_id, version, None, cancellation=reason),
                        answers=[OrderCancellationAccepted(reason=reason)])
    if saga.phase in (Phase.COMPENSATING, Phase.CLOSING, Phase.CANCELLED):
        return Decision(saga, answers=[OrderCancellationAccepted(
            reason=f"already being cancelled: {saga.reason}")])
    if saga.phase is Phase.COMPLETED or saga.at >= flow.pivot_index:
        too_late = "already shipped" if saga.phase is Phase.COMPLETED else "already shipping"
        return Decision(saga, answers=[OrderCancellationRejected(reason=too_late)])
    if saga.cancellation is not None:
        return Decision(saga)
    return Decision(replace(saga, cancellation=reason),
                    answers=[OrderCancellationAccepted(reason=reason)])


def _compensate(saga: Saga, flow: OrchestratedFlow, through: int, reason: str | None
                ) -> Decision:
    """Undo the latest step up to ``through`` that has an undo; when none is left, tell the
    customer."""
    pending = [i for i in range(through, -1, -1) if flow.steps[i].undo is not None]
    if pending:
        saga = replace(saga, phase=Phase.COMPENSATING, at=pending[0], reason=reason,
                       cancellation=None)
        return Decision(saga, [_build(flow.steps[pending[0]].undo, saga)])
    saga = replace(saga, phase=Phase.CLOSING, at=flow.closing, reason=reason, cancellation=None)
    return Decision(saga, _commands(flow, flow.closing, saga))


def _commands(flow: OrchestratedFlow, index: int, saga: Saga) -> list[Payload]:
    step = flow.steps[index]
    return [_build(kind, saga) for kind in (step.command, *step.also)]


def _why(reply: Payload) -> str:
    reason = getattr(reply, "reason", "")
    return f"{reply.event_type()}: {reason}" if reason else reply.event_type()


def _build(kind: type[Payload] | None, saga: Saga) -> Payload:
    """The command of that kind for this saga, from what the order said."""
    order = saga.order
    if kind is None or order is None:  # the flow gives every step after the first a command
        raise ValueError(f"no command of saga {saga.order_id} to send at step {saga.at}")
    if kind in (ReserveStock, CheckFraud, ChargePayment):
        return kind(customer_id=order.customer_id, items=order.items,
                    shipping_address=order.shipping_address)
    if kind is NotifyCustomer and saga.phase is Phase.CLOSING:
        return NotifyCustomer(customer_id=order.customer_id, kind="order_cancelled",
                              reason=saga.reason or "cancelled")
    builders = {
        ShipOrder: lambda: ShipOrder(shipping_address=order.shipping_address),
        MarkStockShipped: MarkStockShipped,
        CompleteOrder: CompleteOrder,
        NotifyCustomer: lambda: NotifyCustomer(customer_id=order.customer_id,
                                               kind="order_completed", total=order.total),
        RefundPayment: lambda: RefundPayment(reason=f"compensating: {saga.reason}"),
        ReleaseStock: lambda: ReleaseStock(reason=f"compensating: {saga.reason}"),
        CancelOrder: lambda: CancelOrder(reason=saga.reason or "cancelled"),
    }
    return builders[kind]()
