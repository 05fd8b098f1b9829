"""`saga-monitor`: create the topics it reads, then run the faust worker (SAGA_HTTP_PORT: 8005)."""

import asyncio
import gc
import logging
import os
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


def take_priority(nice: int) -> None:
    """Run the monitor's threads at ``nice`` (``SAGA_MONITOR_NICE``), before any has started:
    on Linux the nice value is a thread's, and a new thread inherits its creator's.

    In a burst that keeps every core busy, the scheduler shares the cores per thread, and the
    mesh has many busy threads to the monitor's one. Measured on two cores during `make
    bench`'s monitored burst at the same priority as the services, the monitor waited for a
    core 52-80 % of the time and ran 18-30 %, and its counts trailed the topics by 4-5 s: it
    fell behind exactly when the system was overloaded, when it is most needed. Its work is
    what the mesh produces, so a higher priority lets it keep up without starving the mesh
    (docs/performance.md, "The saga monitor beside the mesh")."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice == current:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        # Said before faust sets up logging: without a handler, Python prints it to stderr.
        log.warning("saga monitor runs at nice %d, not %d (SAGA_MONITOR_NICE): a higher priority "
                    "needs CAP_SYS_NICE or RLIMIT_NICE, and in a burst that keeps every core "
                    "busy its counts may trail the topics", current, nice)


def main() -> None:
    settings = load(Settings, service_name="saga_monitor")
    take_priority(settings.monitor_nice)
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
