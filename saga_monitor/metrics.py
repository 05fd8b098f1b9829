"""What the monitor exposes to Prometheus (``GET /metrics``), in a registry of its own.

Gauges (sagas by status, stuck, readiness) are set from the current snapshot when scraped;
the duration histogram is observed once per saga, when the monitor sees it finish — a
restarted monitor does not observe the sagas it recovers from its changelog again.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
                    600.0, 1800.0, 3600.0)


class MonitorMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.sagas = Gauge("saga_monitor_sagas", "Sagas in the monitor's table, by status.",
                           ("status",), registry=registry)
        self.stuck = Gauge("saga_monitor_sagas_stuck",
                           "Unfinished sagas with a step past its deadline.", registry=registry)
        self.duration = Histogram(
            "saga_monitor_saga_duration_seconds",
            "From OrderCreated to the customer's notification of the outcome.", ("outcome",),
            buckets=DURATION_BUCKETS, registry=registry)
        self.events = Counter("saga_monitor_events", "Saga events folded (duplicates included).",
                              ("event_type",), registry=registry)
        self.unreadable = Counter(
            "saga_monitor_unreadable", "Messages skipped as unreadable for their topic's type "
            "(the services dead-letter them).", ("topic",), registry=registry)
        self.dead_letters = Counter("saga_monitor_dead_letters", "Dead letters read.",
                                    ("kind",), registry=registry)
        self.expired = Counter("saga_monitor_sagas_expired",
                               "Sagas removed from the table after the retention.",
                               registry=registry)
        self.ready = Gauge("saga_monitor_ready",
                           "1 when every topic the monitor reads exists and is assigned.",
                           registry=registry)
        self.topics_missing = Gauge("saga_monitor_topics_missing",
                                    "Topics the monitor must read that it cannot see.",
                                    registry=registry)

    def set_snapshot(self, by_status: dict[str, int], stuck: int) -> None:
        for status, count in by_status.items():
            self.sagas.labels(status).set(count)
        self.stuck.set(stuck)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
