"""Garbage on every topic: no service dies, every bad message is dead-lettered with its origin,
and the valid sagas running at the same time still finish correctly."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.invariants import violations
from devtools.orders import BALANCES, STOCK, order_body
from participants import SERVICES
from sagactl.kafka import publish_raw, read_topics
from shared.choreography import consumers_of
from shared.deadletters import DLT_SUFFIX
from shared.events import CATALOG, RejectedMessage, decode, encode
from shared.events.examples import example_event

pytestmark = pytest.mark.integration

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)


@st.composite
def envelope_like(draw) -> bytes:
    """Looks like an event, with a payload of random fields: invalid almost always."""
    return json.dumps({"event_id": draw(st.text(max_size=12)),
                       "event_type": draw(st.sampled_from(list(CATALOG))),
                       "order_id": draw(st.text(max_size=12)),
                       "payload": draw(st.dictionaries(st.text(max_size=10), json_values,
                                                       max_size=4))}).encode()


@st.composite
def from_the_future(draw) -> bytes:
    raw = json.loads(encode(example_event(draw(st.sampled_from(list(CATALOG.values()))))))
    raw["schema_version"] = draw(st.integers(min_value=2, max_value=99))
    return json.dumps(raw).encode()


garbage = st.one_of(
    st.binary(max_size=4000),
    json_values.map(lambda value: json.dumps(value).encode()),
    envelope_like(),
    from_the_future(),
    st.integers(min_value=65 * 1024, max_value=90 * 1024).map(lambda size: b"x" * size),
    # deeper than the JSON parser goes, and an integer beyond Python's 4,300 digits
    st.integers(min_value=1000, max_value=3000).map(lambda depth: b"[" * depth),
    st.integers(min_value=4301, max_value=6000).map(
        lambda digits: b'{"event_id": "x", "payload": ' + b"9" * digits + b"}"),
)
#: Headers as other clients send them, values missing (null) among them.
headers = st.lists(st.tuples(st.sampled_from(["traceparent", "x-other"]),
                             st.none() | st.binary(max_size=60)), max_size=3)
poison_batch = st.lists(st.tuples(st.sampled_from(list(CATALOG)),
                                  st.none() | st.binary(min_size=1, max_size=16), garbage,
                                  headers),
                        min_size=5, max_size=20)


def _rejected(topic: str, value: bytes) -> bool:
    try:
        decode(value, expected_type=topic)
    except RejectedMessage:
        return True
    return False


async def _dead_letters(mesh) -> set[tuple[str, str, str, str]]:
    letters = set()
    async for record in read_topics(mesh.tool, [t + DLT_SUFFIX for t in CATALOG], follow=False,
                                    from_beginning=True):
        headers = {k: v.decode() for k, v in record.headers}
        letters.add((headers["dlt.source.topic"], headers["dlt.source.partition"],
                     headers["dlt.source.offset"], headers["dlt.service"]))
    return letters


@pytest.fixture
async def running(mesh):
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    return mesh


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=poison_batch)
async def test_garbage_on_any_topic_is_dead_lettered_and_sagas_still_finish(running, batch):
    landed = await publish_raw(running.tool, batch)
    happy = await running.place_order(order_body(quantity=1))
    declined = await running.place_order(order_body(customer="bob", quantity=1))
    orders = await running.wait_until_final(happy, declined)

    assert (orders[happy]["status"], orders[declined]["status"]) == ("COMPLETED", "CANCELLED")
    expected = {(topic, str(where.partition), str(where.offset), service.name)
                for (topic, _, value, _), where in zip(batch, landed, strict=True)
                if _rejected(topic, value)
                for service in SERVICES if service.name in consumers_of(CATALOG[topic], SERVICES)}
    assert expected, "the batch should hold at least one message no service can read"

    async def all_dead_lettered():
        return expected <= await _dead_letters(running)
    await running.wait_for_async(all_dead_lettered, timeout=30)
    assert all(running.running(name) for name in running.runtimes), "a service died"
    assert violations(running.data_dir) == []
