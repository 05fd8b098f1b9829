"""The arithmetic behind `make bench`'s figures: the monitor's trail, CPU per saga, the summary
line — without a broker."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC, datetime

from devtools.benchkit import nice_of, per_saga_ms, percentile
from devtools.benchmetrics import last_line
from devtools.benchmonitor import trail

T = 1_000_000.0  # seconds since the epoch; record timestamps are in ms


def ms(seconds: float) -> int:
    return int((T + seconds) * 1000)


def test_a_monitor_that_counts_each_saga_when_it_completes_trails_by_nothing():
    completed = [ms(1), ms(2), ms(3)]
    samples = [(T + 1, 1), (T + 2, 2), (T + 3, 3)]

    found = trail(completed, samples)

    assert (found.worst_s, found.median_s, found.caught_up) == (0.0, 0.0, True)


def test_the_trail_is_the_worst_wait_from_a_completion_until_the_monitor_counts_that_many():
    completed = [ms(3.0), ms(1.0), ms(1.5), ms(2.0)]  # any order: ranked by timestamp
    samples = [(T + 1.2, 0), (T + 2.0, 1), (T + 4.0, 3), (T + 4.5, 4)]

    found = trail(completed, samples)

    # 1st (t=1.0) counted at 2.0; 2nd (1.5) and 3rd (2.0) at 4.0; 4th (3.0) at 4.5
    assert found.worst_s == 2.5
    assert found.median_s == 1.5  # trails 1.0, 2.5, 2.0, 1.5: nearest-rank p50
    assert found.caught_up


def test_a_monitor_that_never_counts_every_saga_gives_a_lower_bound_until_the_last_sample():
    found = trail([ms(1), ms(2)], [(T + 1.5, 1), (T + 10.0, 1)])

    assert found.worst_s == 8.0 and not found.caught_up
    assert str(found) == ">8.00"


def test_no_samples_of_a_monitor_give_no_figure_and_no_completions_trail_by_nothing():
    assert math.isnan(trail([ms(1)], []).worst_s)
    assert not trail([ms(1)], []).caught_up
    assert trail([], [(T, 0)]).caught_up


def test_cpu_per_saga_is_milliseconds_per_completed_saga_and_survives_none_completed():
    assert per_saga_ms(2.09, 1000) == 2.09
    assert per_saga_ms(0.5, 0) == 500.0


def test_percentile_is_nearest_rank():
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 99) == 4.0
    assert math.isnan(percentile([], 50))


def run(sagas_per_s: float, cpu_ms: float, monitor: dict | None) -> dict:
    return {"burst": {"sagas_per_s": sagas_per_s, "cpu_ms_per_saga": cpu_ms},
            "rates": {"200": {"p50": 40.0, "p99": 90.0}}, "peak_rss_mb": {"order": 80.0},
            "monitor": monitor}


def report(**runs: dict) -> dict:
    return {"rates": [200.0], "raw_hop_ms": {"p50": 2.0}, "runs": runs}


def test_the_bench_line_ends_with_cpu_baseline_and_monitor_fields_in_a_fixed_order():
    monitor = {"lag_s": 1.234, "caught_up": True, "cpu_ms_per_saga": 0.9}
    line = last_line(report(baseline=run(480.0, 2.09, None), current=run(800.0, 1.0, monitor)))

    assert line.endswith(" cpu_ms_per_saga=1 baseline_sagas_per_s=480 "
                         "baseline_cpu_ms_per_saga=2.09 monitor_lag_s=1.23 "
                         "monitor_cpu_ms_per_saga=0.9")
    assert line.startswith("bench: sagas_per_s=800 p50_ms@200=40 p99_ms@200=90 ")


def test_without_a_baseline_or_a_monitor_figure_the_bench_line_says_dash():
    late = {"lag_s": 12.5, "caught_up": False, "cpu_ms_per_saga": 3.0}

    assert "baseline_sagas_per_s=- baseline_cpu_ms_per_saga=- monitor_lag_s=>12.50" in \
        last_line(report(current=run(800.0, 1.0, late)))
    assert last_line(report(current=run(800.0, 1.0, None))).endswith(
        "monitor_lag_s=- monitor_cpu_ms_per_saga=-")


def test_the_nice_value_of_a_process_is_read_from_proc():
    niced = subprocess.Popen(["nice", "-n", "5", sys.executable, "-c", "print(); input()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        niced.stdout.readline()  # python runs: nice has set the value and gone
        assert nice_of(niced.pid) == os.getpriority(os.PRIO_PROCESS, 0) + 5
        assert nice_of(os.getpid()) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        niced.communicate(b"\n", timeout=30)


def test_the_overview_pass_is_timed_over_sagas_half_finished_half_running(capsys):
    from devtools import monitor_pass

    state = monitor_pass.filled(10, datetime.now(UTC))
    assert state.stats()["by_status"] == {"running": 5, "compensating": 0, "completed": 4,
                                          "cancelled": 1}
    assert monitor_pass.main(10, 2) == 0
    assert capsys.readouterr().out.startswith("monitor_pass: sagas=10 min_ms=")
