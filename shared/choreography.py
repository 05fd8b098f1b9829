"""The choreography as data: what each service consumes and what it may emit.

Each service declares a :class:`ServiceSpec` at the bottom of its
``handlers.py``. The runtime subscribes to exactly the declared topics and
refuses to publish an undeclared event, ``docs/events.md`` is generated from
the declarations, and :func:`shared.saga.check` verifies the saga's rules
against them — so code, document and rules cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shared.events import Event, Payload

Handler = Callable[[Event, Any], None]


@dataclass(frozen=True)
class Reaction:
    """One handler for one event type, every event type it may emit, and the versions of the
    saga's flow it takes part in (None: every version)."""

    handler: Handler
    emits: tuple[type[Payload], ...] = ()
    versions: frozenset[int] | None = None

    def takes_part_in(self, version: int) -> bool:
        return self.versions is None or version in self.versions


@dataclass(frozen=True)
class Timeout:
    """What a service does when one of its durable timers of a kind fires (shared/timers.py):
    ``handler(key, uow)``, and every event type it may emit."""

    handler: Callable[[str, Any], None]
    emits: tuple[type[Payload], ...] = ()


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    reactions: Mapping[type[Payload], Reaction] = field(default_factory=dict)
    #: Events the service publishes on its own initiative (API calls, commands).
    originates: tuple[type[Payload], ...] = ()
    description: str = ""
    #: What it does when a timer of each kind fires.
    timeouts: Mapping[str, Timeout] = field(default_factory=dict)

    @property
    def consumes(self) -> tuple[type[Payload], ...]:
        return tuple(self.reactions)

    @property
    def consumed_topics(self) -> list[str]:
        """What it subscribes to (without prefix): one topic per event type."""
        return [payload.event_type() for payload in self.consumes]

    @property
    def emits(self) -> tuple[type[Payload], ...]:
        emitted = [payload for reaction in [*self.reactions.values(), *self.timeouts.values()]
                   for payload in reaction.emits]
        return tuple(dict.fromkeys([*self.originates, *emitted]))

    def in_version(self, version: int) -> ServiceSpec:
        """What this service does in that version of the saga's flow."""
        return replace(self, reactions={payload: reaction for payload, reaction in
                                        self.reactions.items() if reaction.takes_part_in(version)})


def producers_of(payload: type[Payload], specs: Iterable[ServiceSpec]) -> list[str]:
    return [spec.name for spec in specs if payload in spec.emits]


def consumers_of(payload: type[Payload], specs: Iterable[ServiceSpec]) -> list[str]:
    return [spec.name for spec in specs if payload in spec.reactions]


def reactions_to(payload: type[Payload], specs: Iterable[ServiceSpec]) -> list[tuple[str, Reaction]]:
    return [(spec.name, spec.reactions[payload]) for spec in specs if payload in spec.reactions]
