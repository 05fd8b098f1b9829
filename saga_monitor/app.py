"""The faust app: saga topics and their dead-letter topics in, a table of sagas keyed by order
id (folded a batch at a time, its changes written to the changelog once a second:
``saga_monitor.state`` states the guarantee), the operator's dead-letter decisions beside it,
timers for readiness, stuck sagas and retention, and the web face.

Every saga event is keyed by order id and every topic (``.DLT`` included) has the same
partition count, so the topics are co-partitioned with the table: each worker owns whole
sagas. The table's changelog topic (compacted) rebuilds it after a restart. The decisions topic
is not co-partitioned: a task reads all of it beside the stream (``saga_monitor.decisions``).
"""

from __future__ import annotations

import asyncio
import json
import logging

import faust
from faust.serializers import codecs

from saga_monitor import decisions, delivery, progress, reading
from saga_monitor.state import MonitorState
from saga_monitor.topics import APP_ID, READ
from saga_monitor.views import row
from saga_monitor.web import add_routes
from shared.settings import Settings

log = logging.getLogger(__name__)
WATCH_INTERVAL, STUCK_INTERVAL = 2.0, 5.0
CHANGELOG_LINGER_SECONDS, CHANGELOG_BATCH_BYTES = 0.05, 256 * 1024
#: Events folded per batch at most, and how long a batch waits to fill (it adds to the lag).
BATCH_EVENTS, BATCH_SECONDS = 2000, 0.2
#: How often the sagas changed meanwhile go to the changelog, each once, however many of its
#: events arrived meanwhile. A rebalance or a stop waits for it (faust waits for every ack).
WRITE_SECONDS = 1.0


class RecordCodec(codecs.Codec):
    """A saga record as compact JSON in the changelog, and back into tuples."""

    def _dumps(self, value) -> bytes:
        return json.dumps(progress.to_json(value), separators=(",", ":")).encode()

    def _loads(self, data: bytes):
        return progress.from_json(json.loads(data))


def create_app(settings: Settings) -> tuple[faust.App, MonitorState]:
    datadir = settings.database_path.parent / "saga_monitor-data"
    datadir.mkdir(parents=True, exist_ok=True)
    app = delivery.App(
        settings.topic(APP_ID),
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        web_bind=settings.http_host, web_port=settings.http_port, web_in_thread=False,
        datadir=str(datadir), broker_credentials=_credentials(settings),
        # Every change of a saga is a changelog record. Sent as they come (faust's default, no
        # linger, 16 KB batches) that was one produce request per event or two, and the
        # socket writes alone took a fifth of the monitor's time in a burst. faust flushes the
        # producer before it commits offsets, so a linger delays no guarantee.
        producer_linger=CHANGELOG_LINGER_SECONDS, producer_max_batch_size=CHANGELOG_BATCH_BYTES,
    )
    topics = app.topic(*(settings.topic(name) for name in READ), key_serializer="raw",
                       value_serializer="raw")
    table = app.Table("sagas", partitions=settings.topic_partitions,
                      schema=faust.Schema(value_serializer=RecordCodec()))
    state = MonitorState(settings, table)
    prefix = settings.topic_prefix

    @app.agent(topics)
    async def track_sagas(stream):
        # A batch at a time; its events are held until write_changes has sent what they changed
        # to the changelog (MonitorState.fold_batch): a crash before that reads them again.
        async for events in stream.take_events(BATCH_EVENTS, within=BATCH_SECONDS):
            state.fold_batch(reading.read_events(events, prefix, settings.max_message_bytes),
                             held=events)

    @app.task
    async def write_changes():
        # A loop, not a faust timer: timers end as soon as the worker starts stopping, and then
        # its consumer waits until every event held is acknowledged. Tasks end after that.
        while True:
            await asyncio.sleep(WRITE_SECONDS)
            try:
                await state.write()
            except Exception:  # the producer refused: kept for the next write (MonitorState)
                log.exception("writing the sagas' changes to the changelog failed; retrying")

    @app.task
    async def read_dead_letter_decisions():
        await decisions.follow(settings, state.decisions, state.changed)

    @app.task
    async def keep_the_log_level():
        # faust's terminal spinner puts the root logger at DEBUG when the level is WARNING or
        # higher: every debug call in faust (one per message sent) would then build a record.
        logging.getLogger().setLevel(settings.log_level)

    @app.task
    async def watch_topics():
        await state.watch.follow(lambda: {tp.topic for tp in app.consumer.assignment()},
                                 WATCH_INTERVAL)

    reported: set[str] = set()

    @app.timer(interval=STUCK_INTERVAL)
    async def report_stuck_sagas():
        stuck = {row[0]: row for row in state.snapshot().stuck}
        for order_id in stuck.keys() - reported:
            waiting = [w for w in _waits(state, order_id) if w["stuck"]]
            log.warning("saga stuck: %s", "; ".join(w["cause"] or w["text"] for w in waiting),
                        extra={"order_id": order_id, "status": stuck[order_id][1]})
        reported.intersection_update(stuck)
        reported.update(stuck)

    @app.timer(interval=max(1.0, min(30.0, settings.monitor_retention_seconds / 10)))
    async def expire_finished_sagas():
        state.expire()

    add_routes(app, state, settings.allowed_hosts)
    return app, state


def _credentials(settings: Settings) -> faust.SASLCredentials | None:
    """Secure mode (docs/security.md): the same principal and CA as every other client."""
    if settings.kafka_security_protocol != "SASL_SSL":
        return None
    options = settings.client_options()
    return faust.SASLCredentials(username=options["sasl_plain_username"],
                                 password=options["sasl_plain_password"],
                                 mechanism=options["sasl_mechanism"],
                                 ssl_context=options["ssl_context"])


def _waits(state: MonitorState, order_id: str) -> list[dict]:
    record = state.get(order_id)
    if record is None:
        return []
    return row(order_id, record, state.clock(), state.deadlines,
               state.decisions.by_letter)["waiting_for"]
