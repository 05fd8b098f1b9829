"""Older payload versions read as the current one: the one place where upcasting happens.

An event waits in its topic, a dead-letter topic or a retry queue for as long as it likes, and
is then read by whatever code runs. So a breaking change to a payload raises its
``schema_version`` and registers here an upcaster from the previous version: a pure function
from the old payload (a dict, as it came off the wire) to the next version's. The codec calls
:func:`upcast` on every message before validating it, and nothing else does: handlers only ever
see current payloads.

Guarantee: a payload of version v below the current one is validated as the current version
after the upcasters (type, v), (type, v + 1), … have run in turn, and the envelope then says the
current version. Every chain is complete: this module refuses to load otherwise, so no version
below the current one is ever unreadable. A version above the current one is not touched here:
the codec dead-letters it (``unsupported-version``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shared.events.base import Payload
from shared.events.catalog import CATALOG

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
#: (event type, from version) -> the function that turns that version into the next one.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int,
             registry: dict[tuple[str, int], Upcaster] = UPCASTERS) -> Callable[[Upcaster], Upcaster]:
    """``@upcaster("OrderCreated", 1)`` registers a function from v1 payloads to v2 payloads."""
    def register(function: Upcaster) -> Upcaster:
        if (event_type, from_version) in registry:
            raise ValueError(f"two upcasters for {event_type} v{from_version}")
        registry[(event_type, from_version)] = function
        return function
    return register


def upcast(raw: dict[str, Any], payload_type: type[Payload],
           upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS) -> dict[str, Any]:
    """The envelope ``raw`` with its payload raised to ``payload_type``'s version.

    What this cannot read (no payload object, a version that is no whole number, or not below
    the current one) is returned as it is, for validation to reject with its reason; an old
    payload an upcaster fails on is rejected (``schema-invalid``) with the step that failed,
    never an exception the runtime does not expect. A missing ``schema_version`` means 1.
    """
    version, payload = raw.get("schema_version", 1), raw.get("payload")
    current = payload_type.schema_version
    if type(version) is not int or not 1 <= version < current or not isinstance(payload, dict):
        return raw
    name = payload_type.event_type()
    for step in range(version, current):
        try:
            payload = upcasters[(name, step)](dict(payload))
        except Exception as error:  # an old payload its upcaster cannot read: a dead letter
            from shared.events.codec import InvalidEvent  # here: the codec imports this module
            raise InvalidEvent(f"{name}: cannot upcast schema_version {step} to {step + 1} "
                               f"({type(error).__name__})") from None
    return {**raw, "schema_version": current, "payload": payload}


def missing_upcasters(catalog: Mapping[str, type[Payload]] = CATALOG,
                      upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS) -> list[str]:
    return [f"{name} is at schema_version {payload.schema_version} but no upcaster reads its "
            f"v{version}: add @upcaster({name!r}, {version}) in shared/events/versions.py"
            for name, payload in catalog.items() for version in range(1, payload.schema_version)
            if (name, version) not in upcasters]


# Upcasters of the catalog's events go here, oldest first. None yet: every event is at v1.


if _missing := missing_upcasters():
    raise ImportError("; ".join(_missing))
