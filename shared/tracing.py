"""One saga, one trace: W3C trace context in a Kafka header, through every reaction.

Every event a service publishes carries a ``traceparent`` header naming the reaction that
caused it, so the first event, each reaction and each compensation of an order form one trace.
An event that arrives without one (or with one that does not parse) — an order published with
kcat, say — is given a trace id derived from its order id, so every service that reacts to it
still lands in the same trace.

Propagating costs next to nothing: the header is parsed and written with plain id arithmetic,
and a span id is drawn per reaction. OpenTelemetry SDK spans are made only where something
exports them (``SAGA_OTLP_ENDPOINT``, or an exporter a test adds), and then sampled per saga:
``SAGA_TRACE_SAMPLE_RATIO`` of the traces that start here (decided from the trace id, so every
service decides the same for one saga), and whatever the parent decided for the others
(parent-based; the header's sampled flag travels either way).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import random
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from shared.events import Event

TRACEPARENT = "traceparent"
_SAMPLED = 0x01
_ids = random.Random()


class TraceContext(NamedTuple):  # not a frozen dataclass: two are made per event
    trace_id: int
    span_id: int
    flags: int

    @property
    def header(self) -> tuple[str, str]:
        return TRACEPARENT, f"00-{self.trace_id:032x}-{self.span_id:016x}-{self.flags:02x}"

    def child(self) -> TraceContext:
        return TraceContext(self.trace_id, _ids.getrandbits(64) or 1, self.flags)


#: The reaction running now (when no SDK span is): its trace, for log lines and follow-ups.
_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar(
    "saga_trace", default=None)


class _Propagating:
    """A reaction nothing exports a span of: its trace context is only passed on (a child of
    ``parent``, current while it runs). A class, not a generator: it runs once per event."""

    __slots__ = ("own", "_token")

    def __init__(self, parent: TraceContext) -> None:
        self.own = parent.child()

    def __enter__(self) -> list[tuple[str, str]]:
        self._token = _current.set(self.own)
        return [self.own.header]

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._token)


class Tracing:
    """A service's tracer: spans named after the service and the event they handle."""

    def __init__(self, service: str, otlp_endpoint: str | None = None,
                 sample_ratio: float = 1.0) -> None:
        self.service, self.sample_ratio = service, sample_ratio
        self.provider: TracerProvider | None = None
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.add_exporter(OTLPSpanExporter(endpoint=otlp_endpoint), batch=True)

    @property
    def exports(self) -> bool:
        """Spans are made (an exporter reads them), not only trace context passed on."""
        return self.provider is not None

    def add_exporter(self, exporter: SpanExporter, *, batch: bool = False) -> None:
        if self.provider is None:  # spans are made from now on: something reads them
            self.provider = TracerProvider(
                resource=Resource.create({"service.name": self.service}),
                sampler=ParentBased(TraceIdRatioBased(self.sample_ratio)))
            self.tracer = self.provider.get_tracer("saga-choreography")
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        self.provider.add_span_processor(processor)

    def handling(self, event: Event, headers: Sequence[tuple[str, bytes | None]] = ()
                 ) -> contextlib.AbstractContextManager[list[tuple[str, str]]]:
        """A span for one reaction; yields the headers its outgoing events must carry."""
        parent = _parse(headers) or self._derived(event.order_id or event.event_id,
                                                  event.event_id)
        if self.provider is None or not parent.flags & _SAMPLED:
            return _Propagating(parent)
        return self._span(f"{self.service} {event.event_type}", parent, SpanKind.CONSUMER,
                          {"saga.service": self.service, "saga.event_type": event.event_type,
                           "saga.event_id": event.event_id, "saga.order_id": event.order_id or ""})

    def originating(self, what: str, order_id: str | None
                    ) -> contextlib.AbstractContextManager[list[tuple[str, str]]]:
        """A span for something that starts a saga (an API call)."""
        parent = self._derived(order_id) if order_id else self._root()
        if self.provider is None or not parent.flags & _SAMPLED:
            return _Propagating(parent)
        return self._span(f"{self.service} {what}", parent, SpanKind.SERVER,
                          {"saga.order_id": order_id or ""})

    @contextlib.contextmanager
    def _span(self, name: str, parent: TraceContext, kind: SpanKind, attributes: dict
              ) -> Iterator[list[tuple[str, str]]]:
        """An SDK span, for an exporter."""
        remote = SpanContext(parent.trace_id, parent.span_id, is_remote=True,
                             trace_flags=TraceFlags(parent.flags))
        context = trace.set_span_in_context(NonRecordingSpan(remote))
        with self.tracer.start_as_current_span(name, context=context, kind=kind,
                                               attributes=attributes) as span:
            own = span.get_span_context()
            yield [TraceContext(own.trace_id, own.span_id, own.trace_flags).header]

    def _derived(self, key: str, span_seed: str | None = None) -> TraceContext:
        """A remote parent whose trace id follows from the order id: the same in every
        service, and so is the sampling decision made from it."""
        trace_id = int(hashlib.sha256(key.encode()).hexdigest()[:32], 16) or 1
        span_id = int(hashlib.sha256((span_seed or key).encode()).hexdigest()[32:48], 16) or 1
        return TraceContext(trace_id, span_id, self._sampled(trace_id))

    def _root(self) -> TraceContext:
        trace_id = _ids.getrandbits(128) or 1
        return TraceContext(trace_id, _ids.getrandbits(64) or 1, self._sampled(trace_id))

    def _sampled(self, trace_id: int) -> int:
        """OpenTelemetry's TraceIdRatioBased rule, so the SDK would decide the same."""
        bound = round(self.sample_ratio * (2 ** 64))
        return _SAMPLED if trace_id & (2 ** 64 - 1) < bound else 0

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()


def _parse(headers: Sequence[tuple[str, bytes | None]]) -> TraceContext | None:
    """The W3C traceparent among ``headers`` (version 00), or None: absent, without a value
    (other clients send null values), or not well formed."""
    for name, value in headers:
        if name != TRACEPARENT or not isinstance(value, bytes) or len(value) != 55:
            continue
        try:
            version, trace_id, span_id, flags = value.decode("ascii").split("-")
            parsed = TraceContext(int(trace_id, 16), int(span_id, 16), int(flags, 16))
        except (UnicodeDecodeError, ValueError):
            continue
        if version == "00" and parsed.trace_id and parsed.span_id and len(trace_id) == 32:
            return parsed
    return None


def record_failure(error: BaseException) -> None:
    """Mark the current span failed: a reaction whose handler raised is an error in the trace,
    even though the runtime catches it (to retry or park the event)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.record_exception(error)
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(error).__name__}: {error}"))


def current_trace_id() -> str | None:
    own = _current.get()
    if own is not None:
        return format(own.trace_id, "032x")
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class TraceIdFilter(logging.Filter):
    """Log lines written inside a span carry its trace id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            trace_id = current_trace_id()
            if trace_id:
                record.trace_id = trace_id
        return True
