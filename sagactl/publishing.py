"""`sagactl publish`: any catalog event, from flags or a JSON file, validated before sending."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import typer

from sagactl.kafka import publish
from shared.events import CATALOG, Event, RejectedMessage
from shared.events.codec import validate
from shared.events.examples import example_event
from shared.settings import Settings


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def publish_command(
    ctx: typer.Context,
    event_type: str = typer.Argument(..., help=f"One of: {', '.join(CATALOG)}"),
    order_id: str = typer.Option(None, "--order-id", "-o", help="The saga it belongs to."),
    fields: list[str] = typer.Option(None, "--set", "-s", metavar="FIELD=VALUE",
                                     help="A payload field; VALUE is JSON if it parses as JSON "
                                     "(decimals stay strings: amount=19.90)."),
    file: Path = typer.Option(None, "--file", "-f", help="JSON payload or whole envelope "
                              "('-' reads standard input)."),
    example: bool = typer.Option(False, "--example", help="Print an example message and exit."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print, send nothing."),
) -> None:
    """Publish one event of the catalog. Invalid input: a clear error, exit 2, nothing sent."""
    if event_type not in CATALOG:
        raise fail(f"unknown event type {event_type!r}; choose one of: {', '.join(CATALOG)}")
    if example:
        typer.echo(example_event(CATALOG[event_type]).model_dump_json(indent=2))
        return
    event = build_event(event_type, order_id, fields or [], file)
    typer.echo(event.model_dump_json(indent=2 if dry_run else None))
    if not dry_run:
        settings: Settings = ctx.obj
        asyncio.run(publish(settings, [event]))
        typer.echo(f"published {event_type} {event.event_id} to {settings.topic(event_type)}",
                   err=True)


def build_event(event_type: str, order_id: str | None, fields: list[str],
                file: Path | None) -> Event:
    raw = _read_file(file) if file else {}
    if "payload" not in raw:
        raw = {"payload": raw}
    raw["payload"] = {**(raw["payload"] or {}), **_parse_fields(fields)}
    raw.update(event_type=event_type, producer=raw.get("producer", "sagactl"))
    if order_id:
        raw["order_id"] = order_id
    try:
        return validate(raw, CATALOG[event_type])
    except RejectedMessage as invalid:
        raise fail(f"invalid {event_type}: {invalid.reason}") from None


def _read_file(file: Path) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as error:
        raise fail(f"cannot read {file}: {error}") from None
    if not isinstance(data, dict):
        raise fail(f"{file} must hold a JSON object")
    return data


def _parse_fields(fields: list[str]) -> dict[str, Any]:
    parsed = {}
    for field in fields:
        name, separator, value = field.partition("=")
        if not separator or not name:
            raise fail(f"--set expects FIELD=VALUE, got {field!r}")
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            decoded = value
        # Money must travel as a decimal string: never turn "19.90" into a float.
        parsed[name] = value if isinstance(decoded, float) else decoded
    return parsed
