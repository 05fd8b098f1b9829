"""The monitor's priority (SAGA_MONITOR_NICE): taken before any thread starts, so that every
thread of it runs at that nice value; refused, it says so and runs on."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import saga_monitor.__main__ as entry

# In a process of its own: the test process's priority stays as it is. A higher nice value
# than the current one needs no privilege, so this runs anywhere.
PROBE = textwrap.dedent("""
    import os, threading
    from saga_monitor.__main__ import take_priority

    def nice_of_this_thread():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    take_priority(os.getpriority(os.PRIO_PROCESS, 0) + 7)
    seen = []
    worker = threading.Thread(target=lambda: seen.append(nice_of_this_thread()))
    worker.start(); worker.join()
    print(os.getpriority(os.PRIO_PROCESS, 0) - os.getpriority(os.PRIO_PROCESS, os.getppid()),
          seen[0] - os.getpriority(os.PRIO_PROCESS, os.getppid()))
""")


def test_the_monitor_and_every_thread_it_starts_run_at_the_nice_value_it_is_given():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.split() == ["7", "7"], done.stderr


def test_a_monitor_refused_a_higher_priority_says_so_and_runs_on(monkeypatch, caplog):
    def refuse(which, who, nice):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(entry.os, "setpriority", refuse)
    current = os.getpriority(os.PRIO_PROCESS, 0)
    with caplog.at_level(logging.WARNING, logger=entry.__name__):
        entry.take_priority(current - 10)
    assert os.getpriority(os.PRIO_PROCESS, 0) == current
    assert [r.getMessage() for r in caplog.records] == [
        f"saga monitor runs at nice {current}, not {current - 10} (SAGA_MONITOR_NICE): a higher "
        "priority needs CAP_SYS_NICE or RLIMIT_NICE, and in a burst that keeps every core busy "
        "its counts may trail the topics"]


def test_a_monitor_already_at_its_nice_value_changes_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(entry.os, "setpriority", lambda *args: calls.append(args))
    entry.take_priority(os.getpriority(os.PRIO_PROCESS, 0))
    assert calls == []
