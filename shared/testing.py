"""A test kit for step authors: one service's handlers on its real store, no Kafka.

A :class:`ServiceKit` runs a service's declared reactions exactly as the runtime does (the
real :class:`~shared.runtime.dispatcher.Dispatcher`: a reaction of another flow version does
nothing, an undeclared event is refused) against the service's own tables in an in-memory
SQLite database, with a :class:`SimulatedClock` that the unit of work and the event processor
both read, so a test moves time instead of sleeping::

    from fraud_service.handlers import SERVICE
    from fraud_service.repository import FraudUnitOfWork, create_tables
    from participants import PARTICIPANTS

    kit = ServiceKit(SERVICE, FraudUnitOfWork, create_tables, choreography=PARTICIPANTS)
    [verdict] = kit.deliver(kit.event(stock_reserved))        # what it emitted
    assert kit.outbox_types() == ["FraudCheckPassed"]          # what the relay would publish
    assert kit.compensation_path_after(FraudCheckFailed) == \\
        kit.required_compensations_after(FraudCheckFailed)     # the declarations undo it right

Guarantees: what :meth:`ServiceKit.deliver` returns is what the reaction added to the outbox,
committed as one unit of work (inbox + state + outbox); nothing reads the wall clock through
the kit; the compensation checks read the same declarations and saga definitions
(:data:`shared.saga.SAGAS`) that the runtime, the docs and ``check_every_version`` read.
docs/adding-a-step.md walks through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shared.choreography import ServiceSpec
from shared.deadletters import DeadLetters
from shared.events import Event, Payload
from shared.processing import EventProcessor, create_all_tables
from shared.retry import Backoff
from shared.runtime.dispatcher import Dispatcher
from shared.saga import LATEST_VERSION, SAGAS, compensation_chain
from shared.store import Database, open_database


class SimulatedClock:
    """Time that moves only when told: ``clock()`` is the time now, ``advance(seconds)``."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ServiceKit:
    """One service with its tables in memory (or in ``path``); :meth:`deliver` runs events
    through its reactions as Kafka would deliver them.

    ``uow_class(db, clock=..., **uow_options)`` is the service's unit of work.
    ``choreography``: every participant's declaration (``participants.PARTICIPANTS``), for
    the checks against the saga's definition; this service's own ``spec`` takes the place of
    its namesake there, so a step being written is checked before it is registered.
    """

    def __init__(self, spec: ServiceSpec, uow_class: Callable[..., Any],
                 create_tables: Callable[[Database], None], path: str | Path = ":memory:", *,
                 clock: Callable[[], float] | None = None,
                 choreography: Sequence[ServiceSpec] = (), **uow_options: Any) -> None:
        self.spec = spec
        self.clock = clock or SimulatedClock()
        self.db = open_database(path)
        create_all_tables(self.db, create_tables)
        self.uow_class, self.uow_options = uow_class, uow_options
        self.dispatcher = Dispatcher(spec, self.new_uow)
        self.choreography = [spec, *(other for other in choreography if other.name != spec.name)]

    def new_uow(self):
        return self.uow_class(self.db, clock=self.clock, **self.uow_options)

    def event(self, payload: Payload, order_id: str | None = "ord-1", *,
              version: int = LATEST_VERSION, caused_by: Event | None = None,
              **envelope: Any) -> Event:
        """An event of a saga of that flow ``version`` (default: the latest), as another
        service would publish it; ``caused_by`` makes it that event's follow-up."""
        if caused_by is not None:
            made = caused_by.follow_up(payload, envelope.pop("producer", "kit"))
        else:
            made = Event.new(payload, order_id=order_id if payload.belongs_to_order else None,
                             producer=envelope.pop("producer", "kit"), saga_version=version)
        return made.model_copy(update=envelope) if envelope else made

    def deliver(self, *events: Event) -> list[Event]:
        """Each event to its reaction, one unit of work each; every event they emitted."""
        emitted = []
        for event in events:
            emitted += self.dispatcher.handle(event).emitted
        return emitted

    def processor(self, **options: Any) -> EventProcessor:
        """The runtime's event processor on this store and clock (retries, parking, dead
        letters, timers); ``handlers`` replaces the dispatcher (a flaky wrapper, say)."""
        handlers = options.pop("handlers", self.dispatcher)
        defaults = {"max_attempts": 5, "backoff": Backoff(), "max_message_bytes": 64 * 1024,
                    "clock": self.clock}
        return EventProcessor(self.db, handlers, DeadLetters(self.spec.name, self.spec.name),
                              **{**defaults, **options})

    def outbox_types(self) -> list[str]:
        """The topics of everything in the outbox, oldest first (dead letters included)."""
        return [row[0] for row in self.db.execute("SELECT topic FROM outbox ORDER BY seq")]

    def rows(self, table: str) -> list[dict]:
        return list(self.db[table].rows)

    def compensation_path_after(self, failure: type[Payload],
                                version: int = LATEST_VERSION) -> list[type[Payload]]:
        """The compensations the declarations make run, one after another, once ``failure``
        is published in a saga of that flow version."""
        specs = [spec.in_version(version) for spec in self.choreography]
        return compensation_chain(failure, SAGAS[version], specs)

    @staticmethod
    def required_compensations_after(failure: type[Payload],
                                     version: int = LATEST_VERSION) -> list[type[Payload]]:
        """What the saga's definition requires after ``failure``: the compensations of the
        steps before the one that failed, the latest first."""
        return SAGAS[version].compensations_after(failure)
