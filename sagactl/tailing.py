"""`sagactl tail`: follow every saga event live, one readable line each."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import typer

from sagactl.kafka import read_topics
from shared.events import CATALOG, RejectedMessage, decode
from shared.settings import Settings


def tail_command(
    ctx: typer.Context,
    types: list[str] = typer.Option(None, "--type", "-t", help="Only these event types."),
    order_id: str = typer.Option(None, "--order", help="Only this order."),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Start at the oldest."),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Keep waiting for more."),
    raw: bool = typer.Option(False, "--json", help="Print the message values as they are."),
) -> None:
    """Follow saga events as they happen (Ctrl-C to stop)."""
    wanted = types or list(CATALOG)
    unknown = set(wanted) - set(CATALOG)
    if unknown:
        typer.secho(f"error: unknown event types {sorted(unknown)}", fg="red", err=True)
        raise typer.Exit(code=2)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(ctx.obj, wanted, order_id, from_beginning, follow, raw))


async def _tail(settings: Settings, types: list[str], order_id: str | None,
                from_beginning: bool, follow: bool, raw: bool) -> None:
    async for record in read_topics(settings, types, follow=follow, from_beginning=from_beginning):
        if order_id and (record.key or b"").decode(errors="replace") != order_id:
            continue
        typer.echo(record.value.decode(errors="replace") if raw else describe(record))


def describe(record) -> str:
    when = datetime.fromtimestamp(record.timestamp / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
    try:
        event = decode(record.value, max_bytes=len(record.value or b""))
    except RejectedMessage as rejected:
        return f"{when}  {record.topic:<27} (undecodable: {rejected.reason})"
    fields = event.payload.model_dump(mode="json")
    summary = ", ".join(f"{key}={value}" for key, value in fields.items()
                        if not isinstance(value, dict | list))
    return (f"{when}  {event.event_type:<27} {event.order_id or event.key:<18} "
            f"{event.producer:<21} {summary}")
