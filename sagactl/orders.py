"""`sagactl order ...`: place, follow and cancel orders through the order service's API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import httpx
import typer
from pydantic import ValidationError

from sagactl.errors import InvalidInput, NotFinal, Unreachable, fail
from sagactl.kafka import publish
from shared.events import Address, Event, LineItem, OrderCreated
from shared.events.codec import summarize
from shared.settings import ToolSettings

app = typer.Typer(no_args_is_help=True)
TERMINAL = ("COMPLETED", "CANCELLED")
ORDER_OPTION = typer.Option(None, "--order", "-o", help="Order id (default: generated).")


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
    order_id: str = ORDER_OPTION,
    direct: bool = typer.Option(False, "--direct", help="Publish OrderCreated to Kafka instead "
                                "of calling the order API."),
    wait: float = typer.Option(0, help="Seconds to wait for a final status (0: don't wait); "
                               "exit 4 if it is not final by then."),
    as_json: bool = typer.Option(False, "--json", help="Print the order as JSON."),
) -> None:
    """Place an order: through the order API, or straight onto the OrderCreated topic."""
    settings: ToolSettings = ctx.obj
    order = _order(customer, items, name, street, city, postal_code, country)
    if direct:
        event = Event.new(order, order_id=order_id or _new_id(), producer="sagactl")
        asyncio.run(publish(settings, [event]))
        placed = {"order_id": event.order_id, "status": "PUBLISHED", "event_id": event.event_id}
    else:
        body = {"order_id": order_id, **order.model_dump(mode="json", exclude={"total"})}
        placed = _call(settings, "POST", "/orders", json=body)
    if wait:
        placed = _wait_until_final(settings, placed["order_id"], wait, quiet=as_json)
    if as_json:
        typer.echo(json.dumps(placed, indent=2))
    elif wait:
        _show(placed)
    else:
        typer.echo(placed["order_id"])


@app.command("show")
@app.command("status")
def status(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER"),
           as_json: bool = typer.Option(False, "--json", help="Print the raw JSON."),
           wait: float = typer.Option(0, help="Seconds to wait for a final status; exit 4 "
                                      "if it is not final by then.")) -> None:
    """Show an order's status, its deadline (and what is left of it) and the history of its
    saga (`order show` is the same command)."""
    settings: ToolSettings = ctx.obj
    order = (_wait_until_final(settings, order_id, wait, quiet=as_json) if wait
             else _call(settings, "GET", f"/orders/{order_id}"))
    typer.echo(json.dumps(order, indent=2)) if as_json else _show(order)


@app.command("cancel")
def cancel(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER"),
           reason: str = typer.Option("requested by customer", help="Why."),
           as_json: bool = typer.Option(False, "--json", help="Print the order as JSON.")) -> None:
    """Request a cancellation (shipping decides). Refused (exit 2) once the order has shipped."""
    order = _call(ctx.obj, "POST", f"/orders/{order_id}/cancellation", json={"reason": reason})
    if as_json:
        typer.echo(json.dumps(order, indent=2))
    else:
        typer.echo(f"{order_id}: cancellation {order['cancellation'] or 'not needed'} "
                   f"(status {order['status']})")


@app.command("list")
def list_orders(ctx: typer.Context,
                status_filter: str = typer.Option(None, "--status", help="Only this status."),
                customer: str = typer.Option(None, "--customer", "-c", help="Only this customer."),
                limit: int = typer.Option(20, min=1, max=1000, help="How many, newest first."),
                as_json: bool = typer.Option(False, "--json", help="Print the raw JSON.")) -> None:
    """List recent orders, newest first."""
    params = {"limit": limit, **({"status": status_filter} if status_filter else {}),
              **({"customer_id": customer} if customer else {})}
    found = _call(ctx.obj, "GET", "/orders", params=params)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    for order in found["orders"]:
        typer.echo(f"{order['order_id']:<20} {order['status']:<11} {order['total']:>10}  "
                   f"{order['customer_id']}")


def _order(customer: str, items: list[str], name: str, street: str, city: str,
           postal_code: str, country: str) -> OrderCreated:
    try:
        address = Address(name=name, street=street, city=city, postal_code=postal_code,
                          country=country.upper())
        return OrderCreated(customer_id=customer, items=[_line(text) for text in items],
                            shipping_address=address)
    except ValidationError as error:
        raise fail(f"invalid order: {summarize(error)}") from None


def _line(text: str) -> LineItem:
    parts = text.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        raise fail(f"--item expects SKU:QTY:PRICE with a whole quantity, got {text!r}")
    return LineItem(sku=parts[0], quantity=int(parts[1]), unit_price=parts[2])


def _new_id() -> str:
    return f"ord-{uuid.uuid4().hex[:12]}"


def _call(settings: ToolSettings, method: str, path: str, **options) -> dict:
    url = settings.order_api_url + path
    try:
        response = httpx.request(method, url, timeout=settings.connect_timeout,
                                 headers=settings.api_headers(), **options)
    except httpx.HTTPError as error:
        raise Unreachable(f"cannot reach the order API at {settings.order_api_url} "
                          f"({error or type(error).__name__}); is order-service running? "
                          "Check --api / SAGA_ORDER_API_URL.") from None
    if 400 <= response.status_code < 500:
        raise InvalidInput(f"the order API refused {method} {path} "
                           f"({response.status_code}): {_detail(response)}")
    if response.status_code >= 500:
        raise Unreachable(f"the order API failed on {method} {path} "
                          f"({response.status_code}): {_detail(response)}")
    return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return "; ".join(body.get("problems", [])) or str(body.get("detail", body))


def _wait_until_final(settings: ToolSettings, order_id: str, seconds: float,
                      quiet: bool = False) -> dict:
    """Poll until the order is final, saying each new step on stderr; exit 4 at the deadline."""
    if not quiet:
        typer.echo(f"waiting up to {seconds:g}s for order {order_id} to end "
                   f"({' or '.join(TERMINAL)})", err=True)
    deadline, seen = time.monotonic() + seconds, 0
    while True:
        order = _call(settings, "GET", f"/orders/{order_id}")
        for entry in order["history"][seen:]:
            if not quiet:
                typer.echo(f"  {_step(entry)}", err=True)
        seen = len(order["history"])
        if order["status"] in TERMINAL:
            return order
        if time.monotonic() > deadline:
            last = order["history"][-1]["event_type"] if order["history"] else "none"
            raise NotFinal(f"order {order_id} is still {order['status']} after {seconds:g}s "
                           f"(last step: {last}); see `sagactl order status {order_id}`")
        time.sleep(0.2)


def _step(entry: dict) -> str:
    return (f"{entry['occurred_at'][11:23]}  {entry['event_type']:<27} "
            f"{entry['producer']:<21} {entry['detail']}").rstrip()


def _show(order: dict) -> None:
    typer.echo(f"order {order['order_id']}  status {order['status']}  total {order['total']}  "
               f"customer {order['customer_id']}  cancellation {order['cancellation'] or '-'}")
    typer.echo(f"  {deadline_said(order)}")
    for entry in order["history"]:
        typer.echo(f"  {_step(entry)}")


def deadline_said(order: dict, now: float | None = None) -> str:
    """The order's deadline and what it means now: how long is left, or what it did."""
    at = order.get("deadline_at")
    if at is None:
        return "deadline: none"
    when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    left = at - (time.time() if now is None else now)
    if order["status"] in TERMINAL:
        return f"deadline {when} (over: {order['status']})"
    if left > 0:
        return f"deadline {when} ({_duration(left)} left)"
    return f"deadline {when} (passed {_duration(-left)} ago: cancellation {order['cancellation']})"


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
