"""`sagactl tail`: follow every saga event live, one readable line each."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime

import typer

from sagactl.errors import fail
from sagactl.kafka import read_topics
from shared.events import CATALOG, Event, RejectedMessage, decode
from shared.settings import ToolSettings


def tail_command(
    ctx: typer.Context,
    types: list[str] = typer.Option(None, "--type", "-t", help="Only these event types."),
    order_id: str = typer.Option(None, "--order", "-o", help="Only this order."),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Start at the oldest."),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Keep waiting for more "
                                "(and for topics that do not exist yet)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per record."),
) -> None:
    """Follow saga events as they happen (Ctrl-C to stop). Each record is read as the type its
    topic says, as the services read it: anything else shows as rejected."""
    wanted = types or list(CATALOG)
    unknown = set(wanted) - set(CATALOG)
    if unknown:
        raise fail(f"unknown event types {sorted(unknown)}; choose from: {', '.join(CATALOG)}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(ctx.obj, wanted, order_id, from_beginning, follow, as_json))


async def _tail(settings: ToolSettings, types: list[str], order_id: str | None,
                from_beginning: bool, follow: bool, as_json: bool) -> None:
    def waiting(message: str) -> None:
        typer.echo(message, err=True)

    async for record in read_topics(settings, types, follow=follow,
                                    from_beginning=from_beginning, on_wait=waiting):
        if order_id and (record.key or b"").decode(errors="replace") != order_id:
            continue
        topic = record.topic.removeprefix(settings.topic_prefix)
        typer.echo(as_json_line(record, topic) if as_json else describe(record, topic))


def _read(record, topic: str) -> Event | RejectedMessage:
    try:
        return decode(record.value, expected_type=topic, max_bytes=max(len(record.value or b""), 1))
    except RejectedMessage as rejected:
        return rejected


def describe(record, topic: str) -> str:
    when = datetime.fromtimestamp(record.timestamp / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
    event = _read(record, topic)
    if isinstance(event, RejectedMessage):
        key = (record.key or b"").decode(errors="replace") or "-"
        return f"{when}  {topic:<27} {key:<18} (rejected, {event.kind}: {event.reason})"
    fields = event.payload.model_dump(mode="json")
    summary = ", ".join(f"{key}={value}" for key, value in fields.items()
                        if not isinstance(value, dict | list))
    return (f"{when}  {event.event_type:<27} {event.order_id or event.key:<18} "
            f"{event.producer:<21} {summary}")


def as_json_line(record, topic: str) -> str:
    event = _read(record, topic)
    line = {"topic": topic, "partition": record.partition, "offset": record.offset,
            "timestamp": record.timestamp,
            "key": None if record.key is None else record.key.decode(errors="replace")}
    if isinstance(event, RejectedMessage):
        line.update(rejected={"kind": event.kind, "reason": event.reason},
                    value=None if record.value is None else record.value.decode(errors="replace"))
    else:
        line["event"] = event.model_dump(mode="json")
    return json.dumps(line)
