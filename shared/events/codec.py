"""Bytes on the wire <-> typed events, with one clear reason for every rejection.

Validation happens here, once, at the edge; everything inside receives typed
``Event`` objects. Every producer must give each event its own ``event_id`` (consumers
deduplicate on it), and envelope fields have strict types. Rejection reasons are short and
never echo payload data.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError, create_model

from shared.events.base import Event, Payload
from shared.events.catalog import CATALOG
from shared.events.versions import upcast

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024


class RejectedMessage(ValueError):
    """A message no handler can ever process: it goes to the dead-letter topic."""

    kind = "invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedMessage(RejectedMessage):
    kind = "malformed"


class OversizedMessage(RejectedMessage):
    kind = "oversized"


class UnknownEventType(RejectedMessage):
    kind = "unknown-type"


class UnsupportedSchemaVersion(RejectedMessage):
    kind = "unsupported-version"


class InvalidEvent(RejectedMessage):
    kind = "schema-invalid"


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


def decode(value: bytes | None, *, expected_type: str | None = None,
           max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Event:
    """Parse and validate one message; ``expected_type`` is the topic's event type. Whatever
    the bytes are, the only error is a :class:`RejectedMessage`: one bad record must never
    fail the batch it arrived in."""
    try:
        return _decode(value, expected_type, max_bytes)
    except RejectedMessage:
        raise
    except Exception as error:  # e.g. RecursionError deep in a parser: still this record's fault
        raise MalformedMessage(f"cannot be decoded ({type(error).__name__})") from None


def _decode(value: bytes | None, expected_type: str | None, max_bytes: int) -> Event:
    if value is None:
        raise MalformedMessage("empty message (tombstone)")
    if len(value) > max_bytes:
        raise OversizedMessage(f"message of {len(value)} bytes exceeds the {max_bytes}-byte limit")
    if expected_type in ENVELOPES:
        event = _in_one_pass(value, expected_type)
        if event is not None:
            return event
    raw = _parse_json(value)
    payload_type = _payload_type(raw, expected_type)
    version = raw.get("schema_version", 1)
    if isinstance(version, int) and version > payload_type.schema_version:
        raise UnsupportedSchemaVersion(
            f"{payload_type.event_type()} schema_version {version} is newer than the supported "
            f"{payload_type.schema_version}")
    raw = upcast(raw, payload_type)  # an older version is read as the current one
    return validate(raw, payload_type)


def _envelope_for(payload_type: type[Payload]) -> type[Event]:
    """The envelope with its payload's own type: bytes to a typed event in one validation."""
    return create_model(f"{payload_type.event_type()}Event", __base__=Event,
                        payload=(payload_type, ...))


#: One typed envelope per topic's event type.
ENVELOPES = {name: _envelope_for(payload_type) for name, payload_type in CATALOG.items()}


def _in_one_pass(value: bytes, expected_type: str) -> Event | None:
    """The common case in one step: a current-version event of its topic's type, straight from
    the bytes (pydantic parses and validates them in one pass). None for anything else — then
    the step-by-step path below decides, and says why it rejects a message."""
    try:
        event = ENVELOPES[expected_type].model_validate_json(value)
    except ValueError:  # ValidationError included
        return None
    current = CATALOG[expected_type].schema_version
    if (event.event_type != expected_type or "event_id" not in event.model_fields_set
            or event.schema_version != current):
        return None
    return event  # a subclass of Event, equal to the plain envelope with the same fields


def validate(raw: dict[str, Any], payload_type: type[Payload]) -> Event:
    name = payload_type.event_type()
    if not isinstance(raw.get("event_id"), str):
        # Without its own id a redelivery could not be told from a new event.
        raise InvalidEvent(f"{name}: event_id is required (a string, unique per event)")
    try:
        payload = payload_type.model_validate(raw.get("payload"))
    except ValidationError as error:
        raise InvalidEvent(f"{name}: {summarize(error, prefix='payload')}") from None
    try:
        return Event.model_validate({**raw, "payload": payload})
    except ValidationError as error:
        raise InvalidEvent(f"{name}: {summarize(error)}") from None


def summarize(error: ValidationError, limit: int = 3, prefix: str = "") -> str:
    """'loc: message' for the first few problems, without the offending values."""
    problems = [
        f"{'.'.join(str(part) for part in (prefix, *problem['loc']) if part != '') or 'message'}: "
        f"{problem['msg']}"
        for problem in error.errors(include_input=False)
    ]
    more = f" (+{len(problems) - limit} more)" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more


def _parse_json(value: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(value)
    except (ValueError, RecursionError) as error:
        # ValueError: not UTF-8, not JSON, or an integer beyond Python's 4,300 digits;
        # RecursionError: nested deeper than the parser goes.
        raise MalformedMessage(f"not valid UTF-8 JSON ({type(error).__name__})") from None
    if not isinstance(raw, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(raw).__name__}")
    return raw


def _payload_type(raw: dict[str, Any], expected_type: str | None) -> type[Payload]:
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or event_type not in CATALOG:
        shown = event_type if isinstance(event_type, str) and len(event_type) <= 64 else "?"
        raise UnknownEventType(f"unknown event_type {shown!r}")
    if expected_type is not None and event_type != expected_type:
        raise InvalidEvent(f"event_type {event_type!r} published on the {expected_type!r} topic")
    return CATALOG[event_type]
