"""Dispatch a typed event to its service's reaction, by type: no if/elif routing."""

from __future__ import annotations

from collections.abc import Callable

from shared.choreography import ServiceSpec
from shared.events import Event
from shared.faults import FaultInjector
from shared.uow import UnitOfWork


class Dispatcher:
    def __init__(self, spec: ServiceSpec, new_uow: Callable[[], UnitOfWork],
                 faults: FaultInjector | None = None) -> None:
        self.spec = spec
        self.new_uow = new_uow
        self.faults = faults or FaultInjector()

    def handle(self, event: Event) -> list[Event]:
        """Run the reaction in its own transaction; returns the events it emitted."""
        reaction = self.spec.reactions[type(event.payload)]
        self.faults.maybe_fail(f"{self.spec.name} handling {event.event_type}")
        uow = self.new_uow()
        uow.declared = reaction.emits
        reaction.handler(event, uow)
        return uow.emitted
