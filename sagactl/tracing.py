"""A saga's events in causal order, read back from the topics."""

from __future__ import annotations

from shared.events import Event

COMPENSATIONS = ("PaymentRefunded", "StockReleased", "OrderCancelled")


def causal_order(events: list[Event]) -> list[Event]:
    """Depth-first from the events nobody caused, children by time: the order things happened
    in, as far as the saga's own causation ids can tell."""
    children: dict[str | None, list[Event]] = {}
    ids = {event.event_id for event in events}
    for event in sorted(events, key=lambda e: e.occurred_at):
        parent = event.causation_id if event.causation_id in ids else None
        children.setdefault(parent, []).append(event)
    ordered: list[Event] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        event = stack.pop()
        ordered.append(event)
        stack.extend(reversed(children.get(event.event_id, [])))
    return ordered


def compensations(events: list[Event]) -> list[str]:
    """The compensating events of one saga, in the order each caused the next."""
    return [e.event_type for e in causal_order(events) if e.event_type in COMPENSATIONS]
