"""What one Kafka message means to the monitor: a saga event, a dead letter, or nothing.

An event is read as the type its topic says, exactly as the services read it
(``decode(value, expected_type=topic)``): a valid ``OrderCompleted`` published on the
``OrderCreated`` topic is dead-lettered by the services, so it must not complete the order here
either. A dead letter is read from its headers (``shared.deadletters``); its key is the key of
the original message, the order id for saga events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import NamedTuple, TypeAlias

from saga_monitor.progress import Letter
from shared.deadletters import DLT_SUFFIX, UNKNOWN_KIND
from shared.events import Event, RejectedMessage, decode
from shared.events.base import IDENTIFIER_PATTERN
from shared.uow import INSTANCE_HEADER

ORDER_ID = re.compile(IDENTIFIER_PATTERN)


class Sighted(NamedTuple):
    """A saga event, and the instance of its service that decided it (its ``saga.instance``
    header; None from a producer that does not say)."""

    event: Event
    instance: str | None


class Unreadable(NamedTuple):
    """A message the monitor skips (the services dead-letter it): why, for the log and metrics."""

    topic: str
    reason: str


#: What the monitor folds: an event, an order's dead letter, or why a message was skipped.
Item: TypeAlias = "Sighted | tuple[str, Letter] | Unreadable"


def read_events(events: Iterable, prefix: str, max_bytes: int) -> Iterator[tuple[Item, int]]:
    """A batch of faust events (``Stream.take_events``): what each means, with its partition."""
    for event in events:
        message = event.message
        for item in read(message.topic.removeprefix(prefix), message.partition, message.offset,
                         message.key, message.value, message.headers,
                         timestamp=message.timestamp, max_bytes=max_bytes):
            yield item, message.partition


def read(topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
         headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None, *,
         timestamp: float, max_bytes: int) -> list[Item]:
    """``topic`` is without the deployment prefix. Returns what to fold (one thing or none)."""
    if topic.endswith(DLT_SUFFIX):
        letter = _letter(topic, partition, offset, key, _headers(headers), timestamp)
        return [letter] if letter else []
    try:
        event = decode(value, expected_type=topic, max_bytes=max_bytes)
    except RejectedMessage as rejected:
        return [Unreadable(topic, rejected.reason)]
    return [Sighted(event, _instance(headers))]


def _instance(headers) -> str | None:
    """Only this one header is looked at: most messages are events, read by the thousand."""
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, raw in items:
        if name == INSTANCE_HEADER and isinstance(raw, bytes | bytearray):
            return raw.decode(errors="replace")[:64]
    return None


def _letter(topic: str, partition: int, offset: int, key: bytes | None,
            header: dict[str, str], timestamp: float) -> tuple[str, Letter] | None:
    order_id = _order_id(key)
    if order_id is None:
        return None  # not an order's message: no saga to show it on
    return order_id, Letter(
        topic=topic, partition=partition, offset=offset,
        source_topic=header.get("dlt.source.topic", topic.removesuffix(DLT_SUFFIX)),
        source_partition=_int(header.get("dlt.source.partition")),
        source_offset=_int(header.get("dlt.source.offset")),
        kind=header.get("dlt.kind", UNKNOWN_KIND)[:40], reason=header.get("dlt.reason", "")[:500],
        service=header.get("dlt.service", "?")[:64], attempts=_int(header.get("dlt.attempts")),
        at=_time(header.get("dlt.time")) or timestamp)


def _headers(headers) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    return {name: (raw or b"").decode(errors="replace") if isinstance(raw, bytes | bytearray)
            else str(raw) for name, raw in items}


def _order_id(key: bytes | None) -> str | None:
    text = (key or b"").decode(errors="replace")
    return text if ORDER_ID.fullmatch(text) else None


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return -1


def _time(text: str | None) -> float:
    try:
        return datetime.fromisoformat(text or "").timestamp()
    except ValueError:
        return 0.0
