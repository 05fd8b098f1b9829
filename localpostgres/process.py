"""The postmaster as an OS process: which pid is ours, how it stops, how it dies with us.

Guarantees: a pid counts as this state dir's server only while a live (not zombie) ``postgres``
process runs under it with exactly this data directory, so a reused pid or another state dir's
server is never signalled. A stop is PostgreSQL's fast shutdown (SIGINT: sessions end, a
checkpoint is written), then immediate (SIGQUIT), then SIGKILL, each only if the one before
did not end it in time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def is_postmaster(pid: int, data_dir: Path) -> bool:
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return (arguments[0].endswith(b"postgres") and b"-D" in arguments
            and str(data_dir.resolve()).encode() in arguments and state != "Z")


def stop_postmaster(pid: int, data_dir: Path, timeout: float = 30.0) -> None:
    """Fast, then immediate shutdown, then SIGKILL: returns once the postmaster is gone (its
    children leave with it: they watch it and exit when it does)."""
    for signal_number, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0),
                                (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)  # a frozen server cannot act on the signal
            os.kill(pid, signal_number)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_postmaster(pid, data_dir):
                return
            time.sleep(0.05)


def die_with_parent() -> None:
    """For preexec_fn (runs after the switch of user, which would clear it): when the thread
    that started the server dies, the server shuts down at once (SIGQUIT), children included."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)
