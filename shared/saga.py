"""The order saga's steps, its pivot, and the rules a choreography must keep.

This is a contract like the events themselves: no service runs it (there is no
coordinator); :func:`check` verifies that what the services declare they
consume and emit really implements it.

The flow can change while sagas run: each version of it is a :class:`SagaDefinition` in
:data:`SAGAS`, a saga keeps the version it started with (``Event.saga_version``), and every
service declares which versions each of its reactions takes part in.
:func:`check_every_version` checks each version's graph, compensations included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.choreography import ServiceSpec, producers_of, reactions_to
from shared.events import (
    CustomerNotified,
    FraudCheckFailed,
    FraudCheckPassed,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderShipped,
    Payload,
    PaymentCharged,
    PaymentFailed,
    PaymentRefunded,
    ShipmentFailed,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)


@dataclass(frozen=True)
class Step:
    service: str
    action: type[Payload]
    failure: type[Payload] | None = None
    compensation: type[Payload] | None = None
    #: A step that only decides (a screening, say) and changes nothing that must be undone:
    #: before the pivot it needs no compensation.
    changes_nothing: bool = False


@dataclass(frozen=True)
class SagaDefinition:
    steps: tuple[Step, ...]
    pivot: type[Payload]

    @property
    def pivot_index(self) -> int:
        return next(i for i, step in enumerate(self.steps) if step.action is self.pivot)

    @property
    def compensations(self) -> tuple[type[Payload], ...]:
        return tuple(step.compensation for step in self.steps if step.compensation)

    @property
    def failures(self) -> tuple[type[Payload], ...]:
        return tuple(step.failure for step in self.steps if step.failure)

    def compensations_after(self, failure: type[Payload]) -> list[type[Payload]]:
        """What must run once a step fails with ``failure``: the compensations of the steps
        before it, the latest first."""
        failed = next(i for i, step in enumerate(self.steps) if step.failure is failure)
        return [step.compensation for step in reversed(self.steps[:failed]) if step.compensation]


_CREATE = Step("order_service", OrderCreated, compensation=OrderCancelled)
_RESERVE = Step("inventory_service", StockReserved, StockReservationFailed, StockReleased)
_CHARGE = Step("payment_service", PaymentCharged, PaymentFailed, PaymentRefunded)
_SHIP_AND_CONCLUDE = (Step("shipping_service", OrderShipped, ShipmentFailed),
                      Step("order_service", OrderCompleted),
                      Step("notification_service", CustomerNotified))

#: Version 1, the first flow: reserve, charge, ship.
ORDER_SAGA = SagaDefinition(steps=(_CREATE, _RESERVE, _CHARGE, *_SHIP_AND_CONCLUDE),
                            pivot=OrderShipped)
#: Version 2: the order is screened between the reservation and the charge. The screening
#: only decides, so it has no compensation; its rejection undoes the steps before it.
SCREENED_ORDER_SAGA = SagaDefinition(
    steps=(_CREATE, _RESERVE,
           Step("fraud_service", FraudCheckPassed, FraudCheckFailed, changes_nothing=True),
           _CHARGE, *_SHIP_AND_CONCLUDE),
    pivot=OrderShipped)


#: Every version of the order saga's flow, by number; new sagas start with the latest. A
#: version stays here as long as a saga of it may still run (docs/adding-a-step.md).
SAGAS: dict[int, SagaDefinition] = {1: ORDER_SAGA, 2: SCREENED_ORDER_SAGA}
LATEST_VERSION = max(SAGAS)
#: Every compensation of every version (what a crash point "during a compensation" watches).
COMPENSATIONS = frozenset(payload for saga in SAGAS.values() for payload in saga.compensations)


def check_every_version(specs: Sequence[ServiceSpec],
                        sagas: dict[int, SagaDefinition] = SAGAS) -> list[str]:
    """:func:`check` for each version, on what each service does in that version."""
    return [f"saga v{version}: {problem}" for version, saga in sagas.items()
            for problem in check(saga, [spec.in_version(version) for spec in specs])]


def check(saga: SagaDefinition, specs: Sequence[ServiceSpec]) -> list[str]:
    """Every way the declared choreography breaks the saga's rules; empty when sound."""
    return [
        *_every_consumed_event_has_a_producer(specs),
        *_steps_before_the_pivot_compensate(saga, specs),
        *_failures_compensate_in_reverse_order(saga, specs),
        *_nothing_compensates_after_the_pivot(saga, specs),
    ]


def compensation_chain(start: type[Payload], saga: SagaDefinition,
                       specs: Sequence[ServiceSpec]) -> list[type[Payload]]:
    """Compensations triggered, one after another, once ``start`` is published."""
    chain: list[type[Payload]] = []
    current = start
    while True:
        triggered = {emitted for _, reaction in reactions_to(current, specs)
                     for emitted in reaction.emits if emitted in saga.compensations}
        if len(triggered) != 1 or triggered & {current, *chain}:
            return chain
        current = triggered.pop()
        chain.append(current)


def _every_consumed_event_has_a_producer(specs: Sequence[ServiceSpec]) -> list[str]:
    return [f"{payload.event_type()} is consumed by {spec.name} but nobody emits it"
            for spec in specs for payload in spec.consumes if not producers_of(payload, specs)]


def _steps_before_the_pivot_compensate(saga: SagaDefinition, specs: Sequence[ServiceSpec]):
    problems = []
    for index, step in enumerate(saga.steps):
        name = step.action.event_type()
        if index < saga.pivot_index and step.compensation is None and not step.changes_nothing:
            problems.append(f"step {name} comes before the pivot but has no compensation")
        if index >= saga.pivot_index and step.compensation is not None:
            problems.append(f"step {name} is at or after the pivot but declares a compensation")
        if step.compensation and step.service not in producers_of(step.compensation, specs):
            problems.append(f"{step.service} must emit {step.compensation.event_type()} "
                            f"to compensate {name}")
    return problems


def _failures_compensate_in_reverse_order(saga: SagaDefinition, specs: Sequence[ServiceSpec]):
    problems = []
    for step in saga.steps:
        if step.failure is None:
            continue
        expected = saga.compensations_after(step.failure)
        actual = compensation_chain(step.failure, saga, specs)
        if actual != expected:
            problems.append(
                f"after {step.failure.event_type()} the compensations run as "
                f"{[p.event_type() for p in actual]}, expected {[p.event_type() for p in expected]}")
    return problems


def _nothing_compensates_after_the_pivot(saga: SagaDefinition, specs: Sequence[ServiceSpec]):
    after_pivot = [step.action for step in saga.steps[saga.pivot_index:]]
    undoing = set(saga.compensations) | set(saga.failures)
    return [f"{service} reacts to {event.event_type()} (after the pivot) with "
            f"{emitted.event_type()}"
            for event in after_pivot for service, reaction in reactions_to(event, specs)
            for emitted in reaction.emits if emitted in undoing]
