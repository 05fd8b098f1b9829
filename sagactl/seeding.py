"""`sagactl stock add`, `funds deposit`, `seed FILE`: reference data, as events.

Stock and balances reach the services the same way everything else does: as
events on their topics (StockAdded, FundsDeposited). Each is additive, so
seeding the same file twice adds twice.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from pydantic import ValidationError

from sagactl.kafka import publish
from sagactl.publishing import fail
from shared.events import Event, FundsDeposited, Payload, StockAdded
from shared.events.codec import summarize
from shared.settings import Settings

stock_app = typer.Typer(no_args_is_help=True)
funds_app = typer.Typer(no_args_is_help=True)


@stock_app.command("add")
def add_stock(ctx: typer.Context, sku: str, quantity: int) -> None:
    """Units of SKU arrived in the warehouse."""
    _publish(ctx.obj, [_valid(StockAdded, sku=sku, quantity=quantity)])


@funds_app.command("deposit")
def deposit(ctx: typer.Context, customer_id: str,
            amount: str = typer.Argument(..., help="Decimal, e.g. 250.00")) -> None:
    """Add money to a customer's balance."""
    _publish(ctx.obj, [_valid(FundsDeposited, customer_id=customer_id, amount=amount)])


def seed_command(ctx: typer.Context, file: Path = typer.Argument(
        ..., help='JSON: {"stock": {"SKU": qty}, "balances": {"customer": "amount"}}')) -> None:
    """Seed stock and balances from a file."""
    try:
        data = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise fail(f"cannot read {file}: {error}") from None
    payloads = seed_payloads(data)
    _publish(ctx.obj, payloads)


def seed_payloads(data: dict) -> list[Payload]:
    if not isinstance(data, dict) or not set(data) <= {"stock", "balances"}:
        raise fail('a seed file holds {"stock": {...}, "balances": {...}}')
    stock = [_valid(StockAdded, sku=sku, quantity=quantity)
             for sku, quantity in data.get("stock", {}).items()]
    balances = [_valid(FundsDeposited, customer_id=customer, amount=str(amount))
                for customer, amount in data.get("balances", {}).items()]
    return stock + balances


def _valid(payload_type: type[Payload], **fields) -> Payload:
    try:
        return payload_type(**fields)
    except ValidationError as error:
        raise fail(f"invalid {payload_type.event_type()}: {summarize(error)}") from None


def _publish(settings: Settings, payloads: list[Payload]) -> None:
    asyncio.run(publish(settings, [Event.new(p, producer="sagactl") for p in payloads]))
    typer.echo(f"published {len(payloads)} event(s)")
