"""`python -m devtools.monitor_pass --sagas 10000`: the CPU of one pass of the saga monitor's
overview (``saga_monitor.stats.take``) over that many sagas, as in a burst.

Half of the synthetic sagas are finished (four in five along the happy path, one in five along
the no-carrier path), half still running after their first three events; every one of them
started two seconds ago, so none is stuck. The pass runs ``--passes`` times; CPU is
``time.process_time``. Prints one line, e.g. ``monitor_pass: sagas=10000 min_ms=... median_ms=...``.

Before/after in one checkout's terms: run it here, then with ``PYTHONPATH=<other checkout>``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from devtools.monitor_fold_cpu import CountingTable
from devtools.synthetic_sagas import HAPPY, NO_CARRIER, saga
from saga_monitor.state import MonitorState
from saga_monitor.stats import take
from shared.settings import Settings


def filled(sagas: int, started: datetime) -> MonitorState:
    state = MonitorState(Settings(), CountingTable())
    for n in range(sagas):
        events = saga(f"ord-{n:07d}", NO_CARRIER if n % 5 == 4 else HAPPY, start=started)
        for event in events if n % 2 else events[:3]:
            state.fold(event, partition=n % 3)
    return state


def main(sagas: int, passes: int) -> int:
    started = datetime.now(UTC)
    state = filled(sagas, started)
    now = started.timestamp() + 2.0
    spent = []
    for _ in range(passes):
        begun = time.process_time()
        take(state.items(), now, state.deadlines, state.window)
        spent.append((time.process_time() - begun) * 1000)
    print(f"monitor_pass: sagas={sagas} min_ms={min(spent):.1f} "
          f"median_ms={statistics.median(spent):.1f}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=7)
    args = parser.parse_args()
    raise SystemExit(main(args.sagas, args.passes))
