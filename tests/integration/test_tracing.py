"""One saga, one trace: the traceparent header travels through every reaction and every
compensation, and each span names its service and the event it handled."""

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devtools.orders import BALANCES, STOCK, UNSERVED, order_body
from sagactl.kafka import read_topics
from shared.events import Event, OrderCreated

pytestmark = pytest.mark.integration


def _spans_of(exporter: InMemorySpanExporter, order_id: str) -> list:
    return [span for span in exporter.get_finished_spans()
            if span.attributes.get("saga.order_id") == order_id]


async def test_a_compensated_saga_is_one_trace_from_the_api_call_to_the_last_notification(mesh):
    exporter = InMemorySpanExporter()
    mesh.trace_into(exporter)
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    order_id = await mesh.place_order(order_body(quantity=1, address=UNSERVED))
    await mesh.wait_until_final(order_id)
    # Two notifications come back, the refund's and the cancellation's, in either order.
    await mesh.wait_for(lambda: sum(s.name == "order_service CustomerNotified"
                                    for s in _spans_of(exporter, order_id)) == 2)

    spans = _spans_of(exporter, order_id)
    assert len({span.context.trace_id for span in spans}) == 1
    names = {span.name for span in spans}
    assert {"order_service place order", "inventory_service OrderCreated",
            "payment_service FraudCheckPassed", "shipping_service PaymentCharged",
            "payment_service ShipmentFailed", "inventory_service PaymentRefunded",
            "order_service StockReleased", "notification_service OrderCancelled"} <= names
    for span in spans:
        assert span.resource.attributes["service.name"] == span.name.split()[0]
        assert span.name.endswith("place order") or (
            span.attributes["saga.event_type"] == span.name.split()[1])

    records = [r async for r in read_topics(mesh.tool, ["OrderCancelled"], follow=False,
                                            from_beginning=True)]
    headers = dict(records[0].headers)
    assert headers["traceparent"].decode().split("-")[1] == format(spans[0].context.trace_id,
                                                                   "032x")


async def test_an_order_published_without_a_trace_still_makes_one_trace(mesh):
    exporter = InMemorySpanExporter()
    mesh.trace_into(exporter)
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    order = Event.new(OrderCreated.model_validate(order_body(quantity=1)), order_id="ord-kcat",
                      producer="kcat")
    await mesh.publish(order)  # no traceparent header, as kcat would send it
    await mesh.wait_until_final("ord-kcat")
    await mesh.wait_for(lambda: len({s.name for s in _spans_of(exporter, "ord-kcat")}) >= 8)
    assert len({span.context.trace_id for span in _spans_of(exporter, "ord-kcat")}) == 1


class _OtlpReceiver:
    """The smallest OTLP/HTTP trace receiver: keeps every export request it is sent."""

    def __init__(self) -> None:
        import http.server
        import threading

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def services(self) -> set[str]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )
        names = set()
        for _, body in self.received:
            request = ExportTraceServiceRequest.FromString(body)
            for spans in request.resource_spans:
                names |= {a.value.string_value for a in spans.resource.attributes
                          if a.key == "service.name"}
        return names


@pytest.fixture
def otlp_receiver():
    """Asked for before the mesh, so it outlives the mesh's teardown: an exporter whose
    endpoint has gone retries with backoff for many seconds."""
    receiver = _OtlpReceiver()
    yield receiver
    receiver.server.shutdown()


async def test_spans_go_to_the_otlp_endpoint_the_settings_name(otlp_receiver, mesh):
    receiver = otlp_receiver
    mesh.configure("payment_service", otlp_endpoint=receiver.url)
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    await mesh.wait_until_final(await mesh.place_order(order_body(quantity=1)))
    await mesh.stop()  # flushes the batch of spans
    assert receiver.services() == {"payment_service"}
    assert {path for path, _ in receiver.received} == {"/v1/traces"}
