"""`sagactl stock add`, `funds deposit`, `seed FILE`: reference data, as events.

Stock and balances reach the services the same way everything else does: as events on their
topics (StockAdded, FundsDeposited). Each is additive, and each run publishes new events:
seeding the same file twice adds twice (say `sagactl funds deposit` twice and you mean it).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from sagactl.errors import fail
from sagactl.kafka import publish
from shared.events import Event, FundsDeposited, Payload, StockAdded
from shared.events.codec import summarize
from shared.settings import ToolSettings

stock_app = typer.Typer(no_args_is_help=True)
funds_app = typer.Typer(no_args_is_help=True)
JSON_OPTION = typer.Option(False, "--json", help="Print the published events as JSON lines.")


@stock_app.command("add")
def add_stock(ctx: typer.Context, sku: str, quantity: int, as_json: bool = JSON_OPTION) -> None:
    """Units of SKU arrived in the warehouse (adds to what is there)."""
    _publish(ctx.obj, [_valid(StockAdded, sku=sku, quantity=quantity)], as_json)


@funds_app.command("deposit")
def deposit(ctx: typer.Context, customer_id: str,
            amount: str = typer.Argument(..., help="Decimal, e.g. 250.00"),
            as_json: bool = JSON_OPTION) -> None:
    """Add money to a customer's balance (adds to what is there)."""
    _publish(ctx.obj, [_valid(FundsDeposited, customer_id=customer_id, amount=amount)], as_json)


def seed_command(ctx: typer.Context, file: Path = typer.Argument(
        ..., help='JSON: {"stock": {"SKU": qty}, "balances": {"customer": "amount"}}. '
        "Additive: seeding the same file twice adds twice."), as_json: bool = JSON_OPTION) -> None:
    """Seed stock and balances from a file: all of it is checked before anything is sent."""
    try:
        data = json.loads(file.read_text(), object_pairs_hook=_refuse_duplicate_keys)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise fail(f"cannot read {file}: {error}") from None
    _publish(ctx.obj, seed_payloads(data), as_json)


def seed_payloads(data: Any) -> list[Payload]:
    if not isinstance(data, dict) or not set(data) <= {"stock", "balances"}:
        raise fail('a seed file holds {"stock": {...}, "balances": {...}} and nothing else')
    for section in ("stock", "balances"):
        if not isinstance(data.get(section, {}), dict):
            raise fail(f'"{section}" must be an object (name: value), '
                       f"not {type(data[section]).__name__}")
    stock = [_valid(StockAdded, sku=sku, quantity=_whole_number(sku, quantity))
             for sku, quantity in data.get("stock", {}).items()]
    balances = [_valid(FundsDeposited, customer_id=customer, amount=amount)
                for customer, amount in data.get("balances", {}).items()]
    return stock + balances


def _whole_number(sku: str, quantity: Any) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise fail(f"stock of {sku}: the quantity must be a whole number, not {quantity!r}")
    return quantity


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise fail(f"the seed file names {', '.join(duplicates)} more than once")
    return dict(pairs)


def _valid(payload_type: type[Payload], **fields) -> Payload:
    try:
        return payload_type(**fields)
    except ValidationError as error:
        raise fail(f"invalid {payload_type.event_type()}: {summarize(error)}") from None


def _publish(settings: ToolSettings, payloads: list[Payload], as_json: bool) -> None:
    events = [Event.new(p, producer="sagactl") for p in payloads]
    asyncio.run(publish(settings, events))
    if as_json:
        for event in events:
            typer.echo(event.model_dump_json())
    else:
        typer.echo(f"published {len(events)} event(s)")
