"""Deliberate faults for testing the guarantees: crash points and transient failures.

Both are off unless configured (``SAGA_CRASH_POINT``, ``SAGA_FAULT_RATE``).
A crash point kills the process with SIGKILL — no finally blocks, no flushing —
exactly like the kernel's OOM killer or ``kill -9`` would.
"""

from __future__ import annotations

import logging
import os
import random
import signal

from shared.errors import TransientError

log = logging.getLogger(__name__)

CRASH_POINTS = (
    "after_local_commit",      # state + outbox committed, nothing published yet
    "after_publish",           # broker acknowledged, outbox row not yet marked sent
    "before_offset_commit",    # handled and committed locally, Kafka offset not committed
    "during_compensation",     # inside a compensating transaction, before it commits
    "inside_group_commit",     # some events of a batch applied, before COMMIT
)


class TransientFailure(TransientError):
    """An injected failure worth retrying, as a timeout or an unavailable dependency is."""


class CrashPoints:
    """``point`` or ``point:EventType`` — crash there (only where that event type is involved:
    handled, published, or emitted as a compensation)."""

    def __init__(self, spec: str | None) -> None:
        self.point, _, self.event_type = (spec or "").partition(":")
        if self.point and self.point not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {self.point!r}; choose from {CRASH_POINTS}")

    def reached(self, point: str, *event_types: str) -> None:
        if point != self.point or (self.event_type and self.event_type not in event_types):
            return
        log.warning("crash point reached, killing the process", extra={"crash_point": point})
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)


class FaultInjector:
    """Raises :class:`TransientFailure` with probability ``rate`` on each call."""

    def __init__(self, rate: float = 0.0, rng: random.Random | None = None) -> None:
        self.rate = rate
        self.rng = rng or random.Random()

    def maybe_fail(self, what: str) -> None:
        if self.rate and self.rng.random() < self.rate:
            raise TransientFailure(f"injected transient failure in {what}")
