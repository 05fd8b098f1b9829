"""Payment rules: charge within the customer's balance, refund beside the charge.

Invariant per customer: ``balance + charges - refunds == deposited``; a charge
is refunded at most once and never above its amount.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum


class PaymentStatus(StrEnum):
    CHARGED = "CHARGED"
    DECLINED = "DECLINED"


@dataclass(frozen=True)
class Account:
    customer_id: str
    balance: Decimal = Decimal("0.00")
    deposited: Decimal = Decimal("0.00")

    def deposit(self, amount: Decimal) -> Account:
        return replace(self, balance=self.balance + amount, deposited=self.deposited + amount)


@dataclass(frozen=True)
class Payment:
    payment_id: str
    order_id: str
    customer_id: str
    amount: Decimal
    status: PaymentStatus
    reason: str = ""


@dataclass(frozen=True)
class Refund:
    refund_id: str
    payment_id: str
    order_id: str
    amount: Decimal
    reason: str


def charge(payment_id: str, order_id: str, customer_id: str, amount: Decimal,
           account: Account | None, *, cancelled: bool = False) -> tuple[Payment, Account | None]:
    """Charge the order total, or decline it with a reason the customer can read."""
    reason = _decline_reason(amount, account, cancelled)
    if reason:
        return Payment(payment_id, order_id, customer_id, amount, PaymentStatus.DECLINED,
                       reason), account
    charged = replace(account, balance=account.balance - amount)
    return Payment(payment_id, order_id, customer_id, amount, PaymentStatus.CHARGED), charged


def _decline_reason(amount: Decimal, account: Account | None, cancelled: bool) -> str:
    if cancelled:
        return "order cancelled before payment"
    if account is None:
        return "unknown customer"
    if account.balance < amount:
        return f"insufficient funds: balance {account.balance}, order total {amount}"
    return ""


def refund(refund_id: str, payment: Payment, existing: Refund | None, account: Account,
           reason: str) -> tuple[Refund | None, Account]:
    """Give a charge back once; a declined payment or an existing refund changes nothing."""
    if payment.status is not PaymentStatus.CHARGED or existing is not None:
        return None, account
    credited = replace(account, balance=account.balance + payment.amount)
    return Refund(refund_id, payment.payment_id, payment.order_id, payment.amount,
                  reason), credited
