"""faust's Kafka transport, minus four asyncio tasks per message delivered to the stream.

faust's consumer hands each fetched message to the streams with
``await self.wait_first(on_message(message), self.suspend_flow.wait())``: the delivery races a
rebalance's suspension (and the consumer's stop), so that a delivery waiting for room (a full
stream buffer, a full producer buffer, flow control during a rebalance) is abandoned when the
partitions move. The race takes four tasks and an ``asyncio.wait`` per message; py-spy had it
at 14 % of the monitor's CPU in a burst, more than the monitor's own fold.

A delivery that cannot wait needs no race: every ``await`` in it returns at once, and nothing
else runs meanwhile. So :meth:`Consumer.wait_first` awaits a delivery directly when flow
control is open, the producer's buffer is within its limit, the conductor's lock is free and
every stream buffer has room — the only places faust's ``on_message`` can wait — and races it
as faust does otherwise.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as kafka_driver
from mode.services import WaitResults


class Consumer(kafka_driver.Consumer):
    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        if (timeout is None and len(coros) == 2 and self._is_delivery(coros[0])
                and self._delivery_cannot_wait()):
            delivery, suspended = coros
            suspended.close()  # the suspension's wait, never started
            return WaitResults([delivery], [await delivery], False)
        return await super().wait_first(*coros, timeout=timeout)

    def _is_delivery(self, coro: Any) -> bool:
        code = getattr(self.callback, "__code__", None)
        return code is not None and getattr(coro, "cr_code", None) is code

    def _delivery_cannot_wait(self) -> bool:
        app = self.app
        buffer = app.producer.buffer
        return (app.flow_control.is_active() and buffer.size <= buffer.max_messages
                and not app.topics._tp_to_callback_lock.locked()
                and not any(channel.queue.full() for channel in app.topics))


class Transport(kafka_driver.Transport):
    Consumer = Consumer


class App(faust.App):
    """A faust app whose consumer delivers without a race where none is needed."""

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)
