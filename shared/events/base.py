"""The envelope every event travels in, and the base of every payload.

Wire format (JSON, UTF-8), one topic per event type, message key = order id::

    {"event_id": "...", "event_type": "OrderCreated", "schema_version": 1,
     "occurred_at": "2026-11-25T10:00:00Z", "order_id": "ord-1",
     "causation_id": null, "producer": "order_service", "payload": {...}}

Readers ignore unknown fields (newer producers may add some); money is a
decimal string, never a JSON number.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    WithJsonSchema,
    model_validator,
)

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


#: The largest amount a Money field holds (12 digits, 2 of them after the point).
MAX_MONEY = Decimal("9999999999.99")
_MONEY_TEXT = re.compile(r"\d{1,10}(\.\d{1,2})?")


def _money(value: Any) -> Decimal:
    """A decimal string such as "19.90" (or a Decimal made in this process): at least 0, at
    most 10 digits before the point and 2 after it. Checked here in one step — pydantic's
    own digit counting runs in Python and showed up in every profile."""
    if isinstance(value, str):
        if not _MONEY_TEXT.fullmatch(value):
            raise ValueError("money is a decimal string of at most 10 digits before the point "
                             'and 2 after it, such as "19.90"')
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or value < 0 or value.as_tuple().exponent < -2 or value > MAX_MONEY:
            raise ValueError("money is at least 0, at most 9999999999.99, with at most 2 decimal "
                             "places")
        return value
    raise ValueError('money must be a decimal string such as "19.90", never a JSON number')


Money = Annotated[
    Decimal,
    BeforeValidator(_money),
    # What the wire format promises (OpenAPI, docs): a decimal string, never a JSON number.
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$",
                    "examples": ["19.90"]}),
]
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
#: A whole number that must arrive as one: not "2", not true.
Count = Annotated[int, Field(strict=True)]


class Contract(BaseModel):
    """Frozen, tolerant of unknown fields: the shape every message part shares."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Payload(Contract):
    """What happened. Subclasses are named in the past tense, one per topic."""

    schema_version: ClassVar[int] = 1
    #: False only for reference-data events (stock, funds) that belong to no order.
    belongs_to_order: ClassVar[bool] = True
    #: Payloads that belong to no order say which field keys their messages.
    key_field: ClassVar[str | None] = None

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__


def _new_event_id() -> str:
    """A UUIDv7 (RFC 9562) in hex: as unique as a random UUID (74 random bits per
    millisecond), and ordered by time, so that the tables keyed by event id (every service's
    inbox) grow at their end. A random id lands on a random page of the index each time:
    measured, 27 µs of CPU per inbox claim against 6 (docs/performance.md)."""
    value = ((time.time_ns() // 1_000_000) << 80 | 0x7 << 76
             | int.from_bytes(os.urandom(10)) & _RANDOM_BITS | 0b10 << 62)
    return f"{value:032x}"


# The bits of a UUIDv7 below its 48-bit timestamp and 4-bit version, except its 2-bit variant.
_RANDOM_BITS = (0xFFF << 64) | ((1 << 62) - 1)


def _now() -> datetime:
    return datetime.now(UTC)


class Event(Contract):
    """The envelope: identity, causality and provenance around one payload."""

    event_id: str = Field(default_factory=_new_event_id, min_length=1, max_length=64,
                          description="Unique per event; consumers deduplicate on it.")
    event_type: str = Field(description="Payload type; equals the topic name.")
    schema_version: Count = Field(default=1, ge=1, description="Version of the payload schema "
                                  "(an integer).")
    occurred_at: datetime = Field(default_factory=_now, description="When it happened (UTC).")
    order_id: Identifier | None = Field(
        default=None, description="The saga this event belongs to; the message key.")
    causation_id: str | None = Field(
        default=None, description="event_id of the event that caused this one.")
    producer: str = Field(default="unknown", description="The service or tool that published it.")
    saga_version: Count = Field(
        default=1, ge=1, description="The version of the saga's flow this event belongs to: set "
        "when the saga starts (its OrderCreated), carried by every event that follows, so that "
        "a saga started under one flow finishes under it. Absent means 1, the first flow.")
    deadline_at: datetime | None = Field(
        default=None, description="When the saga must be over (UTC): set by whoever starts it, "
        "carried by every event that follows. Shipping ships nothing after it, and the order "
        "service cancels a saga still running then (docs/reliability.md). Absent: no "
        "deadline of its own (the order service applies its default).")
    payload: SerializeAsAny[Payload]

    def __eq__(self, other: object) -> bool:
        """Equal fields make equal events, whichever envelope read them: the decoder returns
        the typed envelope it validated with (``codec.ENVELOPES``), not a copy (5 µs an event)."""
        if not isinstance(other, Event):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:  # equal events have one id
        return hash(self.event_id)

    @model_validator(mode="after")
    def _order_events_name_their_order(self) -> Event:
        if self.payload.belongs_to_order and self.order_id is None:
            raise ValueError(f"{self.event_type} needs an order_id")
        return self

    @classmethod
    def new(cls, payload: Payload, *, order_id: str | None = None, producer: str = "unknown",
            causation_id: str | None = None, saga_version: int = 1,
            deadline_at: datetime | None = None) -> Event:
        return cls(event_type=payload.event_type(), schema_version=payload.schema_version,
                   order_id=order_id, producer=producer, causation_id=causation_id,
                   saga_version=saga_version, deadline_at=deadline_at, payload=payload)

    def follow_up(self, payload: Payload, producer: str) -> Event:
        """A new event in the same saga (its flow's version, its deadline), caused by this one."""
        return Event.new(payload, order_id=self.order_id, producer=producer,
                         causation_id=self.event_id, saga_version=self.saga_version,
                         deadline_at=self.deadline_at)

    @property
    def key(self) -> str:
        if self.payload.key_field is not None:
            return str(getattr(self.payload, self.payload.key_field))
        return self.order_id or self.event_id
