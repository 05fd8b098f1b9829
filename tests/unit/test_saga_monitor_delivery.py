"""How the monitor's faust consumer hands a message to its stream (``saga_monitor.delivery``),
without a broker: the monitor's own app and consumer, with the delivery callback standing in
for faust's ``on_message`` (the consumer calls whatever callback it was given)."""

from __future__ import annotations

import asyncio

import pytest

from saga_monitor.app import create_app
from shared.settings import Settings


@pytest.fixture
def app(tmp_path):
    app, _ = create_app(Settings(service_name="saga_monitor",
                                 database_path=tmp_path / "saga_monitor.db"))
    return app


def counting_tasks(loop: asyncio.AbstractEventLoop) -> list:
    created: list = []

    def factory(loop, coro):
        created.append(coro)
        return asyncio.Task(coro, loop=loop)

    loop.set_task_factory(factory)
    return created


async def test_a_delivery_that_cannot_wait_is_handed_over_without_a_task(app):
    consumer, delivered = app.consumer, []

    async def on_message(message):
        delivered.append(message)

    consumer.callback = on_message
    app.flow_control.resume()  # the partitions are assigned: messages flow
    tasks = counting_tasks(asyncio.get_running_loop())

    result = await consumer.wait_first(on_message("m1"), consumer.suspend_flow.wait())

    assert delivered == ["m1"] and not result.stopped
    assert tasks == []  # faust's race: four tasks per message


async def test_a_delivery_that_may_wait_still_gives_way_to_a_rebalance(app):
    consumer, delivered = app.consumer, []

    async def on_message(message):
        await app.flow_control.acquire()  # as faust's on_message does first
        delivered.append(message)

    consumer.callback = on_message
    app.flow_control.suspend()  # a rebalance is under way: a delivery now would wait
    racing = asyncio.ensure_future(
        consumer.wait_first(on_message("m1"), consumer.suspend_flow.wait()))
    await asyncio.sleep(0.05)
    assert not racing.done()

    consumer.suspend_flow.set()
    await asyncio.wait_for(racing, 2)

    app.flow_control.resume()
    await asyncio.sleep(0.05)
    assert delivered == []  # abandoned, not delivered once the flow resumes


async def test_a_delivery_to_a_full_stream_buffer_races_as_faust_does(app):
    consumer = app.consumer
    app.flow_control.resume()
    channel = app.topic("OrderCreated")
    app.topics.add(channel)  # as the agent's stream does when it starts
    for n in range(channel.queue.maxsize):
        channel.queue.put_nowait(n)
    tasks = counting_tasks(asyncio.get_running_loop())

    async def on_message(message):
        pass

    consumer.callback = on_message
    await consumer.wait_first(on_message("m1"), consumer.suspend_flow.wait())

    assert len(tasks) == 4  # the delivery, the suspension, the consumer's stop and crash
