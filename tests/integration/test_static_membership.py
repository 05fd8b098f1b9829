"""Static membership: the group keeps a service's partitions — and its assignment — across a
restart. A member the group kept an assignment for that lacks one of its topics (an earlier
version read fewer; a broker had not heard of a new topic yet) asks for a new one."""

import asyncio

from aiokafka import AIOKafkaConsumer

from devtools.orders import BALANCES, STOCK, order_body
from payment_service.handlers import SERVICE as PAYMENT
from shared.runtime.consumer import EventConsumer
from shared.runtime.topics import ensure_topics
from tests.support.admin import admin_client


async def test_a_member_kept_without_one_of_its_topics_gets_every_topic_back(mesh):
    settings = mesh.settings["payment_service"]
    await ensure_topics(mesh.tool)
    consumed = {settings.topic(payload.event_type()) for payload in PAYMENT.consumes}
    # An earlier version read one topic only, and left (static members do not leave) its
    # assignment in the group.
    earlier = AIOKafkaConsumer(sorted(consumed)[0], **settings.client_options(),
                               group_id=settings.consumer_group,
                               group_instance_id=settings.consumer_instance_id)
    await earlier.start()
    while not earlier.assignment():
        await earlier.getmany(timeout_ms=200)
    await earlier.stop()

    await mesh.start()
    runtime = mesh.runtimes["payment_service"]
    await mesh.wait_for(lambda: {tp.topic for tp in runtime.consumer.assigned} == consumed,
                        timeout=60)
    await mesh.seed(STOCK, BALANCES)
    order = await mesh.place_order(order_body(quantity=1))
    assert (await mesh.wait_until_final(order))[order]["status"] == "COMPLETED"



async def test_a_topic_missing_from_the_metadata_for_a_while_is_assigned_again(mesh):
    """A broker of a cluster that had not yet heard of a new topic can answer a metadata request
    without it; the group then assigns without it, and aiokafka would look again only after
    metadata_max_age_ms (5 min). Here the topic goes away and comes back instead."""
    settings = mesh.tool.model_copy(update={"service_name": "comeback-reader"})
    both = {settings.topic("ComebackA"), settings.topic("ComebackB")}
    await ensure_topics(settings, ["ComebackA", "ComebackB"])
    consumer = EventConsumer(settings, ["ComebackA", "ComebackB"], writer=None, processor=None,
                             on_committed=lambda _: None)
    stopping = asyncio.Event()
    running = asyncio.create_task(consumer.run(stopping))
    topics_now = lambda: {tp.topic for tp in consumer.assigned}  # noqa: E731
    try:
        await mesh.wait_for(lambda: topics_now() == both, timeout=60)
        async with admin_client(settings) as admin:
            await admin.delete_topics([settings.topic("ComebackB")])
            await mesh.wait_for(lambda: topics_now() == {settings.topic("ComebackA")},
                                timeout=60)
            while settings.topic("ComebackB") in await admin.list_topics():
                await asyncio.sleep(0.2)
        await ensure_topics(settings, ["ComebackB"])
        await mesh.wait_for(lambda: topics_now() == both, timeout=60)
    finally:
        stopping.set()
        await asyncio.wait_for(running, 60)
