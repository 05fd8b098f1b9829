"""Versioned contracts: every published payload version keeps its JSON Schema, and a change that
breaks a committed version is named, field by field, with what to do instead."""

import json
import shutil
import subprocess
import sys
from typing import ClassVar, Literal

from pydantic import Field

from sagactl.docs import schemas
from shared.events import Identifier, LineItem, Payload
from shared.events.base import Contract
from shared.events.catalog import OrderLines
from tests.unit.test_layers import ROOT

DOCS = ROOT / "docs"


def _breaks(name: str, model: type[Payload]) -> list[str]:
    """The model, as if it replaced the catalog's ``name``, against the committed schema."""
    return [line for line in schemas.breaking(DOCS, {name: model}) if not line.startswith(" ")]


class _Notified(Payload):
    """CustomerNotified as committed (v1): customer_id, kind (three values), message."""

    customer_id: Identifier
    kind: Literal["order_completed", "order_cancelled", "payment_refunded"]
    message: str


def test_the_catalog_as_it_stands_breaks_no_committed_version_and_lost_none():
    # That each current version's file matches its model: tests/unit/test_asyncapi.py.
    assert schemas.breaking(DOCS) == []
    assert schemas.lost_versions(DOCS) == []


def test_adding_an_optional_field_or_rewording_a_description_is_compatible():
    class CustomerNotified(_Notified):
        """Reworded."""

        message: str = Field(description="What the customer was told.")
        channel: str = Field(default="email", description="New and optional.")

    assert _breaks("CustomerNotified", CustomerNotified) == []


def test_a_removed_field_is_named_with_its_event_and_version_and_what_to_do():
    class CustomerNotified(Payload):
        customer_id: Identifier
        kind: Literal["order_completed", "order_cancelled", "payment_refunded"]

    report = schemas.breaking(DOCS, {"CustomerNotified": CustomerNotified})
    assert report[0] == ("CustomerNotified v1: message: removed (old consumers reject new events "
                         "without it)")
    assert "raise CustomerNotified.schema_version to 2 and add @upcaster('CustomerNotified', 1) " \
           "in shared/events/versions.py" in report[1]


def test_a_changed_type_is_breaking():
    class CustomerNotified(_Notified):
        message: int

    assert _breaks("CustomerNotified", CustomerNotified) == [
        "CustomerNotified v1: message: type changed from string to integer"]


def test_a_new_required_field_is_breaking():
    class CustomerNotified(_Notified):
        channel: str

    assert _breaks("CustomerNotified", CustomerNotified) == [
        "CustomerNotified v1: channel: new required field (new consumers reject old events, "
        "which lack it)"]


def test_a_narrowed_or_a_widened_enum_is_breaking():
    class Narrowed(_Notified):
        kind: Literal["order_completed", "order_cancelled"]

    class Widened(_Notified):
        kind: Literal["order_completed", "order_cancelled", "payment_refunded", "gift"]

    assert _breaks("CustomerNotified", Narrowed) == [
        "CustomerNotified v1: kind: no longer allows ['payment_refunded'] (new consumers reject "
        "old events holding them)"]
    assert _breaks("CustomerNotified", Widened) == [
        "CustomerNotified v1: kind: now allows ['gift'] (old consumers reject new events "
        "holding them)"]


def test_a_tightened_or_loosened_bound_is_breaking_even_deep_inside_a_list():
    class Line(LineItem):
        quantity: int = Field(strict=True, gt=0, le=100)

    class StockReserved(OrderLines):
        items: tuple[Line, ...] = Field(min_length=1, max_length=60)
        shipping_address: str

    breaks = _breaks("StockReserved", StockReserved)
    assert "StockReserved v1: items: maxItems loosened from 50 to 60 (old consumers reject new " \
           "events outside it)" in breaks
    assert "StockReserved v1: items[].quantity: maximum tightened from 1000 to 100 (new " \
           "consumers reject old events outside it)" in breaks
    assert "StockReserved v1: shipping_address: type changed from Address to string" in breaks


def test_a_field_made_required_a_new_pattern_and_a_changed_default_are_breaking():
    class Address(Contract):
        name: str = Field(min_length=1, max_length=100)
        street: str = Field(min_length=1, max_length=200)
        city: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z ]+$")
        postal_code: str = Field(max_length=20)
        country: str = Field(pattern=r"^[A-Z]{2}$")

    class OrderCreated(OrderLines):
        shipping_address: Address

    class OrderCancellationRequested(Payload):
        reason: str = "no reason given"

    assert _breaks("OrderCreated", OrderCreated) == [
        "OrderCreated v1: shipping_address.city: pattern added: '^[A-Za-z ]+$' (new consumers "
        "reject old events outside it)",
        "OrderCreated v1: shipping_address.postal_code: now required (new consumers reject old "
        "events without it)"]
    assert _breaks("OrderCancellationRequested", OrderCancellationRequested) == [
        "OrderCancellationRequested v1: reason: default changed from 'requested by customer' to "
        "'no reason given' (new consumers read old events without it differently)"]


def test_a_new_version_is_free_to_break_its_predecessor_whose_file_stays():
    class CustomerNotified(Payload):
        schema_version: ClassVar[int] = 2
        customer_id: Identifier

    catalog = {"CustomerNotified": CustomerNotified}
    assert schemas.breaking(DOCS, catalog) == []
    assert list(schemas.current_files(DOCS, catalog)) == [
        DOCS / "schemas" / "CustomerNotified" / "v2.json"]  # never v1: it stays as committed
    assert schemas.lost_versions(DOCS, catalog) == []


def test_a_deleted_old_version_and_a_version_ahead_of_the_code_are_reported(tmp_path):
    class CustomerNotified(_Notified):
        schema_version: ClassVar[int] = 2

    (tmp_path / "schemas" / "CustomerNotified").mkdir(parents=True)
    (tmp_path / "schemas" / "CustomerNotified" / "v3.json").write_text("{}")
    lost = schemas.lost_versions(tmp_path, {"CustomerNotified": CustomerNotified})
    assert [line.split(" is ")[0] for line in lost] == [
        str(tmp_path / "schemas" / "CustomerNotified" / name) for name in ("v1.json", "v3.json")]


def _sagactl_docs_events(docs, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sagactl", "docs", "events", "--dir", str(docs),
                           *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_sagactl_docs_events_check_compat_fails_naming_the_break_and_writing_refuses(tmp_path):
    # The committed v1 of FundsDeposited had a field the code no longer has.
    shutil.copytree(DOCS, tmp_path / "docs")
    committed = tmp_path / "docs" / "schemas" / "FundsDeposited" / "v1.json"
    schema = json.loads(committed.read_text())
    schema["properties"]["note"] = {"type": "string"}
    schema["required"].append("note")
    committed.write_text(json.dumps(schema))
    (tmp_path / "docs" / "events.md").unlink()

    checked = _sagactl_docs_events(tmp_path / "docs", "--check", "--compat")
    assert checked.returncode == 2
    assert "FundsDeposited v1: note: removed (old consumers reject new events without it)" in \
        checked.stderr
    written = _sagactl_docs_events(tmp_path / "docs")
    assert (written.returncode, written.stdout) == (2, "")
    assert json.loads(committed.read_text()) == schema
    assert not (tmp_path / "docs" / "events.md").exists()
