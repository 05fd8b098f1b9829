"""One saga, one trace: W3C trace context in a Kafka header, through every reaction.

Every event a service publishes carries a ``traceparent`` header naming the span that handled
its cause, so the first event, each reaction and each compensation of an order form one trace
(OpenTelemetry SDK). An event that arrives without one — an order published with kcat, say —
is given a trace id derived from its order id, so every service that reacts to it still lands
in the same trace. Spans are always made, so the header always travels; they are exported only
where an exporter is configured (``SAGA_OTLP_ENDPOINT``, off by default).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator, Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.events import Event

TRACEPARENT = "traceparent"
_propagator = TraceContextTextMapPropagator()


class Tracing:
    """A service's tracer: spans named after the service and the event they handle."""

    def __init__(self, service: str, otlp_endpoint: str | None = None) -> None:
        self.service = service
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.tracer = self.provider.get_tracer("saga-choreography")
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.add_exporter(OTLPSpanExporter(endpoint=otlp_endpoint), batch=True)

    def add_exporter(self, exporter: SpanExporter, *, batch: bool = False) -> None:
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        self.provider.add_span_processor(processor)

    @contextlib.contextmanager
    def handling(self, event: Event, headers: Sequence[tuple[str, bytes]] = ()
                 ) -> Iterator[list[tuple[str, str]]]:
        """A span for one reaction; yields the headers its outgoing events must carry."""
        parent = _parent_context(event, headers)
        with self.tracer.start_as_current_span(
                f"{self.service} {event.event_type}", context=parent, kind=SpanKind.CONSUMER,
                attributes={"saga.service": self.service, "saga.event_type": event.event_type,
                            "saga.event_id": event.event_id,
                            "saga.order_id": event.order_id or ""}):
            yield current_headers()

    @contextlib.contextmanager
    def originating(self, what: str, order_id: str | None) -> Iterator[list[tuple[str, str]]]:
        """A span for something that starts a saga (an API call)."""
        parent = _derived_context(order_id) if order_id else None
        with self.tracer.start_as_current_span(f"{self.service} {what}", context=parent,
                                               kind=SpanKind.SERVER,
                                               attributes={"saga.order_id": order_id or ""}):
            yield current_headers()

    def shutdown(self) -> None:
        self.provider.shutdown()


def current_headers() -> list[tuple[str, str]]:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return [(TRACEPARENT, carrier[TRACEPARENT])] if TRACEPARENT in carrier else []


def record_failure(error: BaseException) -> None:
    """Mark the current span failed: a reaction whose handler raised is an error in the trace,
    even though the runtime catches it (to retry or park the event)."""
    span = trace.get_current_span()
    span.record_exception(error)
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(error).__name__}: {error}"))


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _parent_context(event: Event, headers: Sequence[tuple[str, bytes]]):
    # A header may come without a value (other clients send null): then there is none.
    carrier = {name: value.decode(errors="replace") for name, value in headers
               if name == TRACEPARENT and isinstance(value, bytes)}
    context = _propagator.extract(carrier) if carrier else None
    if context is not None and trace.get_current_span(context).get_span_context().is_valid:
        return context
    return _derived_context(event.order_id or event.event_id, event.event_id)


def _derived_context(key: str, span_seed: str | None = None):
    """A remote parent whose trace id follows from the order id: the same in every service."""
    trace_id = int(hashlib.sha256(key.encode()).hexdigest()[:32], 16) or 1
    span_id = int(hashlib.sha256((span_seed or key).encode()).hexdigest()[32:48], 16) or 1
    parent = SpanContext(trace_id, span_id, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(parent))


class TraceIdFilter(logging.Filter):
    """Log lines written inside a span carry its trace id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            trace_id = current_trace_id()
            if trace_id:
                record.trace_id = trace_id
        return True
