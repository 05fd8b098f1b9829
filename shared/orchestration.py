"""The same order saga, orchestrated (``SAGA_MODE=orchestrated``): its flow as data.

In this mode ``orchestrator_service`` owns each saga's state. It sends each step's service a
command (``shared.events.COMMANDS``) and waits for the reply, which is the very event the
step emits in the choreography (``StockReserved``, ``PaymentFailed``, …). The flow is not a
second saga: it is :data:`shared.saga.SAGAS` — the same steps, pivot and compensations, every
version — with a command for each step and for each compensation (:data:`COMMAND_FOR`,
:data:`UNDO_FOR`). :func:`check` verifies that the participants' orchestrated declarations
really implement it, as :func:`shared.saga.check` does for the choreography.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.choreography import ServiceSpec, producers_of
from shared.events import (
    CancelOrder,
    ChargePayment,
    CheckFraud,
    CompleteOrder,
    CustomerNotified,
    FraudCheckPassed,
    MarkStockShipped,
    NotifyCustomer,
    OrderCancelled,
    OrderCompleted,
    OrderShipped,
    Payload,
    PaymentCharged,
    PaymentRefunded,
    RefundPayment,
    ReleaseStock,
    ReserveStock,
    ShipOrder,
    StockReleased,
    StockReserved,
)
from shared.saga import SAGAS, SagaDefinition, Step

ORCHESTRATOR = "orchestrator_service"

#: The command that makes a step happen, by the event that says it did.
COMMAND_FOR: dict[type[Payload], type[Payload]] = {
    StockReserved: ReserveStock, FraudCheckPassed: CheckFraud, PaymentCharged: ChargePayment,
    OrderShipped: ShipOrder, OrderCompleted: CompleteOrder, CustomerNotified: NotifyCustomer,
}
#: The command that compensates a step, by the event that says it was compensated.
UNDO_FOR: dict[type[Payload], type[Payload]] = {
    OrderCancelled: CancelOrder, StockReleased: ReleaseStock, PaymentRefunded: RefundPayment,
}
#: Commands sent with a step's command that need no reply: what the choreography does beside
#: the main line (inventory takes shipped stock off its books when the order completes).
ALSO: dict[type[Payload], tuple[type[Payload], ...]] = {CompleteOrder: (MarkStockShipped,)}


@dataclass(frozen=True)
class CommandedStep:
    step: Step
    #: None for the first step: the order is placed (OrderCreated), not commanded.
    command: type[Payload] | None
    undo: type[Payload] | None
    also: tuple[type[Payload], ...] = ()

    @property
    def replies(self) -> tuple[type[Payload], ...]:
        return tuple(p for p in (self.step.action, self.step.failure) if p is not None)


@dataclass(frozen=True)
class OrchestratedFlow:
    saga: SagaDefinition
    steps: tuple[CommandedStep, ...]

    @property
    def pivot_index(self) -> int:
        return self.saga.pivot_index

    @property
    def closing(self) -> int:
        """The last step (telling the customer): it runs after a compensation too."""
        return len(self.steps) - 1

    @property
    def commands(self) -> tuple[type[Payload], ...]:
        found = [p for s in self.steps for p in (s.command, s.undo, *s.also) if p is not None]
        return tuple(dict.fromkeys(found))

    @property
    def replies(self) -> tuple[type[Payload], ...]:
        found = [p for s in self.steps for p in (*s.replies, s.step.compensation) if p is not None]
        return tuple(dict.fromkeys(found))


def commanded(saga: SagaDefinition) -> OrchestratedFlow:
    """The saga with its commands; a step or compensation without one is an error here."""
    steps = []
    for index, step in enumerate(saga.steps):
        command = None if index == 0 else COMMAND_FOR[step.action]
        undo = UNDO_FOR[step.compensation] if step.compensation else None
        steps.append(CommandedStep(step, command, undo, ALSO.get(command, ())))
    return OrchestratedFlow(saga, tuple(steps))


#: Every version of the flow, orchestrated.
FLOWS: dict[int, OrchestratedFlow] = {version: commanded(saga) for version, saga in SAGAS.items()}


def check_every_version(specs: Sequence[ServiceSpec],
                        flows: dict[int, OrchestratedFlow] = FLOWS) -> list[str]:
    return [f"orchestrated v{version}: {problem}" for version, flow in flows.items()
            for problem in check(flow, [spec.in_version(version) for spec in specs])]


def check(flow: OrchestratedFlow, specs: Sequence[ServiceSpec]) -> list[str]:
    """Every way the orchestrated declarations break the saga's rules; empty when sound."""
    problems = []
    by_name = {spec.name: spec for spec in specs}
    for index, commanded_step in enumerate(flow.steps):
        step, name = commanded_step.step, commanded_step.step.action.event_type()
        before_pivot = index < flow.pivot_index
        if before_pivot and commanded_step.undo is None and not step.changes_nothing:
            problems.append(f"step {name} comes before the pivot but has no compensating command")
        if not before_pivot and commanded_step.undo is not None:
            problems.append(f"step {name} is at or after the pivot but has a compensating command")
        service = by_name.get(step.service, ServiceSpec(step.service))
        if commanded_step.command is not None:
            problems += _obeys(service, commanded_step.command, commanded_step.replies)
        if commanded_step.undo is not None:
            problems += _obeys(service, commanded_step.undo, (step.compensation,))
        for also in commanded_step.also:
            if not any(also in spec.reactions for spec in specs):
                problems.append(f"nobody obeys {also.event_type()}")
    orchestrator = by_name.get(ORCHESTRATOR, ServiceSpec(ORCHESTRATOR))
    problems += [f"{ORCHESTRATOR} does not hear the reply {reply.event_type()}"
                 for reply in flow.replies if reply not in orchestrator.reactions]
    problems += [f"{ORCHESTRATOR} must send {command.event_type()}"
                 for command in flow.commands if ORCHESTRATOR not in producers_of(command, specs)]
    return problems


def _obeys(service: ServiceSpec, command: type[Payload], replies: tuple) -> list[str]:
    reaction = service.reactions.get(command)
    if reaction is None:
        return [f"{service.name} does not obey {command.event_type()}"]
    return [f"{service.name} must reply to {command.event_type()} with {reply.event_type()}"
            for reply in replies if reply not in reaction.emits]
