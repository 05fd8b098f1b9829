"""`sagactl order ...`: place, follow and cancel orders through the order service's API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import typer
from pydantic import ValidationError

from sagactl.kafka import publish
from sagactl.publishing import fail
from shared.events import Address, Event, LineItem, OrderCreated
from shared.events.codec import summarize
from shared.settings import Settings

app = typer.Typer(no_args_is_help=True)
TERMINAL = ("COMPLETED", "CANCELLED")


@app.command("place")
def place(
    ctx: typer.Context,
    customer: str = typer.Option(..., "--customer", "-c", help="Customer id."),
    items: list[str] = typer.Option(..., "--item", "-i", metavar="SKU:QTY:PRICE",
                                    help="A line, e.g. WIDGET-1:2:9.95 (repeatable)."),
    name: str = typer.Option("Ada Lovelace", help="Recipient."),
    street: str = typer.Option("1 Main Street"),
    city: str = typer.Option("Berlin"),
    postal_code: str = typer.Option("10115"),
    country: str = typer.Option("DE", help="ISO country code; the carrier does not serve all."),
    order_id: str = typer.Option(None, "--order-id", help="Chosen id (default: generated)."),
    direct: bool = typer.Option(False, "--direct", help="Publish OrderCreated to Kafka instead "
                                "of calling the order API."),
    wait: float = typer.Option(0, help="Seconds to wait for a final status (0: don't wait)."),
) -> None:
    """Place an order: through the order API, or straight onto the OrderCreated topic."""
    settings: Settings = ctx.obj
    order = _order(customer, items, Address(name=name, street=street, city=city,
                                            postal_code=postal_code, country=country.upper()))
    if direct:
        event = Event.new(order, order_id=order_id or _new_id(), producer="sagactl")
        asyncio.run(publish(settings, [event]))
        order_id = event.order_id
    else:
        body = {"order_id": order_id, **order.model_dump(mode="json", exclude={"total"})}
        order_id = _call(settings, "POST", "/orders", json=body)["order_id"]
    typer.echo(order_id)
    if wait:
        _show(_wait_until_final(settings, order_id, wait))


@app.command("status")
def status(ctx: typer.Context, order_id: str,
           as_json: bool = typer.Option(False, "--json", help="Print the raw JSON."),
           wait: float = typer.Option(0, help="Seconds to wait for a final status.")) -> None:
    """Show an order's status and the history of its saga."""
    settings: Settings = ctx.obj
    order = (_wait_until_final(settings, order_id, wait) if wait
             else _call(settings, "GET", f"/orders/{order_id}"))
    typer.echo(json.dumps(order, indent=2)) if as_json else _show(order)


@app.command("cancel")
def cancel(ctx: typer.Context, order_id: str,
           reason: str = typer.Option("requested by customer", help="Why.")) -> None:
    """Request a cancellation. Refused (exit 1) once the order has shipped."""
    order = _call(ctx.obj, "POST", f"/orders/{order_id}/cancellation", json={"reason": reason})
    typer.echo(f"{order_id}: cancellation {order['cancellation'] or 'not needed'} "
               f"(status {order['status']})")


@app.command("list")
def list_orders(ctx: typer.Context, status_filter: str = typer.Option(None, "--status"),
                limit: int = typer.Option(20)) -> None:
    """List recent orders, optionally only those in one status."""
    params = {"limit": limit, **({"status": status_filter} if status_filter else {})}
    for order in _call(ctx.obj, "GET", "/orders", params=params)["orders"]:
        typer.echo(f"{order['order_id']:<20} {order['status']:<11} {order['total']:>10}  "
                   f"{order['customer_id']}")


def _order(customer: str, items: list[str], address: Address) -> OrderCreated:
    try:
        lines = [_line(text) for text in items]
        return OrderCreated(customer_id=customer, items=lines, shipping_address=address)
    except ValidationError as error:
        raise fail(f"invalid order: {summarize(error)}") from None


def _line(text: str) -> LineItem:
    parts = text.split(":")
    if len(parts) != 3:
        raise fail(f"--item expects SKU:QTY:PRICE, got {text!r}")
    return LineItem(sku=parts[0], quantity=parts[1], unit_price=parts[2])


def _new_id() -> str:
    return f"ord-{uuid.uuid4().hex[:12]}"


def _call(settings: Settings, method: str, path: str, **options) -> dict:
    try:
        response = httpx.request(method, settings.order_api_url + path, timeout=10, **options)
    except httpx.HTTPError as error:
        raise fail(f"order API at {settings.order_api_url} unreachable: {error}") from None
    if response.status_code >= 400:
        typer.secho(f"error {response.status_code}: {_detail(response)}", fg="red", err=True)
        raise typer.Exit(code=1)
    return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    return "; ".join(body.get("problems", [])) or str(body.get("detail", body))


def _wait_until_final(settings: Settings, order_id: str, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        order = _call(settings, "GET", f"/orders/{order_id}")
        if order["status"] in TERMINAL or time.monotonic() > deadline:
            return order
        time.sleep(0.2)


def _show(order: dict) -> None:
    typer.echo(f"order {order['order_id']}  status {order['status']}  total {order['total']}  "
               f"customer {order['customer_id']}  cancellation {order['cancellation'] or '-'}")
    for entry in order["history"]:
        typer.echo(f"  {entry['occurred_at'][11:23]}  {entry['event_type']:<27} "
                   f"{entry['producer']:<21} {entry['detail']}")
