"""`python -m devtools.monitor_fold_cpu --sagas 5000`: the saga monitor's CPU per saga for reading,
folding and its changelog records, in one process, without Kafka or faust's consumer.

The events of that many synthetic sagas (four in five along the happy path, one in five along
the no-carrier path, as ``devtools.monitor_memory`` publishes them) are encoded, spread over
the partitions by order id and interleaved as a burst delivers them, ``--rate`` new sagas a
second. Each message is read (``saga_monitor.reading``) and folded by the monitor's
``MonitorState``: a batch of ``BATCH_EVENTS`` at a time with a write every ``WRITE_SECONDS`` of
the burst when the monitor has ``fold_batch``; one message at a time, each change a changelog
record (what faust's ``Table.__setitem__`` sends), when it has not (the monitor before the batch
fold). Every changelog record is serialized with the table's codec, as faust does before its
producer; faust's per-message consumer and producer paths are not in the figure, so the saving
it shows is a lower bound. CPU is ``time.process_time``. Prints one line, e.g.
``monitor_fold: mode=batch sagas=5000 events=31000 records=... cpu_ms_per_saga=...``.

Before/after in one checkout's terms: run it here, then with ``PYTHONPATH=<other checkout>``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import zlib
from datetime import UTC, datetime, timedelta

from devtools.synthetic_sagas import HAPPY, NO_CARRIER, saga
from saga_monitor import app as monitor_app
from saga_monitor import reading
from saga_monitor.progress import FINISHED
from saga_monitor.state import MonitorState
from shared.events import encode
from shared.settings import Settings


class Store:
    """A faust table's ``data``: its store alone, with no changelog record."""

    def __init__(self, table: dict) -> None:
        self.table = table

    def __setitem__(self, key, value) -> None:
        dict.__setitem__(self.table, key, value)

    def __delitem__(self, key) -> None:
        dict.__delitem__(self.table, key)


class CountingTable(dict):
    """What the monitor uses of its faust table, each changelog record serialized and counted."""

    def __init__(self) -> None:
        super().__init__()
        self.data, self.changelog_topic, self.records = Store(self), self, 0
        self.codec = monitor_app.RecordCodec()

    def __setitem__(self, key, value) -> None:  # the per-event monitor: faust's on_key_set
        super().__setitem__(key, value)
        self.send_changelog(None, key, value)

    def send_changelog(self, partition, key, value, value_serializer=None) -> None:
        if value is not None:
            self.codec.dumps(value)
        self.records += 1

    async def send(self, *, key, value, partition, force, value_serializer) -> None:
        self.send_changelog(partition, key, value)


def messages(count: int, partitions: int, rate: float) -> list[tuple]:
    """(arrival second, topic, partition, offset, key, value) of every event, by arrival."""
    start, out = datetime.now(UTC) - timedelta(hours=1), []
    for n in range(count):
        order_id = f"cpu-{n:07d}"
        partition = zlib.crc32(order_id.encode()) % partitions
        begun = start + timedelta(seconds=n / rate)
        for event in saga(order_id, NO_CARRIER if n % 5 == 4 else HAPPY, start=begun,
                          step=0.05):
            arrival = (event.occurred_at - start).total_seconds()
            out.append((arrival, event.event_type, partition, len(out),
                        order_id.encode(), encode(event)))
    return sorted(out, key=lambda message: message[0])


def items(batch: list[tuple], max_bytes: int):
    for _, topic, partition, offset, key, value in batch:
        for item in reading.read(topic, partition, offset, key, value, None, timestamp=0.0,
                                 max_bytes=max_bytes):
            yield item, partition


def fold_all(state: MonitorState, burst: list[tuple], max_bytes: int) -> str:
    if not hasattr(state, "fold_batch"):
        for item, partition in items(burst, max_bytes):
            state.fold(item, partition)
        return "per-event"
    written_at = 0.0
    for start in range(0, len(burst), monitor_app.BATCH_EVENTS):
        batch = burst[start:start + monitor_app.BATCH_EVENTS]
        state.fold_batch(items(batch, max_bytes))
        if batch[-1][0] - written_at >= monitor_app.WRITE_SECONDS:
            asyncio.run(state.write())
            written_at = batch[-1][0]
    asyncio.run(state.write())
    return "batch"


def main(sagas: int, rate: float) -> None:
    settings = Settings(monitor_retention_seconds=86400, stall_after_seconds=86400)
    burst = messages(sagas, settings.topic_partitions, rate)
    table = CountingTable()
    state = MonitorState(settings, table)
    started = time.process_time()
    mode = fold_all(state, burst, settings.max_message_bytes)
    cpu = time.process_time() - started
    assert sum(1 for _, record in table.items() if record[FINISHED] is not None) == sagas
    print(f"monitor_fold: mode={mode} sagas={sagas} events={len(burst)} "
          f"records={table.records} cpu_ms_per_saga={cpu / sagas * 1e3:.3f} "
          f"cpu_us_per_event={cpu / len(burst) * 1e6:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=400.0,
                        help="new sagas a second in the burst (the mesh's burst rate)")
    arguments = parser.parse_args()
    main(arguments.sagas, arguments.rate)
