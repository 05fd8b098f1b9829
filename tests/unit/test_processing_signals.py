"""What the processor tells the people running it: counters by event type, topic and kind;
one structured log line per decision; crash points that name the events involved."""

import logging
import time
from dataclasses import replace

import pytest

from shared.deadletters import Delivery
from shared.errors import PermanentError
from shared.events import OrderShipped, StockAdded
from shared.metrics import ServiceMetrics
from tests.support.builders import event, order_created
from tests.support.processing import RecordingCrashPoints, delivery_of, drain, processor_for

SHIPPED = OrderShipped(shipment_id="s", carrier="c", tracking_number="t")


@pytest.fixture
def metrics() -> ServiceMetrics:
    return ServiceMetrics()


@pytest.fixture
def logged(caplog):
    """The structured fields of each line the processor logged with a given message."""
    caplog.set_level(logging.INFO, logger="shared.processing")
    fields = ("event_type", "order_id", "event_id", "topic", "kind", "reason", "offset",
              "attempts", "error", "emitted")

    def lines(message: str) -> list[dict]:
        return [{name: getattr(record, name) for name in fields if hasattr(record, name)}
                for record in caplog.records if record.getMessage() == message]
    return lines


def _sample(metrics: ServiceMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_applied_events_are_counted_and_timed_by_type(stocked_inventory, clock, metrics):
    started = time.perf_counter()
    processor_for(stocked_inventory, clock, metrics=metrics).process_batch(
        [delivery_of(event(order_created(), order_id=order)) for order in ("ord-a", "ord-b")])
    elapsed = time.perf_counter() - started
    assert _sample(metrics, "saga_events_handled_total", event_type="OrderCreated") == 2
    assert _sample(metrics, "saga_handler_seconds_count", event_type="OrderCreated") == 2
    assert 0 < _sample(metrics, "saga_handler_seconds_sum", event_type="OrderCreated") <= elapsed
    assert (_sample(metrics, "saga_batch_events_count"),
            _sample(metrics, "saga_batch_events_sum")) == (1, 2)
    assert _sample(metrics, "saga_commit_seconds_count") == 1
    assert 0 < _sample(metrics, "saga_commit_seconds_sum") <= elapsed


def test_failures_retries_and_parking_are_counted_by_type_and_topic(stocked_inventory, clock,
                                                                   metrics):
    processor = processor_for(stocked_inventory, clock, failures=99, max_attempts=2,
                              metrics=metrics)
    processor.process_batch([delivery_of(event(order_created()))])
    drain(processor, clock)
    assert _sample(metrics, "saga_events_failed_total", event_type="OrderCreated") == 2
    assert _sample(metrics, "saga_events_retried_total", event_type="OrderCreated") == 1
    assert _sample(metrics, "saga_events_parked_total", event_type="OrderCreated") == 1
    assert _sample(metrics, "saga_events_dead_lettered_total", topic="OrderCreated",
                   kind="handler-failed") == 1


def test_rejected_messages_are_counted_by_topic_and_kind(stocked_inventory, clock, metrics):
    processor_for(stocked_inventory, clock, metrics=metrics).process_batch(
        [Delivery("StockAdded", 0, 5, b"A", b"{oops")])
    assert _sample(metrics, "saga_events_dead_lettered_total", topic="StockAdded",
                   kind="malformed") == 1


def _about(evt) -> dict:
    return {"event_type": evt.event_type, "order_id": evt.order_id, "event_id": evt.event_id}


def test_what_an_event_causes_carries_its_trace_and_the_log_says_which(stocked_inventory,
                                                                        clock, caplog):
    caplog.set_level(logging.INFO, logger="shared.processing")
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    created = event(order_created())
    delivery = replace(delivery_of(created),
                       headers=(("traceparent", f"00-{trace_id}-b7ad6b7169203331-01".encode()),))
    [reserved] = processor_for(stocked_inventory, clock).process_batch([delivery])
    [(name, traceparent)] = reserved.headers
    assert name == "traceparent" and traceparent.decode().split("-")[1] == trace_id
    assert [line.trace_id for line in caplog.records if line.getMessage() == "handled"] == [
        trace_id]


def test_each_decision_is_logged_with_the_event_it_concerns(stocked_inventory, clock, logged):
    created, shipped = event(order_created()), event(SHIPPED)
    other = event(order_created(), order_id="ord-2")
    processor = processor_for(stocked_inventory, clock, failures=1)
    processor.process_batch([delivery_of(created), delivery_of(shipped), delivery_of(other)])
    drain(processor, clock)
    assert logged("handler failed, will retry") == [
        {**_about(created), "error": "TimeoutError: gateway timeout"}]
    assert logged("queued behind an earlier event of its order") == [_about(shipped)]
    assert logged("handled") == [
        {**_about(other), "attempts": 1, "emitted": ["StockReserved"]},
        {**_about(created), "attempts": 2, "emitted": ["StockReserved"]},
        {**_about(shipped), "attempts": 1, "emitted": []}]


def test_an_error_is_logged_cut_to_five_hundred_characters(stocked_inventory, clock, logged):
    processor_for(stocked_inventory, clock, failures=1,
                  error=TimeoutError("x" * 600)).process_batch([delivery_of(event(order_created()))])
    [line] = logged("handler failed, will retry")
    assert line["error"] == ("TimeoutError: " + "x" * 600)[:500]


def test_a_permanent_error_is_logged_as_parked_with_the_event(stocked_inventory, clock, logged):
    created = event(order_created())
    processor_for(stocked_inventory, clock, failures=1,
                  error=PermanentError("invariant broken")).process_batch([delivery_of(created)])
    assert logged("parked for manual intervention") == [
        {**_about(created), "attempts": 1, "error": "PermanentError: invariant broken"}]


def test_parking_and_replaying_are_logged_with_the_attempts_and_the_error(
        stocked_inventory, clock, logged):
    created = event(order_created())
    processor = processor_for(stocked_inventory, clock, failures=2, max_attempts=2)
    processor.process_batch([delivery_of(created)])
    drain(processor, clock)
    processor.process_batch([delivery_of(created, offset=99)])
    assert logged("parked for manual intervention") == [
        {**_about(created), "attempts": 2, "error": "TimeoutError: gateway timeout"}]
    assert logged("parked event replayed, retrying") == [_about(created)]


def test_an_event_that_no_longer_decodes_is_logged_by_its_topic(stocked_inventory, clock,
                                                                logged):
    processor = processor_for(stocked_inventory, clock, failures=1)
    processor.process_batch([delivery_of(event(order_created()))])
    stocked_inventory.db.execute("UPDATE retry_queue SET value = ?", [b'{"event_type": "Gone"}'])
    drain(processor, clock)
    assert logged("parked for manual intervention") == [
        {"topic": "OrderCreated", "attempts": 2,
         "error": "cannot decode: unknown event_type 'Gone'"}]


def test_a_dead_lettered_message_is_logged_with_its_origin_and_reason(stocked_inventory, clock,
                                                                      logged):
    processor_for(stocked_inventory, clock).process_batch(
        [Delivery("StockAdded", 0, 5, b"A", b"{oops")])
    assert logged("dead-lettered") == [{"topic": "StockAdded", "kind": "malformed", "offset": 5,
                                        "reason": "not valid UTF-8 JSON (JSONDecodeError)"}]


def test_crash_points_name_the_event_types_of_the_batch(stocked_inventory, clock):
    crash_points = RecordingCrashPoints()
    processor_for(stocked_inventory, clock, crash_points=crash_points).process_batch(
        [delivery_of(event(order_created())),
         delivery_of(event(StockAdded(sku="WIDGET-1", quantity=1)))])
    assert crash_points.reached_points == [
        ("inside_group_commit", ("OrderCreated",)), ("inside_group_commit", ("StockAdded",)),
        ("after_local_commit", ("OrderCreated", "StockAdded"))]
