"""The orchestrator's reactions. Each: claim the inbox, move the saga, send, commit."""

from __future__ import annotations

from orchestrator_service import model
from orchestrator_service.repository import OrchestratorUnitOfWork
from shared.choreography import Reaction, ServiceSpec
from shared.events import (
    Event,
    OrderCancellationAccepted,
    OrderCancellationRejected,
    OrderCancellationRequested,
    OrderCreated,
)
from shared.orchestration import FLOWS, ORCHESTRATOR


def start_saga(event: Event, uow: OrchestratorUnitOfWork) -> None:
    with uow:
        if uow.inbox.claim(event):
            saga = uow.sagas.get(event.order_id)
            # A second OrderCreated for the same order (new event id) starts nothing more.
            if saga is None or saga.order is None:
                _carry_out(model.start(event.order_id, event.saga_version, event.payload,
                                       FLOWS[event.saga_version], waiting=saga), event, uow)
        uow.commit()


def advance_saga(event: Event, uow: OrchestratorUnitOfWork) -> None:
    with uow:
        if uow.inbox.claim(event):
            saga = uow.sagas.get(event.order_id)
            if saga is not None and saga.order is not None:
                _carry_out(model.on_reply(saga, FLOWS[saga.version], event.payload), event, uow)
        uow.commit()


def decide_cancellation(event: Event, uow: OrchestratorUnitOfWork) -> None:
    request: OrderCancellationRequested = event.payload
    with uow:
        if uow.inbox.claim(event):
            saga = uow.sagas.get(event.order_id)
            version = saga.version if saga else event.saga_version
            _carry_out(model.on_cancellation(saga, event.order_id, version, request.reason,
                                             FLOWS[version]), event, uow)
        uow.commit()


def _carry_out(decision: model.Decision, cause: Event, uow: OrchestratorUnitOfWork) -> None:
    now = uow.now()
    uow.sagas.log(cause.order_id, "heard", cause.event_type, cause.event_id, now)
    uow.sagas.save(decision.saga, now)
    for message in [*decision.commands, *decision.answers]:
        sent = uow.emit(message, caused_by=cause)
        uow.sagas.log(cause.order_id, "sent", sent.event_type, sent.event_id, now)


_COMMANDS = tuple(dict.fromkeys(c for flow in FLOWS.values() for c in flow.commands))
_REPLIES = tuple(dict.fromkeys(r for flow in FLOWS.values() for r in flow.replies
                               if r is not OrderCreated))

SERVICE = ServiceSpec(
    name=ORCHESTRATOR,
    description="Runs each order saga by command (SAGA_MODE=orchestrated): owns every saga's "
                "state, sends each step's command, hears the reply, compensates in reverse "
                "order and decides cancellations.",
    reactions={
        OrderCreated: Reaction(start_saga, emits=_COMMANDS),
        **{reply: Reaction(advance_saga, emits=_COMMANDS) for reply in _REPLIES},
        OrderCancellationRequested: Reaction(
            decide_cancellation, emits=(*_COMMANDS, OrderCancellationAccepted,
                                        OrderCancellationRejected)),
    },
)

#: There is nothing to orchestrate in a choreography: it runs only orchestrated.
DECLARATIONS = {"orchestrated": SERVICE}
