"""The faust app: saga topics in, a table of saga progress keyed by order id, a small web view.

Every saga event is keyed by order id and every topic has the same partition count, so the
topics are co-partitioned with the table: each worker owns whole sagas. The table's changelog
topic (created by faust) rebuilds it after a restart.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import faust

from saga_monitor import progress
from shared.events import SAGA_EVENTS, RejectedMessage, decode
from shared.runtime.topics import ensure_topics
from shared.settings import Settings

log = logging.getLogger(__name__)
APP_ID = "saga_monitor"


async def create_internal_topics(settings: Settings) -> None:
    """faust would create these itself, but a worker that races its own topic creation starts
    without them (and then refuses to write its table): create them explicitly first."""
    await ensure_topics(settings, [f"{APP_ID}-sagas-changelog"],
                        config={"cleanup.policy": "compact"})
    await ensure_topics(settings, [f"{APP_ID}-__assignor-__leader"], partitions=1)


def create_app(settings: Settings) -> faust.App:
    datadir = settings.database_path.parent / "saga_monitor-data"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.topic(APP_ID),
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        web_bind=settings.http_host, web_port=settings.http_port, web_in_thread=False,
        datadir=str(datadir),
    )
    events = app.topic(*(settings.topic(p.event_type()) for p in SAGA_EVENTS),
                       key_serializer="raw", value_serializer="raw")
    sagas = app.Table("sagas", partitions=settings.topic_partitions)
    reported: set[str] = set()

    @app.agent(events)
    async def track_sagas(stream):
        async for value in stream:
            try:
                event = decode(value, max_bytes=settings.max_message_bytes)
            except RejectedMessage:
                continue  # the services dead-letter it; a monitor only watches
            # faust's Table.get() raises for a missing key instead of returning the default.
            known = sagas[event.order_id] if event.order_id in sagas else None  # noqa: SIM401
            sagas[event.order_id] = progress.record(known, event, time.time())

    @app.timer(interval=5.0)
    async def report_stalled_sagas():
        now = time.time()
        for order_id, saga in list(sagas.items()):
            if order_id not in reported and progress.stalled(saga, now,
                                                             settings.stall_after_seconds):
                reported.add(order_id)
                log.warning("saga stalled", extra={"order_id": order_id,
                                                   "status": saga["status"],
                                                   "last_event": saga["events"][-1]["type"]})

    @app.page("/sagas/{order_id}/")
    async def saga_view(web, request, order_id: str):
        if order_id not in sagas:
            return web.json({"detail": f"no events seen for order {order_id}"}, status=404)
        return web.json(progress.summary(sagas[order_id]))

    @app.page("/stats/")
    async def stats_view(web, request):
        now, all_sagas = time.time(), list(sagas.values())
        return web.json({
            "sagas": len(all_sagas),
            "by_status": dict(Counter(saga["status"] for saga in all_sagas)),
            "stalled": sorted(saga["order_id"] for saga in all_sagas
                              if progress.stalled(saga, now, settings.stall_after_seconds)),
        })

    return app
