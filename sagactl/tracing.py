"""A saga's compensations, in causal order, read back from the topics."""

from __future__ import annotations

from shared.causality import causal_order
from shared.events import Event
from shared.saga import COMPENSATIONS as COMPENSATING

#: Every compensation of every version of the saga's flow.
COMPENSATIONS = {payload.event_type() for payload in COMPENSATING}


def compensations(events: list[Event]) -> list[str]:
    """The compensating events of one saga, in the order each caused the next."""
    ordered = causal_order(sorted(events, key=lambda e: e.occurred_at),
                           lambda e: e.event_id, lambda e: e.causation_id)
    return [e.event_type for e in ordered if e.event_type in COMPENSATIONS]
