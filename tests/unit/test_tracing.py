"""Trace context through a reaction: continued from the header, derived from the order when
there is none, sampled per saga — and no SDK span where nothing exports one."""

import random

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

from shared.events import StockAdded
from shared.tracing import Tracing, current_trace_id
from tests.support.builders import event, order_created

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _header(flags: str = "01") -> tuple[str, bytes]:
    return "traceparent", f"00-{TRACE}-b7ad6b7169203331-{flags}".encode()


def _outgoing(tracing: Tracing, headers=(), evt=None) -> tuple[str, str, str]:
    with tracing.handling(evt or event(order_created()), headers) as outgoing:
        assert current_trace_id() == outgoing[0][1].split("-")[1]
    _, trace_id, span_id, flags = outgoing[0][1].split("-")
    return trace_id, span_id, flags


def test_a_reaction_continues_the_trace_its_event_carries_in_a_span_of_its_own():
    trace_id, span_id, flags = _outgoing(Tracing("inventory_service"), [_header()])
    assert (trace_id, flags) == (TRACE, "01") and span_id != "b7ad6b7169203331"


def test_an_event_without_a_usable_trace_header_gets_the_trace_of_its_order():
    created = event(order_created(), order_id="ord-7")
    without = [(), [("traceparent", None)], [("traceparent", b"00-zz-11-01")],
               [("traceparent", b"\xff" * 55)]]
    trace_ids = {_outgoing(Tracing(service), headers, created)[0]
                 for service in ("inventory_service", "payment_service") for headers in without}
    assert len(trace_ids) == 1


def test_without_an_exporter_no_span_is_made():
    tracing = Tracing("inventory_service")
    _outgoing(tracing, [_header()])
    assert tracing.provider is None


def test_with_an_exporter_every_reaction_is_a_span_of_its_saga():
    tracing, spans = Tracing("inventory_service"), InMemorySpanExporter()
    tracing.add_exporter(spans)
    trace_id, span_id, _ = _outgoing(tracing, [_header()])
    [span] = spans.get_finished_spans()
    assert (format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")) == (
        trace_id, span_id)
    assert span.name == "inventory_service OrderCreated"


def test_a_saga_its_first_service_did_not_sample_is_recorded_nowhere():
    tracing, spans = Tracing("inventory_service", sample_ratio=1.0), InMemorySpanExporter()
    tracing.add_exporter(spans)
    assert _outgoing(tracing, [_header("00")])[2] == "00"
    assert spans.get_finished_spans() == ()


def test_the_share_of_sagas_recorded_is_decided_from_the_trace_id_as_opentelemetry_does():
    tracing, rule = Tracing("order_service", sample_ratio=0.25), TraceIdRatioBased(0.25)
    for trace_id in (random.Random(5).getrandbits(128) for _ in range(2000)):
        ours = bool(tracing._sampled(trace_id))
        theirs = rule.should_sample(None, trace_id, "x").decision is Decision.RECORD_AND_SAMPLE
        assert ours == theirs


def test_sampling_leaves_out_whole_sagas_never_some_of_their_steps():
    spans = InMemorySpanExporter()
    services = [Tracing(name, sample_ratio=0.5) for name in ("inventory_service", "payment_service")]
    for tracing in services:
        tracing.add_exporter(spans)
    for n in range(40):
        stock = event(StockAdded(sku="A", quantity=1), order_id=None)
        for tracing in services:
            _outgoing(tracing, evt=stock.model_copy(update={"order_id": f"ord-{n}"}))
    by_trace: dict[int, int] = {}
    for span in spans.get_finished_spans():
        by_trace[span.context.trace_id] = by_trace.get(span.context.trace_id, 0) + 1
    assert 0 < len(by_trace) < 40 and set(by_trace.values()) == {2}
