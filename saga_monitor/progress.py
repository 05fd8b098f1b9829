"""One saga's progress as plain JSON-ready data, folded from its events in any order."""

from __future__ import annotations

from shared.causality import causal_order
from shared.events import Event
from shared.saga import ORDER_SAGA

OUTCOMES = {"OrderCompleted": "completed", "OrderCancelled": "cancelled"}
COMPENSATIONS = {payload.event_type() for payload in ORDER_SAGA.compensations}
FAILURES = {payload.event_type() for payload in ORDER_SAGA.failures}


def record(progress: dict | None, event: Event, now: float) -> dict:
    """The progress after one more event; a repeated event changes nothing."""
    progress = progress or {"order_id": event.order_id, "status": "running", "events": [],
                            "started_at": now}
    if any(seen["event_id"] == event.event_id for seen in progress["events"]):
        return progress
    events = [*progress["events"], {"event_id": event.event_id, "type": event.event_type,
                                    "causation_id": event.causation_id,
                                    "producer": event.producer}]
    status = OUTCOMES.get(event.event_type, progress["status"])
    if status == "running" and event.event_type in FAILURES:
        status = "compensating"
    return {**progress, "status": status, "events": events, "updated_at": now}


def summary(progress: dict) -> dict:
    ordered = causal_order(progress["events"], lambda e: e["event_id"],
                           lambda e: e["causation_id"])
    types = [e["type"] for e in ordered]
    return {"order_id": progress["order_id"], "status": progress["status"], "steps": types,
            "compensations": [t for t in types if t in COMPENSATIONS],
            "started_at": progress["started_at"], "updated_at": progress.get("updated_at")}


def stalled(progress: dict, now: float, after: float) -> bool:
    """Still unfinished, and nothing happened to it for ``after`` seconds."""
    final = progress["status"] in OUTCOMES.values()
    return not final and now - progress.get("updated_at", progress["started_at"]) > after

