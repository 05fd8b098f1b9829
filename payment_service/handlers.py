"""Payment's reactions. Each: claim the inbox, apply the rules, emit, commit."""

from __future__ import annotations

import uuid

from payment_service import model
from payment_service.repository import PaymentUnitOfWork
from shared.choreography import Reaction, ServiceSpec
from shared.events import (
    ChargePayment,
    Event,
    FraudCheckPassed,
    FundsDeposited,
    OrderCancellationAccepted,
    PaymentCharged,
    PaymentFailed,
    PaymentRefunded,
    RefundPayment,
    ShipmentFailed,
    StockReserved,
)


def charge_payment(event: Event, uow: PaymentUnitOfWork) -> None:
    # What comes before the charge in the saga's flow: StockReserved (v1) or FraudCheckPassed
    # (v2). Both carry the customer, the lines (so the total) and the address.
    order: StockReserved | FraudCheckPassed = event.payload
    with uow:
        if uow.inbox.claim(event) and uow.payments.payment(event.order_id) is None:
            payment, account = model.charge(
                f"pay-{uuid.uuid4().hex[:12]}", event.order_id, order.customer_id, order.total,
                uow.payments.account(order.customer_id),
                cancelled=uow.payments.cancellation_accepted(event.order_id))
            uow.payments.add_payment(payment)
            if payment.status is model.PaymentStatus.CHARGED:
                uow.payments.save_account(account)
                uow.emit(PaymentCharged(payment_id=payment.payment_id, customer_id=order.customer_id,
                                        amount=payment.amount,
                                        shipping_address=order.shipping_address), caused_by=event)
            else:
                uow.emit(PaymentFailed(customer_id=order.customer_id, amount=payment.amount,
                                       reason=payment.reason), caused_by=event)
        uow.commit()


def refund_payment(event: Event, uow: PaymentUnitOfWork) -> None:
    failure: ShipmentFailed = event.payload
    with uow:
        payment = uow.payments.payment(event.order_id)
        if uow.inbox.claim(event) and payment is not None:
            refund, account = model.refund(
                f"ref-{uuid.uuid4().hex[:12]}", payment, uow.payments.refund(event.order_id),
                uow.payments.account(payment.customer_id), reason=failure.reason)
            if refund is not None:
                uow.payments.add_refund(refund)
                uow.payments.save_account(account)
                uow.emit(PaymentRefunded(refund_id=refund.refund_id, payment_id=payment.payment_id,
                                         customer_id=payment.customer_id, amount=refund.amount,
                                         reason=refund.reason), caused_by=event)
        uow.commit()


def note_accepted_cancellation(event: Event, uow: PaymentUnitOfWork) -> None:
    accepted: OrderCancellationAccepted = event.payload
    with uow:
        # Only matters if the charge has not happened yet: then it is declined instead.
        if uow.inbox.claim(event):
            uow.payments.note_cancellation(event.order_id, accepted.reason)
        uow.commit()


def deposit_funds(event: Event, uow: PaymentUnitOfWork) -> None:
    deposit: FundsDeposited = event.payload
    with uow:
        if uow.inbox.claim(event):
            account = uow.payments.account_to_deposit_into(deposit.customer_id)
            uow.payments.save_account(account.deposit(deposit.amount))
        uow.commit()


SERVICE = ServiceSpec(
    name="payment_service",
    description="Owns customer balances; charges order totals, refunds on compensation.",
    reactions={
        # The charge follows the step before it in the saga's flow: the reservation in
        # version 1, the fraud screening from version 2 on.
        StockReserved: Reaction(charge_payment, emits=(PaymentCharged, PaymentFailed),
                                versions=frozenset({1})),
        FraudCheckPassed: Reaction(charge_payment, emits=(PaymentCharged, PaymentFailed),
                                   versions=frozenset({2})),
        ShipmentFailed: Reaction(refund_payment, emits=(PaymentRefunded,)),
        OrderCancellationAccepted: Reaction(note_accepted_cancellation),
        FundsDeposited: Reaction(deposit_funds),
    },
)

#: The same reactions when orchestrator_service commands each step (SAGA_MODE=orchestrated).
#: Cancellations are the orchestrator's to decide there: no charge is ever declined for one.
COMMANDED = ServiceSpec(
    name="payment_service",
    description=SERVICE.description,
    reactions={
        ChargePayment: Reaction(charge_payment, emits=(PaymentCharged, PaymentFailed)),
        RefundPayment: Reaction(refund_payment, emits=(PaymentRefunded,)),
        FundsDeposited: Reaction(deposit_funds),
    },
)

#: What this service does in each mode (SAGA_MODE).
DECLARATIONS = {"choreographed": SERVICE, "orchestrated": COMMANDED}
