"""Waiting for an outcome outside an event loop (processes, containers): one polling helper."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(condition: Callable[[], Any], timeout: float = 90, what: str = "condition",
          interval: float = 0.5) -> Any:
    """The first truthy result of ``condition``; TimeoutError naming ``what`` if none in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s")
