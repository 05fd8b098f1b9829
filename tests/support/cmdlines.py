"""Every command line that runs while a block runs, as any local user could read it in
/proc/<pid>/cmdline: to prove that a secret never appears in one."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path


class CommandLines:
    """Samples /proc every few milliseconds in a thread, from ``with`` to its end; ``seen``
    holds each distinct command line (its arguments joined by spaces)."""

    def __init__(self, every: float = 0.005) -> None:
        self.seen: set[str] = set()
        self._every, self._stop = every, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> CommandLines:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self._every):
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                with contextlib.suppress(OSError):  # the process ended meanwhile
                    self.seen.add(path.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
