"""What every service counts and times, for Prometheus (``GET /metrics``).

One registry per service object (not the process-global one), so that several services in
one test process never share a counter. prometheus-client is thread-safe: the writer thread
records handler and commit times, the event loop records fetch and publish times.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self._children: dict[tuple, object] = {}

        def counter(name: str, text: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, text, labels, registry=registry)

        def histogram(name: str, text: str, labels: tuple[str, ...] = (),
                      buckets: tuple = LATENCY_BUCKETS) -> Histogram:
            return Histogram(name, text, labels, registry=registry, buckets=buckets)

        self.handled = counter("saga_events_handled", "Events applied.", ("event_type",))
        self.failed = counter("saga_events_failed", "Handler attempts that raised.",
                              ("event_type",))
        self.retried = counter("saga_events_retried", "Retries of queued events.",
                               ("event_type",))
        self.parked = counter("saga_events_parked", "Events parked for a person.",
                              ("event_type",))
        self.dead_lettered = counter("saga_events_dead_lettered", "Messages dead-lettered.",
                                     ("topic", "kind"))
        self.published = counter("saga_messages_published", "Outbox rows the broker acknowledged.",
                                 ("topic",))
        self.publish_failures = counter("saga_publish_failures",
                                        "Publish attempts that failed (rows stay in the outbox).")
        self.handler_seconds = histogram("saga_handler_seconds", "One event's reaction.",
                                         ("event_type",))
        self.commit_seconds = histogram("saga_commit_seconds",
                                        "One group commit: the whole batch, fsync included.")
        self.batch_events = histogram("saga_batch_events", "Events per group commit.",
                                      buckets=BATCH_BUCKETS)
        self.event_wait_seconds = histogram(
            "saga_event_wait_seconds", "From the record's timestamp to the start of its batch.")
        self.relay_pickup_seconds = histogram(
            "saga_relay_pickup_seconds", "From an outbox row's commit to its send.")
        self.publish_seconds = histogram("saga_publish_seconds",
                                         "From send to the broker's acknowledgement.")
        self.outbox_backlog = Gauge("saga_outbox_backlog", "Rows waiting to be published.",
                                    registry=registry)
        self.retry_queue = Gauge("saga_retry_queue", "Events in the retry queue.", ("status",),
                                 registry=registry)
        self.consumer_restarts = counter(
            "saga_consumer_restarts", "Consumers the watchdog restarted: stalled as a whole "
            "(consumer) or on one partition (partition).", ("reason",))
        self.instance = Gauge("saga_instance_info", "Which instance of which service this is, "
                              "and its store (sqlite or postgres).",
                              ("service", "instance", "store"), registry=registry)
        self.consumer_lag = Gauge("saga_consumer_lag", "Records behind the end, per partition.",
                                  ("topic", "partition"), registry=registry)

    def labelled(self, metric, *values: str):
        """``metric.labels(*values)``, looked up once per combination: ``labels()`` takes a
        lock and builds its key on every call, and the hot path asks for the same few."""
        child = self._children.get((metric, values))
        if child is None:
            child = self._children[(metric, values)] = metric.labels(*values)
        return child

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
