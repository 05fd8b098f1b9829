"""The wire contract: what is accepted, what is rejected, and why."""

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.events import (
    CATALOG,
    Event,
    OrderCreated,
    StockAdded,
    decode,
    encode,
)
from shared.events.codec import (
    InvalidEvent,
    MalformedMessage,
    OversizedMessage,
    RejectedMessage,
    UnknownEventType,
    UnsupportedSchemaVersion,
)
from shared.events.examples import EXAMPLES, example_event
from tests.support.builders import event, order_created


def _raw(evt: Event) -> dict:
    return json.loads(encode(evt))


def test_an_event_survives_the_round_trip_through_json():
    original = event(order_created())
    assert decode(encode(original), expected_type="OrderCreated") == original


def test_a_decoded_event_equals_the_plain_envelope_with_its_fields_and_only_that():
    original = event(order_created())
    decoded = decode(encode(original), expected_type="OrderCreated")  # the typed envelope
    assert original == decoded and hash(original) == hash(decoded)
    assert decoded != original.model_copy(update={"producer": "someone else"})
    assert decoded != original.payload


def test_money_travels_as_a_decimal_string():
    raw = _raw(event(order_created(lines={"WIDGET-1": (3, "0.10")})))
    assert raw["payload"]["items"][0]["unit_price"] == "0.10"
    assert raw["payload"]["total"] == "0.30"


def test_a_float_price_is_rejected_rather_than_rounded():
    raw = _raw(event(order_created()))
    raw["payload"]["items"][0]["unit_price"] = 9.95
    with pytest.raises(InvalidEvent, match="decimal string"):
        decode(json.dumps(raw).encode())


def test_unknown_fields_are_tolerated_and_the_total_is_recomputed():
    raw = _raw(event(order_created(lines={"WIDGET-1": (2, "9.95")})))
    raw["added_by_a_newer_producer"] = True
    raw["payload"]["total"] = "0.01"
    decoded = decode(json.dumps(raw).encode())
    assert decoded.payload.total == Decimal("19.90")


def test_an_order_may_name_each_sku_only_once():
    with pytest.raises(ValueError, match="only once"):
        OrderCreated.model_validate({**order_created().model_dump(mode="json"),
                                     "items": [{"sku": "A", "quantity": 1, "unit_price": "1"},
                                               {"sku": "A", "quantity": 2, "unit_price": "1"}]})


def test_saga_events_need_an_order_id_but_reference_data_does_not():
    with pytest.raises(ValueError, match="needs an order_id"):
        Event.new(order_created(), order_id=None)
    stock = Event.new(StockAdded(sku="WIDGET-1", quantity=5))
    assert stock.order_id is None and stock.key == "WIDGET-1"


def test_event_ids_are_uuid7s_in_hex_unique_and_ordered_by_time(monkeypatch):
    import time
    import uuid

    ids = [event(order_created()).event_id for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(hex=ids[0])
    assert (len(ids[0]), parsed.version, parsed.variant) == (32, 7, uuid.RFC_4122)
    now = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: now + 1_000_000)  # a millisecond later
    later = event(order_created()).event_id
    assert later > max(ids) and uuid.UUID(hex=later).version == 7


def test_a_follow_up_event_records_what_caused_it():
    cause = event(order_created(), order_id="ord-7")
    effect = cause.follow_up(StockAdded(sku="X", quantity=1), producer="inventory_service")
    assert (effect.causation_id, effect.producer) == (cause.event_id, "inventory_service")


@pytest.mark.parametrize(("value", "rejection", "reason"), [
    (b"{not json", MalformedMessage, "not valid UTF-8 JSON (JSONDecodeError)"),
    (b"\xff\xfe", MalformedMessage, "not valid UTF-8 JSON (JSONDecodeError)"),
    (b'{"a": "\x80"}', MalformedMessage, "not valid UTF-8 JSON (UnicodeDecodeError)"),
    (b"[1, 2]", MalformedMessage, "expected a JSON object, got list"),
    (None, MalformedMessage, "empty message (tombstone)"),
    (b'{"event_type": "OrderTeleported", "payload": {}}', UnknownEventType,
     "unknown event_type 'OrderTeleported'"),
    (b'{"event_id": "e-1", "event_type": "OrderCreated", "payload": {}}', InvalidEvent,
     "OrderCreated: payload.customer_id: Field required; payload.items: Field required; "
     "payload.shipping_address: Field required"),
    (b'{"event_type": "OrderCreated", "payload": {}}', InvalidEvent,
     "OrderCreated: event_id is required (a string, unique per event)"),
])
def test_undecodable_messages_are_rejected_with_a_reason(value, rejection, reason):
    with pytest.raises(rejection) as rejected:
        decode(value)
    assert rejected.value.reason == reason


@pytest.mark.parametrize("event_type", [None, 42, ["OrderCreated"], "X" * 65])
def test_a_missing_or_odd_event_type_is_unknown_and_not_echoed(event_type):
    raw = json.dumps({"event_type": event_type, "payload": {}}).encode()
    if event_type is None:
        raw = b'{"payload": {}}'
    with pytest.raises(UnknownEventType) as rejected:
        decode(raw)
    assert rejected.value.reason == "unknown event_type '?'"


def test_an_unknown_event_type_of_up_to_64_characters_is_named():
    with pytest.raises(UnknownEventType) as rejected:
        decode(json.dumps({"event_type": "X" * 64}).encode())
    assert rejected.value.reason == f"unknown event_type '{'X' * 64}'"


def test_beyond_three_problems_the_reason_says_how_many_more():
    raw = {"event_id": "e-1", "event_type": "OrderCreated", "payload": {"shipping_address": {}}}
    with pytest.raises(InvalidEvent) as rejected:
        decode(json.dumps(raw).encode())
    assert rejected.value.reason == (
        "OrderCreated: payload.customer_id: Field required; payload.items: Field required; "
        "payload.shipping_address.name: Field required (+3 more)")


def test_a_valid_payload_in_an_invalid_envelope_is_rejected_naming_the_envelope_field():
    raw = _raw(event(order_created()))
    raw["occurred_at"] = "yesterday"
    with pytest.raises(InvalidEvent) as rejected:
        decode(json.dumps(raw).encode())
    assert rejected.value.reason.startswith("OrderCreated: occurred_at: ")


def test_an_order_event_without_its_order_is_rejected_as_a_whole_message():
    raw = _raw(event(order_created()))
    raw["order_id"] = None
    with pytest.raises(InvalidEvent) as rejected:
        decode(json.dumps(raw).encode())
    assert rejected.value.reason == "OrderCreated: message: Value error, OrderCreated needs an order_id"


def test_a_newer_schema_version_is_rejected_not_misread():
    raw = _raw(event(order_created()))
    raw["schema_version"] = 2
    with pytest.raises(UnsupportedSchemaVersion, match="newer than the supported 1"):
        decode(json.dumps(raw).encode())


def test_an_oversized_message_is_rejected_before_parsing():
    with pytest.raises(OversizedMessage, match="exceeds the 1024-byte limit"):
        decode(b" " * 2000, max_bytes=1024)


def test_an_event_on_another_types_topic_is_rejected():
    with pytest.raises(InvalidEvent, match="published on the 'StockReserved' topic"):
        decode(encode(event(order_created())), expected_type="StockReserved")


def test_rejection_reasons_do_not_echo_payload_data():
    raw = _raw(event(order_created(customer="secret-customer-7")))
    raw["payload"]["items"][0]["quantity"] = -1
    with pytest.raises(InvalidEvent) as rejected:
        decode(json.dumps(raw).encode())
    assert "secret-customer-7" not in rejected.value.reason


def test_every_event_type_has_a_valid_example():
    assert set(EXAMPLES) == set(CATALOG.values())
    for payload_type in CATALOG.values():
        example = example_event(payload_type)
        assert decode(encode(example), expected_type=payload_type.event_type()) == example


def test_an_event_without_its_own_id_is_rejected_so_redeliveries_stay_recognisable():
    raw = json.loads(encode(event(order_created())))
    del raw["event_id"]
    with pytest.raises(InvalidEvent, match="event_id is required"):
        decode(json.dumps(raw).encode())


@pytest.mark.parametrize(("field", "value"), [("schema_version", "2"), ("schema_version", True)])
def test_envelope_fields_have_strict_types(field, value):
    raw = {**json.loads(encode(event(order_created()))), field: value}
    with pytest.raises(InvalidEvent, match=field):
        decode(json.dumps(raw).encode())


def test_a_quantity_must_arrive_as_a_whole_number_not_a_string_or_a_boolean():
    for quantity in ("2", True):
        raw = json.loads(encode(event(StockAdded(sku="A-1", quantity=2))))
        raw["payload"]["quantity"] = quantity
        with pytest.raises(InvalidEvent, match="quantity"):
            decode(json.dumps(raw).encode())


def test_an_order_whose_total_no_amount_can_hold_is_rejected():
    raw = json.loads(encode(event(order_created())))
    raw["payload"]["items"] = [{"sku": "A-1", "quantity": 1000, "unit_price": "99999999.99"}]
    with pytest.raises(InvalidEvent, match="exceeds the largest amount"):
        decode(json.dumps(raw).encode())


def _step_by_step(value: bytes, topic: str) -> Event | str:
    from shared.events.codec import _parse_json, _payload_type, validate
    try:
        raw = _parse_json(value)
        return validate(raw, _payload_type(raw, topic))
    except RejectedMessage as rejected:
        return rejected.kind


_MUTATIONS = st.sampled_from([None, "", 0, 1.5, -1, "x" * 70, [], {}, True, "19.9", "ord 1",
                              "2026-13-01T00:00:00Z"])


@given(name=st.sampled_from(sorted(CATALOG)), field=st.text(max_size=3), path=st.integers(0, 9),
       replacement=_MUTATIONS)
def test_decoding_in_one_pass_accepts_exactly_what_the_step_by_step_path_accepts(
        name, field, path, replacement):
    """The fast path may only say yes where the thorough one says yes, to the same event."""
    raw = json.loads(encode(example_event(CATALOG[name])))
    where = raw if path < 4 else raw["payload"]
    keys = sorted(where) + [field]
    where[keys[path % len(keys)]] = replacement
    value = json.dumps(raw).encode()
    from shared.events.codec import _in_one_pass
    fast, thorough = _in_one_pass(value, name), _step_by_step(value, name)
    assert fast is None or fast == thorough


@pytest.mark.parametrize("amount", ["0", "0.5", "19.90", "9999999999.99", Decimal("19.9")])
def test_money_within_its_bounds_is_taken_as_a_decimal(amount):
    from shared.events import FundsDeposited
    assert FundsDeposited(customer_id="alice", amount=amount).amount == Decimal(amount)


@pytest.mark.parametrize("amount", [19.9, 20, "19.999", "-1.00", "12345678901.00", "1e3", " 1",
                                    "1.", ".5", "NaN", Decimal("-0.01"), Decimal("0.001"),
                                    Decimal("10000000000"), Decimal("Infinity"), True])
def test_money_outside_its_bounds_or_not_a_decimal_string_is_refused(amount):
    from pydantic import ValidationError

    from shared.events import FundsDeposited
    with pytest.raises(ValidationError, match="money"):
        FundsDeposited(customer_id="alice", amount=amount)
