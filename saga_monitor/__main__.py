"""`saga-monitor`: create the topics it reads, then run the faust worker (SAGA_HTTP_PORT: 8005)."""

import asyncio
import logging
import sys

from saga_monitor.app import create_app
from saga_monitor.topics import create_topics
from shared.runtime.topics import BrokerUnreachable, TopicsRefused
from shared.settings import Settings, load

log = logging.getLogger(__name__)


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
    app.main()


if __name__ == "__main__":
    main()
