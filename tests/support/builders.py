"""Small builders for events in tests: valid defaults, override what the test is about."""

from __future__ import annotations

import uuid
from decimal import Decimal

from shared.events import Address, Event, LineItem, OrderCreated, Payload, StockReserved

ADDRESS = Address(name="Ada Lovelace", street="1 Main Street", city="Berlin", country="DE")
UNSERVED_ADDRESS = Address(name="Penguin", street="1 Ice Shelf", city="McMurdo", country="AQ")


def order_created(customer: str = "alice", lines: dict[str, tuple[int, str]] | None = None,
                  address: Address = ADDRESS) -> OrderCreated:
    lines = lines or {"WIDGET-1": (2, "9.95")}
    return OrderCreated(customer_id=customer, shipping_address=address,
                        items=[LineItem(sku=sku, quantity=qty, unit_price=Decimal(price))
                               for sku, (qty, price) in lines.items()])


def event(payload: Payload, order_id: str | None = "ord-1", **envelope) -> Event:
    if not payload.belongs_to_order:
        order_id = None
    return Event.new(payload, order_id=order_id, producer=envelope.pop("producer", "test"),
                     causation_id=envelope.pop("causation_id", None)).model_copy(update=envelope)


def new_order_id() -> str:
    return f"ord-{uuid.uuid4().hex[:10]}"


def reserved(customer: str = "alice", price: str = "9.95", quantity: int = 2) -> StockReserved:
    """Two (by default) WIDGET-1 reserved for ``customer``: what payment and fraud screen."""
    return StockReserved(customer_id=customer, shipping_address=ADDRESS,
                         items=[{"sku": "WIDGET-1", "quantity": quantity, "unit_price": price}])
