"""Older payload versions are upcast on read, in the codec, before validation; never later."""

import json
from decimal import Decimal
from typing import ClassVar

import pytest

from shared.events import CATALOG, Payload, decode, encode
from shared.events.codec import InvalidEvent, UnsupportedSchemaVersion, validate
from shared.events.versions import UPCASTERS, missing_upcasters, upcast, upcaster


class ParcelWeighed(Payload):
    """A test-local event at its third version: v1 said "kilograms" as text, v2 "grams" as a
    number, v3 added the scale's id (required)."""

    schema_version: ClassVar[int] = 3
    parcel_id: str
    grams: int
    scale_id: str


LOCAL: dict = {}


@upcaster("ParcelWeighed", 1, registry=LOCAL)
def _kilograms_to_grams(payload: dict) -> dict:
    payload["grams"] = int(Decimal(payload.pop("kilograms")) * 1000)
    return payload


@upcaster("ParcelWeighed", 2, registry=LOCAL)
def _scale_unknown_before_v3(payload: dict) -> dict:
    return {**payload, "scale_id": "unknown"}


def _raw(version: int | None, payload: dict) -> dict:
    raw = {"event_id": "e-1", "event_type": "ParcelWeighed", "order_id": "ord-1",
           "payload": payload}
    return raw if version is None else {**raw, "schema_version": version}


def test_a_v1_payload_runs_through_every_upcaster_in_turn_and_validates_as_the_current_version():
    event = validate(upcast(_raw(1, {"parcel_id": "p-1", "kilograms": "1.25"}), ParcelWeighed,
                            LOCAL), ParcelWeighed)
    assert event.payload == ParcelWeighed(parcel_id="p-1", grams=1250, scale_id="unknown")
    assert event.schema_version == 3


def test_a_payload_without_a_schema_version_is_read_as_version_1():
    raw = upcast(_raw(None, {"parcel_id": "p-1", "kilograms": "2"}), ParcelWeighed, LOCAL)
    assert raw["payload"]["grams"] == 2000 and raw["schema_version"] == 3


def test_a_current_payload_and_an_unreadable_version_are_left_for_validation_to_judge():
    for raw in (_raw(3, {"parcel_id": "p-1", "grams": 5, "scale_id": "s"}),
                _raw(True, {"kilograms": "1"}), _raw("1", {"kilograms": "1"}),
                _raw(0, {"kilograms": "1"}), _raw(1, ["not", "an", "object"])):
        assert upcast(raw, ParcelWeighed, LOCAL) is raw


def test_an_old_payload_its_upcaster_cannot_read_is_rejected_with_the_step_not_raised():
    with pytest.raises(InvalidEvent) as rejected:
        upcast(_raw(1, {"parcel_id": "p-1"}), ParcelWeighed, LOCAL)
    assert rejected.value.reason == ("ParcelWeighed: cannot upcast schema_version 1 to 2 "
                                     "(KeyError)")
    assert rejected.value.kind == "schema-invalid"


def test_the_codec_upcasts_every_message_it_reads(monkeypatch):
    # Topics, dead letters sent back and the retry queue are all read through decode().
    monkeypatch.setitem(CATALOG, "ParcelWeighed", ParcelWeighed)
    for key, function in LOCAL.items():
        monkeypatch.setitem(UPCASTERS, key, function)
    value = json.dumps(_raw(1, {"parcel_id": "p-1", "kilograms": "0.5"})).encode()
    event = decode(value, expected_type="ParcelWeighed")
    assert (event.payload.grams, event.schema_version) == (500, 3)
    assert json.loads(encode(event))["schema_version"] == 3


def test_a_version_newer_than_the_code_stays_a_dead_letter_and_no_upcaster_runs(monkeypatch):
    monkeypatch.setitem(CATALOG, "ParcelWeighed", ParcelWeighed)
    value = json.dumps(_raw(4, {"parcel_id": "p-1", "grams": 5, "scale_id": "s"})).encode()
    with pytest.raises(UnsupportedSchemaVersion) as rejected:
        decode(value, expected_type="ParcelWeighed")
    assert rejected.value.kind == "unsupported-version"


def test_every_catalog_event_can_be_upcast_from_each_of_its_older_versions():
    assert missing_upcasters(CATALOG, UPCASTERS) == []
    assert missing_upcasters({"ParcelWeighed": ParcelWeighed}, {("ParcelWeighed", 1): dict}) == [
        "ParcelWeighed is at schema_version 3 but no upcaster reads its v2: add "
        "@upcaster('ParcelWeighed', 2) in shared/events/versions.py"]


def test_a_second_upcaster_for_the_same_step_is_refused():
    with pytest.raises(ValueError, match="two upcasters for ParcelWeighed v1"):
        upcaster("ParcelWeighed", 1, registry=LOCAL)(dict)


def test_sagactl_publish_upcasts_a_file_of_an_older_version_and_labels_the_rest_current(
        monkeypatch, tmp_path):
    from sagactl.publishing import build_event

    monkeypatch.setitem(CATALOG, "ParcelWeighed", ParcelWeighed)
    for key, function in LOCAL.items():
        monkeypatch.setitem(UPCASTERS, key, function)
    saved = tmp_path / "v1.json"
    saved.write_text(json.dumps(_raw(1, {"parcel_id": "p-1", "kilograms": "3"})))
    assert build_event("ParcelWeighed", None, [], saved).payload.grams == 3000
    built = build_event("ParcelWeighed", "ord-1", ["parcel_id=p-2", "grams=7", "scale_id=s"], None)
    assert built.schema_version == 3
