"""A reproducible mix of orders that walks every saga path, for batch and chaos runs."""

from __future__ import annotations

import random
from dataclasses import dataclass

from devtools.orders import SERVED, UNSERVED, order_body

STOCK = {"WIDGET-1": 100_000, "GADGET-2": 100_000, "SCARCE-3": 8}
# mallory (on fraud_service's blocklist) can pay: a saga of hers charged before its screening,
# by a service that skipped it, ends cancelled without a refund, and the money check sees it.
BALANCES = {**{f"rich-{n}": "1000000.00" for n in range(5)}, "poor-1": "3.00",
            "mallory": "1000000.00"}
PATHS = ("happy", "out_of_stock", "fraud_rejected", "payment_declined", "shipping_fails",
         "cancelled")


@dataclass(frozen=True)
class PlannedOrder:
    order_id: str
    path: str
    body: dict

    @property
    def cancel(self) -> bool:
        return self.path == "cancelled"


def plan(count: int, seed: int = 7, tag: str = "mix") -> list[PlannedOrder]:
    """``tag`` starts every order id: a run on databases that outlive it needs one of its own."""
    rng = random.Random(seed)
    weights = (6, 1, 1, 1, 1, 1)
    return [_planned(rng, f"{tag}-{seed}-{n:05d}", rng.choices(PATHS, weights)[0])
            for n in range(count)]


def _planned(rng: random.Random, order_id: str, path: str) -> PlannedOrder:
    customer = f"rich-{rng.randrange(5)}"
    sku, quantity, address = rng.choice(("WIDGET-1", "GADGET-2")), rng.randint(1, 3), SERVED
    if path == "out_of_stock":
        sku, quantity = "SCARCE-3", rng.randint(2, 5)
    elif path == "fraud_rejected":
        customer = "mallory"  # on fraud_service's blocklist
    elif path == "payment_declined":
        customer = "poor-1"
    elif path == "shipping_fails":
        address = UNSERVED
    price = f"{rng.randint(100, 9999) / 100:.2f}"
    return PlannedOrder(order_id, path, order_body(customer, sku, quantity, price, address,
                                                   order_id=order_id))
