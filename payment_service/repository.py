"""Payment's tables: accounts, one payment per order, refunds beside them."""

from __future__ import annotations

import time
from decimal import Decimal

from payment_service.model import Account, Payment, PaymentStatus, Refund
from shared.store import Database, create_table
from shared.uow import UnitOfWork


def create_tables(db: Database) -> None:
    # Money is stored as TEXT holding the exact decimal, never as REAL.
    create_table(db, "accounts", {"customer_id": str, "balance": str, "deposited": str},
                 pk="customer_id")
    create_table(db, "payments", {"order_id": str, "payment_id": str, "customer_id": str,
                                  "amount": str, "status": str, "reason": str,
                                  "created_at": float}, pk="order_id")
    create_table(db, "refunds", {"order_id": str, "refund_id": str, "payment_id": str,
                                 "amount": str, "reason": str, "created_at": float},
                 pk="order_id")
    create_table(db, "cancelled_orders", {"order_id": str, "reason": str}, pk="order_id")


class PaymentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def account(self, customer_id: str) -> Account | None:
        """The customer's account, locked until the transaction ends where other instances
        could charge or credit it at the same time."""
        row = self.db.execute("SELECT balance, deposited FROM accounts WHERE customer_id = ?"
                              f"{self.db.for_update}", [customer_id]).fetchone()
        return Account(customer_id, Decimal(row[0]), Decimal(row[1])) if row else None

    def account_to_deposit_into(self, customer_id: str) -> Account:
        """The account, made first if the customer is new: then it can be locked, and two
        deposits for a new customer at once take turns instead of one overwriting the other."""
        self.db.execute("INSERT INTO accounts (customer_id, balance, deposited) "
                        "VALUES (?, '0.00', '0.00') ON CONFLICT DO NOTHING", [customer_id])
        return self.account(customer_id)

    def save_account(self, account: Account) -> None:
        self.db.execute(
            "INSERT INTO accounts (customer_id, balance, deposited) VALUES (?, ?, ?) "
            "ON CONFLICT (customer_id) DO UPDATE SET balance = excluded.balance, "
            "deposited = excluded.deposited",
            [account.customer_id, str(account.balance), str(account.deposited)])

    def payment(self, order_id: str) -> Payment | None:
        row = self.db.execute("SELECT payment_id, order_id, customer_id, amount, status, reason "
                              "FROM payments WHERE order_id = ?", [order_id]).fetchone()
        if row is None:
            return None
        payment_id, order_id, customer_id, amount, status, reason = row
        return Payment(payment_id, order_id, customer_id, Decimal(amount),
                       PaymentStatus(status), reason)

    def add_payment(self, payment: Payment) -> None:
        self.db.execute(
            "INSERT INTO payments (payment_id, order_id, customer_id, amount, status, reason, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [payment.payment_id, payment.order_id, payment.customer_id, str(payment.amount),
             str(payment.status), payment.reason, time.time()])

    def refund(self, order_id: str) -> Refund | None:
        row = self.db.execute("SELECT refund_id, payment_id, order_id, amount, reason "
                              "FROM refunds WHERE order_id = ?", [order_id]).fetchone()
        return Refund(row[0], row[1], row[2], Decimal(row[3]), row[4]) if row else None

    def add_refund(self, refund: Refund) -> None:
        self.db.execute(
            "INSERT INTO refunds (refund_id, payment_id, order_id, amount, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [refund.refund_id, refund.payment_id, refund.order_id, str(refund.amount),
             refund.reason, time.time()])

    def cancellation_accepted(self, order_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM cancelled_orders WHERE order_id = ?",
                               [order_id]).fetchone() is not None

    def note_cancellation(self, order_id: str, reason: str) -> None:
        self.db.execute("INSERT INTO cancelled_orders (order_id, reason) VALUES (?, ?) "
                        "ON CONFLICT DO NOTHING",
                        [order_id, reason])


class PaymentUnitOfWork(UnitOfWork):
    def __init__(self, db: Database, **options) -> None:
        super().__init__(db, "payment_service", **options)
        self.payments = PaymentRepository(db)
