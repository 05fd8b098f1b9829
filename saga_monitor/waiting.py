"""What an unfinished saga waits for, and who must react — from the declarations, not guesses.

The saga's next step comes from its version of the flow (``shared.saga.SAGAS``): forward, the
step after the last one seen; after a failure, the next compensation of its chain
(:func:`shared.saga.compensation_chain`); after the outcome, the customer's notification; and a
cancellation request waits for the pivot's decision. Who must react comes from the services'
``ServiceSpec`` declarations, as each takes part in that version: the services that consume
the last event *and* may emit the awaited one ("PaymentCharged at 12:00:03; waiting for
shipping_service, which consumes it").

A step is overdue when its trigger happened longer ago than the step's deadline
(``SAGA_STALL_AFTER_SECONDS``, or ``SAGA_MONITOR_STEP_DEADLINES`` for that step); a saga with an
overdue step is *stuck*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple

from participants import ORCHESTRATED_SERVICES, SERVICES
from saga_monitor.progress import (
    E_AT,
    E_TYPE,
    EVENTS,
    LETTERS,
    NOTIFIED,
    OUTCOMES,
    Letter,
    finished,
    flow_version,
    mode,
)
from shared.choreography import consumers_of, reactions_to
from shared.events import CATALOG
from shared.orchestration import COMMAND_FOR, ORCHESTRATOR, UNDO_FOR
from shared.saga import LATEST_VERSION, SAGAS, SagaDefinition, compensation_chain

REQUESTED, DECISIONS = "OrderCancellationRequested", ("OrderCancellationAccepted",
                                                     "OrderCancellationRejected")
#: Each version of the flow, and what every service does in it.
FLOWS = {version: (saga, [spec.in_version(version) for spec in SERVICES])
         for version, saga in SAGAS.items()}
#: What each service does in each version when the orchestrator runs the saga.
ORCHESTRATED = {version: [spec.in_version(version) for spec in ORCHESTRATED_SERVICES]
                for version in SAGAS}
#: The command that brings each awaited event about, orchestrated.
_COMMAND_OF = {payload.event_type(): command.event_type()
               for payload, command in (*COMMAND_FOR.items(), *UNDO_FOR.items())}
#: Every name a per-step deadline may use: what a wait is named after (its ``step``).
STEP_NAMES = frozenset([step.action.event_type() for saga in SAGAS.values()
                        for step in saga.steps]
                       + [p.event_type() for saga in SAGAS.values() for p in saga.compensations]
                       + [DECISIONS[0]])
#: When an event of a record happened, and when a dead letter of it was dead-lettered.
_WHEN, _LETTER_AT = itemgetter(E_AT), itemgetter(Letter._fields.index("at"))


class Wait(NamedTuple):
    step: str                    # the event awaited (the step's name), e.g. "OrderShipped"
    trigger: str | None          # the event someone must react to, e.g. "PaymentCharged"
    trigger_index: int | None    # that event's index in the record
    services: tuple[str, ...]    # who consumes the trigger and may emit the step
    since: float                 # when the trigger happened (epoch seconds)


@dataclass(frozen=True)
class Deadlines:
    default: float
    steps: Mapping[str, float]
    #: The shortest deadline of any step, computed once: the overview's pass asks for it for
    #: every unfinished saga (``stuck``).
    shortest: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shortest", min([self.default, *self.steps.values()]))

    def of(self, wait: Wait) -> float:
        return self.steps.get(wait.step, self.default)

    def overdue(self, wait: Wait, now: float) -> float:
        """Seconds past the deadline (negative while there is still time)."""
        return now - wait.since - self.of(wait)


def check_step_names(steps: Mapping[str, float]) -> None:
    unknown = sorted(set(steps) - STEP_NAMES)
    if unknown:
        raise ValueError(f"SAGA_MONITOR_STEP_DEADLINES names no step: {', '.join(unknown)}; "
                         f"steps are {', '.join(sorted(STEP_NAMES))}")


def waits(record: tuple) -> list[Wait]:
    """Everything this saga still waits for; empty once it is finished."""
    if finished(record):
        return []
    events = record[EVENTS]
    seen: dict[str, int] = {}
    for index, event in enumerate(events):
        seen.setdefault(event[E_TYPE], index)
    # A version this monitor does not know (newer code started a saga): the latest it knows.
    saga, specs = FLOWS.get(flow_version(record), FLOWS[LATEST_VERSION])
    found = [_next_step(record, seen, saga, specs)]
    if REQUESTED in seen and not any(decision in seen for decision in DECISIONS):
        found.append(_wait(record, seen, specs, REQUESTED, DECISIONS[0], DECISIONS))
    if mode(record) == "orchestrated":
        version = flow_version(record)
        return [_commanded(record, wait, ORCHESTRATED.get(version, ORCHESTRATED[
            LATEST_VERSION])) for wait in found]
    return found


def _commanded(record: tuple, wait: Wait, specs: list) -> Wait:
    """The same wait when the orchestrator runs the saga: until it has sent the command that
    brings the awaited event about, the orchestrator must react; then the command's consumer."""
    command = _COMMAND_OF.get(wait.step)
    if wait.trigger is None:  # nothing of the saga's start seen yet: as in a choreography
        return wait
    if wait.step == DECISIONS[0] or command is None:  # the orchestrator decides cancellations
        return wait._replace(services=(ORCHESTRATOR,))
    index = next((i for i in range(len(record[EVENTS]) - 1, -1, -1)
                  if record[EVENTS][i][E_TYPE] == command), None)
    if index is None or (wait.trigger_index is not None and index < wait.trigger_index):
        return wait._replace(services=(ORCHESTRATOR,))
    return Wait(wait.step, command, index, tuple(consumers_of(CATALOG[command], specs)),
                record[EVENTS][index][E_AT])


def stuck(record: tuple, now: float, deadlines: Deadlines) -> list[tuple[Wait, float]]:
    """The overdue waits, each with how far past its deadline it is."""
    # A wait starts at one of the saga's events (or its first activity): while even the first
    # is younger than the shortest deadline, nothing can be overdue. This spares the overview
    # the waits of every young saga, which is most of them in a burst.
    if now - _first_activity(record) <= deadlines.shortest:
        return []
    return [(wait, late) for wait in waits(record)
            if (late := deadlines.overdue(wait, now)) > 0]


def _next_step(record: tuple, seen: dict[str, int], saga: SagaDefinition, specs: list
               ) -> Wait:
    outcome = next((t for t in OUTCOMES if t in seen), None)
    if outcome:
        return _wait(record, seen, specs, outcome, NOTIFIED, (NOTIFIED,))
    failure = next((p for p in saga.failures if p.event_type() in seen), None)
    if failure:
        previous = failure
        for compensation in compensation_chain(failure, saga, specs):
            name = compensation.event_type()
            if name not in seen:
                return _wait(record, seen, specs, previous.event_type(), name, (name,))
            previous = compensation
    steps = saga.steps
    last = max((i for i, step in enumerate(steps) if step.action.event_type() in seen),
               default=-1)
    step = steps[min(last + 1, len(steps) - 1)]
    awaited = tuple(p.event_type() for p in (step.action, step.failure) if p)
    if last < 0:  # nothing of the saga's start seen yet (only later events, or dead letters)
        return Wait(awaited[0], None, None, (step.service,), _first_activity(record))
    return _wait(record, seen, specs, steps[last].action.event_type(), awaited[0], awaited)


def _wait(record: tuple, seen: dict[str, int], specs: list, trigger: str, step: str,
          awaited: tuple[str, ...]) -> Wait:
    index = seen[trigger]
    wanted = {CATALOG[name] for name in awaited}
    services = tuple(name for name, reaction in reactions_to(CATALOG[trigger], specs)
                     if wanted & set(reaction.emits))
    return Wait(step, trigger, index, services, record[EVENTS][index][E_AT])


def _first_activity(record: tuple) -> float:
    # Asked of every unfinished saga in each pass of the overview: the events' times are read
    # by map and itemgetter, without a Python frame per event.
    first = min(map(_WHEN, record[EVENTS]), default=math.inf)
    letters = record[LETTERS]
    return min(first, min(map(_LETTER_AT, letters))) if letters else first
