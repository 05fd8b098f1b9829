"""Dispatch a typed event to its service's reaction, by type: no if/elif routing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shared.choreography import ServiceSpec
from shared.errors import PermanentError
from shared.events import Event
from shared.faults import FaultInjector
from shared.outbox import OutgoingMessage
from shared.timers import Timer
from shared.uow import UnitOfWork


class NoReaction(PermanentError):
    """An event of a type this service does not consume reached it."""


@dataclass(frozen=True)
class Reacted:
    emitted: list[Event]
    #: The outbox rows the reaction added (its events), for the relay.
    messages: list[OutgoingMessage]
    #: Side effects to run once the enclosing transaction has committed.
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class Dispatcher:
    def __init__(self, spec: ServiceSpec, new_uow: Callable[[], UnitOfWork],
                 faults: FaultInjector | None = None) -> None:
        self.spec = spec
        self.new_uow = new_uow
        self.faults = faults or FaultInjector()

    def takes_part(self, event: Event) -> bool:
        """False when the event's saga runs a flow in which this service does nothing here
        (an unknown type is for :meth:`handle` to refuse)."""
        reaction = self.spec.reactions.get(type(event.payload))
        return reaction is None or reaction.takes_part_in(event.saga_version)

    def handle(self, event: Event, headers: Sequence[tuple[str, str]] = ()) -> Reacted:
        """Run the reaction in its own unit of work; every event it emits carries ``headers``
        (the trace context)."""
        reaction = self.spec.reactions.get(type(event.payload))
        if reaction is None:
            raise NoReaction(f"{self.spec.name} does not react to {event.event_type}")
        if not reaction.takes_part_in(event.saga_version):
            return Reacted([], [])  # its saga runs a flow in which this service does nothing here
        self.faults.maybe_fail(f"{self.spec.name} handling {event.event_type}")
        uow = self.new_uow()
        uow.declared = reaction.emits
        uow.headers = list(headers)
        reaction.handler(event, uow)
        return Reacted(uow.emitted, uow.messages, uow.take_after_commit())

    def fire(self, timer: Timer, headers: Sequence[tuple[str, str]] = ()) -> Reacted:
        """Run what the service does when a timer of this kind fires, in its own unit of work."""
        timeout = self.spec.timeouts.get(timer.kind)
        if timeout is None:
            raise NoReaction(f"{self.spec.name} has no reaction to a {timer.kind} timer")
        uow = self.new_uow()
        uow.declared = timeout.emits
        uow.headers = list(headers)
        timeout.handler(timer.key, uow)
        return Reacted(uow.emitted, uow.messages, uow.take_after_commit())
