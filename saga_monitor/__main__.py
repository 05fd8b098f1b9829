"""`saga-monitor`: create the topics it reads, then run the faust worker (SAGA_HTTP_PORT: 8005)."""

import asyncio
import gc
import logging
import sys

from saga_monitor.app import create_app
from saga_monitor.topics import create_topics
from shared.runtime.topics import BrokerUnreachable, TopicsRefused
from shared.settings import Settings, load

log = logging.getLogger(__name__)

#: Python's cyclic collector, run less often than its defaults (700, 10, 10). The monitor keeps
#: every saga of its table in memory, and each full collection walks all of it: with the
#: defaults, a monitored burst of 10,000 orders made 13 full collections of about 0.2 s each,
#: and collecting took 3.1-3.8 s of the monitor's CPU, about a third (0.8-1.2 s with these;
#: docs/performance.md, "The saga monitor beside the mesh"). Its records are tuples, freed by
#: reference counting; the collector is only for cycles.
COLLECTOR_THRESHOLDS = (10_000, 50, 100)


def main() -> None:
    settings = load(Settings, service_name="saga_monitor")
    try:
        # Before the worker subscribes: a topic missing then would be ignored until a rebalance.
        asyncio.run(create_topics(settings))
    except (BrokerUnreachable, TopicsRefused) as error:
        # Said before faust sets up logging: without a handler, Python prints it to stderr.
        log.error("saga monitor cannot start: %s", error)
        raise SystemExit(1) from None
    app, _ = create_app(settings)
    sys.argv = [sys.argv[0], "worker", "--loglevel", settings.log_level.lower().replace(
        "warning", "warn"), "--web-port", str(settings.http_port)]
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    app.main()


if __name__ == "__main__":
    main()
