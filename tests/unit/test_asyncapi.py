"""docs/asyncapi.yaml is generated from the declarations and says exactly what they say.
(The official AsyncAPI parser validates it too: tests/e2e/test_asyncapi_validator.py.)"""

import yaml

from participants import OPERATOR, SERVICES
from sagactl.docs.command import event_contract
from shared.deadletters import DLT_SUFFIX
from shared.events import CATALOG
from tests.unit.test_layers import ROOT

DOCS = ROOT / "docs"


def _document() -> dict:
    return yaml.safe_load((DOCS / "asyncapi.yaml").read_text())


def _operations(document: dict, participant: str, action: str) -> set[str]:
    return {operation["channel"]["$ref"].removeprefix("#/channels/")
            for operation in document["operations"].values()
            if operation["action"] == action
            and operation["tags"] == [{"$ref": f"#/components/tags/{participant}"}]}


def test_docs_asyncapi_yaml_and_every_generated_contract_file_match_the_code():
    for path, text in event_contract(DOCS).items():
        assert path.read_text() == text, f"{path} is out of date: run `sagactl docs events`"


def test_each_participant_sends_what_it_may_emit_and_receives_what_it_reacts_to():
    document = _document()
    for spec in SERVICES:
        consumed = {payload.event_type() for payload in spec.consumes}
        assert _operations(document, spec.name, "receive") == consumed, spec.name
        assert _operations(document, spec.name, "send") == (
            {payload.event_type() for payload in spec.emits}
            | {topic + DLT_SUFFIX for topic in consumed}), spec.name
    assert _operations(document, OPERATOR.name, "send") == {
        payload.event_type() for payload in OPERATOR.originates}


def test_every_topic_and_its_dead_letters_are_channels_keyed_and_typed_by_the_catalog():
    document = _document()
    for name, payload in CATALOG.items():
        assert document["channels"][name]["address"] == name
        assert document["channels"][name + DLT_SUFFIX]["messages"] == {
            "DeadLetter": {"$ref": "#/components/messages/DeadLetter"}}
        message = document["components"]["messages"][name]
        carried = message["payload"]["allOf"][1]["properties"]
        assert carried["schema_version"] == {"const": payload.schema_version}
        assert carried["payload"] == {"$ref": f"#/components/schemas/{name}"}
        key = message["bindings"]["kafka"]["key"]["description"]
        assert payload.key_field in key if payload.key_field else key.startswith("The order id")
