"""Static membership: the group keeps a service's partitions — and its assignment — across a
restart. A member the group kept an assignment for that lacks one of its topics (an earlier
version read fewer; a broker had not heard of a new topic yet) asks for a new one."""

from aiokafka import AIOKafkaConsumer

from devtools.orders import BALANCES, STOCK, order_body
from payment_service.handlers import SERVICE as PAYMENT
from shared.runtime.topics import ensure_topics


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

