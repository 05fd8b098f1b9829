"""The messages and schemas of docs/asyncapi.yaml: envelope, payloads, dead letters."""

from __future__ import annotations

import json

from shared.deadletters import Delivery, dead_letter_headers
from shared.events import Payload
from shared.events.base import IDENTIFIER_PATTERN
from shared.events.examples import example_event
from shared.tracing import TRACEPARENT
from shared.uow import INSTANCE_HEADER

KAFKA_BINDING = {"bindingVersion": "0.5.0"}
_DEAD_LETTER_HEADERS = {
    "dlt.reason": "Why, in words (never the payload's data).",
    "dlt.kind": "malformed, oversized, unknown-type, unsupported-version, schema-invalid, "
                "handler-failed, ... (sagactl dlq list --kind).",
    "dlt.source.topic": "The topic it was read from.",
    "dlt.source.partition": "Its partition there.",
    "dlt.source.offset": "Its offset there.",
    "dlt.service": "The service that set it aside.",
    "dlt.group": "That service's consumer group.",
    "dlt.attempts": "How often its handler ran before it was parked (0: never).",
    "dlt.time": "When (ISO 8601, UTC).",
    # Only on a letter that would not fit in one message otherwise:
    "dlt.key-truncated-from": "The original key's length in bytes; the key was cut.",
    "dlt.truncated-from": "The original value's length in bytes; the value was cut.",
}


def hoisted(schema: dict, into: dict) -> dict:
    """``schema`` without its ``$defs``, which move into ``into`` (components.schemas)."""
    for name, definition in schema.pop("$defs", {}).items():
        if into.setdefault(name, definition) != definition:
            raise ValueError(f"two different shapes are both called {name}")
    return schema


def envelope_schema(event_schema: dict) -> dict:
    """The envelope of every message; each message says which payload it carries."""
    properties = {**event_schema["properties"], "payload": {
        "type": "object", "description": "The event's own fields: see each message."}}
    # The codec requires an event_id on the wire (producers may leave out the rest).
    return {**event_schema, "properties": properties,
            "required": ["event_id", *event_schema["required"]], "$defs": {}}


def message(payload: type[Payload]) -> dict:
    name, version = payload.event_type(), payload.schema_version
    carries = {"event_type": {"const": name}, "schema_version": {"const": version},
               "payload": {"$ref": f"#/components/schemas/{name}"}}
    if payload.belongs_to_order:
        carries["order_id"] = {"type": "string"}
    found = {
        "name": name, "title": name, "summary": (payload.__doc__ or "").strip(),
        "contentType": "application/json",
        "headers": {"type": "object", "properties": {TRACEPARENT: {
            "type": "string", "description": "W3C trace context of the span that caused it."},
            INSTANCE_HEADER: {"type": "string", "description": "The instance of the producing "
                              "service that decided it (a service may run several)."}}},
        "payload": {"allOf": [{"$ref": "#/components/schemas/Envelope"}, {
            "type": "object", "properties": carries,
            "required": [*carries]}]},
        "bindings": {"kafka": {"key": _key(payload), **KAFKA_BINDING}},
        "examples": [{"name": "example", "payload": json.loads(
            example_event(payload).model_dump_json())}],
    }
    if payload.belongs_to_order:
        found["correlationId"] = {"description": "The saga: every event of one order.",
                                  "location": "$message.payload#/order_id"}
    return found


def _key(payload: type[Payload]) -> dict:
    if payload.key_field:
        return {"type": "string", "description": f"The payload's {payload.key_field}."}
    return {"type": "string", "pattern": IDENTIFIER_PATTERN,
            "description": "The order id: one saga's events stay in order."}


def dead_letter_message() -> dict:
    names = [name for name, _ in dead_letter_headers(
        Delivery("T", 0, 0, None, None), kind="", reason="", service="", group="")]
    return {
        "name": "DeadLetter", "title": "A message set aside",
        "summary": "The original message, byte for byte and with its key, set aside with why, "
                   "where from and who gave up in headers. `sagactl dlq replay` sends it back "
                   "to its source topic.",
        "contentType": "application/octet-stream",
        "headers": {"type": "object", "required": names, "properties": {
            name: {"type": "string", "description": _DEAD_LETTER_HEADERS.get(name, "")}
            for name in dict.fromkeys([*names, *_DEAD_LETTER_HEADERS])}},
        "payload": {"description": "The original value, unchanged (it may be no JSON at all); "
                                   "cut only where the letter would not fit otherwise."},
        "bindings": {"kafka": {"key": {"type": "string",
                                       "description": "The original key, unchanged."},
                               **KAFKA_BINDING}},
    }
