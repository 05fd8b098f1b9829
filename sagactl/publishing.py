"""`sagactl publish`: any catalog event, from flags or a JSON file, validated before sending."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sagactl.errors import fail
from sagactl.kafka import publish
from shared.events import CATALOG, Event, RejectedMessage
from shared.events.codec import validate
from shared.events.examples import example_event
from shared.events.versions import upcast
from shared.settings import ToolSettings


def publish_command(
    ctx: typer.Context,
    event_type: str = typer.Argument(..., help=f"One of: {', '.join(CATALOG)}"),
    order_id: str = typer.Option(None, "--order", "-o", help="The saga it belongs to."),
    fields: list[str] = typer.Option(None, "--set", "-s", metavar="FIELD=VALUE",
                                     help="A payload field, dotted for nested ones "
                                     "(shipping_address.country=AQ); VALUE is JSON if it parses "
                                     "as JSON (decimals stay strings: amount=19.90)."),
    file: Path = typer.Option(None, "--file", "-f", help="JSON payload or whole envelope "
                              "('-' reads standard input)."),
    example: bool = typer.Option(False, "--example", help="Print an example message and exit."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print, send nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the published event as JSON."),
) -> None:
    """Publish one event of the catalog. Invalid input: a clear error, exit 2, nothing sent."""
    if event_type not in CATALOG:
        raise fail(f"unknown event type {event_type!r}; choose one of: {', '.join(CATALOG)}")
    if example:
        typer.echo(example_event(CATALOG[event_type]).model_dump_json(indent=2))
        return
    event = build_event(event_type, order_id, fields or [], file)
    if dry_run:
        typer.echo(event.model_dump_json(indent=2))
        return
    settings: ToolSettings = ctx.obj
    [landed] = asyncio.run(publish(settings, [event]))
    if as_json:
        typer.echo(json.dumps({**event.model_dump(mode="json"), "topic": landed.topic,
                               "partition": landed.partition, "offset": landed.offset}))
    else:
        typer.echo(f"published {event_type} {event.event_id} to {landed.topic} "
                   f"(partition {landed.partition}, offset {landed.offset})")


def build_event(event_type: str, order_id: str | None, fields: list[str],
                file: Path | None) -> Event:
    payload_type = CATALOG[event_type]
    raw = _read_file(file) if file else {}
    if "payload" not in raw:
        raw = {"payload": raw}
    if not isinstance(raw["payload"], dict):
        raise fail(f"{file}: \"payload\" must be a JSON object, "
                   f"not {type(raw['payload']).__name__}")
    for path, text in _parse_fields(fields):
        field = _check_path(payload_type, path)
        _set(raw["payload"], path, _value(text, field))
    raw.update(event_type=event_type, producer=raw.get("producer", "sagactl"))
    raw.setdefault("event_id", uuid.uuid4().hex)  # a file may bring its own, to replay exactly
    if order_id:
        raw["order_id"] = order_id
    # Fields set here are the current version's; a file may hold an older one (upcast, as read).
    raw.setdefault("schema_version", payload_type.schema_version)
    try:
        return validate(upcast(raw, payload_type), payload_type)
    except RejectedMessage as invalid:
        raise fail(f"invalid {event_type}: {invalid.reason}") from None


def _read_file(file: Path) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise fail(f"cannot read {file}: {error}") from None
    if not isinstance(data, dict):
        raise fail(f"{file} must hold a JSON object, not {type(data).__name__}")
    return data


def _parse_fields(fields: list[str]) -> list[tuple[list[str], str]]:
    parsed = []
    for field in fields:
        name, separator, value = field.partition("=")
        if not separator or not name or "" in name.split("."):
            raise fail(f"--set expects FIELD=VALUE (FIELD may be dotted), got {field!r}")
        parsed.append((name.split("."), value))
    return parsed


def _value(text: str, field: FieldInfo) -> Any:
    """JSON if it parses as JSON — except money, which travels as the decimal string typed."""
    if field.annotation is Decimal:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _check_path(model: type[BaseModel], path: list[str]) -> FieldInfo:
    """Every part of a --set path must name a field: a typo is refused, never dropped."""
    for depth, name in enumerate(path):
        fields = model.model_fields
        if name not in fields:
            where = ".".join(path[:depth]) or model.__name__
            raise fail(f"{'.'.join(path)}: {where} has no field {name!r}; "
                       f"its fields: {', '.join(fields)}")
        if depth < len(path) - 1:
            nested = _model_of(fields[name].annotation)
            if nested is None:
                raise fail(f"{'.'.join(path)}: {name} is not an object; set it whole as JSON")
            model = nested
    return fields[path[-1]]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _set(target: dict, path: list[str], value: Any) -> None:
    for name in path[:-1]:
        target = target.setdefault(name, {})
        if not isinstance(target, dict):
            raise fail(f"{'.'.join(path)}: {name} is not an object")
    target[path[-1]] = value


