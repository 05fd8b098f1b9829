"""A steady stream of happy-path orders, straight onto ``OrderCreated``, for as long as a
measurement needs it, and when each one completed.

Runs in a thread of its own (its own event loop), so that the caller may kill, freeze and
restart processes meanwhile. Like `make bench`, times come from Kafka's record timestamps:
``OrderCreated`` as sent here → ``OrderCompleted`` as the order service's relay sent it. Orders
bypass the order API, so the order service's own restarts do not stop them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from devtools.benchkit import OrderStream
from shared.settings import Settings


class SteadyLoad:
    def __init__(self, settings: Settings, rate: float, *, settle: float = 120.0,
                 say: Callable[[str], None] = lambda message: None) -> None:
        self.settings, self.rate, self.settle, self.say = settings, rate, settle, say
        #: order id → OrderCreated / OrderCompleted record timestamp, milliseconds.
        self.created: dict[str, int] = {}
        self.completed: dict[str, int] = {}
        #: Sends the broker never acknowledged (each also a saga that never started).
        self.unsent = 0
        self._stopping = threading.Event()
        self._running = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        if not self._running.wait(60) or self._error:
            raise RuntimeError(f"the steady load did not start: {self._error!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop sending; wait until every order completed, or none did for ``settle`` s."""
        self._stopping.set()
        self._thread.join()

    def latencies_ms(self, since: float = 0.0, until: float = float("inf")) -> list[float]:
        """Created → completed, for orders created between these wall-clock seconds."""
        return [self.completed[o] - t for o, t in self.created.items()
                if since * 1000 <= t < until * 1000 and o in self.completed]

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.created) - set(self.completed))

    async def _run(self) -> None:
        try:
            async with OrderStream(self.settings, self.say) as stream:
                self.completed = stream.completed  # filled by the stream while it is open
                self._running.set()
                await self._send(stream)
                await self._until_completed()
        except BaseException as error:
            self._error = error
            self._running.set()
            raise

    async def _send(self, stream: OrderStream) -> None:
        tag, started, n = f"steady{int(time.time())}", time.perf_counter(), 0
        pending: list[asyncio.Future] = []
        while not self._stopping.is_set():
            delay = started + n / self.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            order_id = f"{tag}-{n:06d}"
            sent = await stream.send(order_id, n)
            sent.add_done_callback(lambda future, o=order_id: self._created(o, future))
            pending = [future for future in pending if not future.done()] + [sent]
            n += 1
        await asyncio.gather(*pending, return_exceptions=True)  # every order known, or unsent
        await asyncio.sleep(0)  # and every done-callback run

    def _created(self, order_id: str, future: asyncio.Future) -> None:
        if not future.cancelled() and future.exception() is None:
            self.created[order_id] = future.result().timestamp
        else:
            self.unsent += 1

    async def _until_completed(self) -> None:
        last, changed = -1, time.monotonic()
        while self.missing and time.monotonic() - changed < self.settle:
            if len(self.completed) != last:
                last, changed = len(self.completed), time.monotonic()
            await asyncio.sleep(0.2)
        if self.missing:
            self.say(f"{len(self.missing)} orders did not complete within {self.settle:.0f}s "
                     "of the last completion")
