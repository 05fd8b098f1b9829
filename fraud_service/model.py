"""Screening rules: deterministic, so that a rejection can be caused on purpose (the demo's
"fraud rejected" path) and every instance decides the same.

An order is rejected when its customer is on the blocklist or its total is above the limit an
order may reach without a person looking at it (this service has no person: it rejects).
A screening changes nothing anyone must undo: it only decides. One screening per order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

#: Customers whose orders are always rejected.
BLOCKED_CUSTOMERS = frozenset({"mallory"})
#: The largest order total that passes screening.
TOTAL_LIMIT = Decimal("10000.00")


class Verdict(StrEnum):
    PASSED = "PASSED"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class Screening:
    order_id: str
    customer_id: str
    total: Decimal
    verdict: Verdict
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED


def screen(order_id: str, customer_id: str, total: Decimal) -> Screening:
    """Pass the order, or reject it with a reason a person can read."""
    reason = _rejection(customer_id, total)
    verdict = Verdict.REJECTED if reason else Verdict.PASSED
    return Screening(order_id, customer_id, total, verdict, reason)


def _rejection(customer_id: str, total: Decimal) -> str:
    if customer_id in BLOCKED_CUSTOMERS:
        return f"customer {customer_id} is on the blocklist"
    if total > TOTAL_LIMIT:
        return f"order total {total} is above the screening limit {TOTAL_LIMIT}"
    return ""
