"""Starting an aiokafka client without leaking it."""

from __future__ import annotations

import asyncio
import contextlib


async def start_bounded(client, timeout: float) -> None:
    """Start a producer, consumer or admin client within ``timeout`` seconds. A start that
    fails or times out closes the client again: its sockets and background tasks (metadata,
    heartbeats) would otherwise outlive it."""
    try:
        async with asyncio.timeout(timeout):
            await client.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await (client.close() if hasattr(client, "close") else client.stop())
        raise
