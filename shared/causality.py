"""Events in the order each caused the next, as their causation ids tell.

Arrival order across topics is arbitrary; ``causation_id`` is not. Siblings (two events
caused by the same one) keep the order they are given in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def causal_order(events: Iterable[T], event_id: Callable[[T], str],
                 causation_id: Callable[[T], str | None]) -> list[T]:
    events = list(events)
    ids = {event_id(event) for event in events}
    children: dict[str | None, list[T]] = {}
    for event in events:
        parent = causation_id(event)
        children.setdefault(parent if parent in ids else None, []).append(event)
    ordered: list[T] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        event = stack.pop()
        ordered.append(event)
        stack.extend(reversed(children.get(event_id(event), [])))
    return ordered
