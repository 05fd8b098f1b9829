"""`saga-monitor`: run the faust worker with the project's settings (SAGA_HTTP_PORT: 8005)."""

import asyncio
import sys

from saga_monitor.app import create_app, create_internal_topics
from shared.settings import Settings, load


def main() -> None:
    settings = load(Settings, service_name="saga_monitor")
    asyncio.run(create_internal_topics(settings))
    app = create_app(settings)
    sys.argv = [sys.argv[0], "worker", "--loglevel", settings.log_level.lower().replace(
        "warning", "warn"), "--web-port", str(settings.http_port)]
    app.main()


if __name__ == "__main__":
    main()
