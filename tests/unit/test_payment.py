"""Payment: charge within the balance, decline with a reason, refund once beside the charge."""

from decimal import Decimal

import pytest

from payment_service import model
from payment_service.handlers import SERVICE
from payment_service.repository import PaymentRepository, PaymentUnitOfWork, create_tables
from shared.events import (
    FraudCheckPassed,
    FundsDeposited,
    OrderCancellationAccepted,
    PaymentCharged,
    PaymentFailed,
    PaymentRefunded,
    ShipmentFailed,
)
from tests.support.builders import ADDRESS, event, reserved


@pytest.fixture
def payment(service_under_test):
    payment = service_under_test(SERVICE, PaymentUnitOfWork, create_tables)
    payment.deliver(event(FundsDeposited(customer_id="alice", amount="50.00")))
    return payment


def _balance(payment, customer="alice") -> Decimal:
    return PaymentRepository(payment.db).account(customer).balance


def test_a_charge_within_the_balance_succeeds(payment):
    [charged] = payment.deliver(event(reserved()))
    assert isinstance(charged.payload, PaymentCharged)
    assert charged.payload.amount == Decimal("19.90")
    assert _balance(payment) == Decimal("30.10")


def test_in_the_second_flow_payment_charges_after_the_screening_not_the_reservation(payment):
    assert payment.deliver(event(reserved(), saga_version=2)) == []
    screened = FraudCheckPassed(**reserved().model_dump(exclude={"total"}))
    [charged] = payment.deliver(event(screened, saga_version=2))
    assert isinstance(charged.payload, PaymentCharged) and charged.saga_version == 2
    assert (charged.payload.amount, charged.payload.shipping_address) == (Decimal("19.90"),
                                                                          ADDRESS)
    assert _balance(payment) == Decimal("30.10")


def test_a_charge_above_the_balance_is_declined_and_costs_nothing(payment):
    [failed] = payment.deliver(event(reserved(price="30.00")))
    assert isinstance(failed.payload, PaymentFailed)
    assert "insufficient funds" in failed.payload.reason
    assert _balance(payment) == Decimal("50.00")


def test_an_unknown_customer_is_declined(payment):
    [failed] = payment.deliver(event(reserved(customer="mallory")))
    assert failed.payload.reason == "unknown customer"


def test_a_refund_is_recorded_beside_the_charge_and_restores_the_balance(payment):
    payment.deliver(event(reserved()))
    [refunded] = payment.deliver(event(ShipmentFailed(reason="no carrier")))
    assert isinstance(refunded.payload, PaymentRefunded)
    assert _balance(payment) == Decimal("50.00")
    assert [row["status"] for row in payment.rows("payments")] == ["CHARGED"]
    assert [row["amount"] for row in payment.rows("refunds")] == ["19.90"]


def test_a_refund_happens_at_most_once(payment):
    payment.deliver(event(reserved()))
    payment.deliver(event(ShipmentFailed(reason="a")))
    assert payment.deliver(event(ShipmentFailed(reason="b"))) == []
    assert _balance(payment) == Decimal("50.00")


def test_a_declined_payment_is_never_refunded(payment):
    payment.deliver(event(reserved(price="99.00")))
    assert payment.deliver(event(ShipmentFailed(reason="x"))) == []


def test_an_accepted_cancellation_declines_the_charge_that_follows(payment):
    payment.deliver(event(OrderCancellationAccepted(reason="the order will not ship")))
    [failed] = payment.deliver(event(reserved()))
    assert failed.payload.reason == "order cancelled before payment"
    assert _balance(payment) == Decimal("50.00")


def test_the_same_order_is_charged_once_whatever_arrives_twice(payment):
    first = event(reserved())
    payment.deliver(first, first, event(reserved()))
    assert _balance(payment) == Decimal("30.10")
    assert payment.outbox_types() == ["PaymentCharged"]


def test_an_order_costing_exactly_the_balance_is_charged(payment):
    [charged] = payment.deliver(event(reserved(price="25.00")))
    assert isinstance(charged.payload, PaymentCharged)
    assert _balance(payment) == Decimal("0.00")


def test_the_same_deposit_delivered_twice_credits_once(payment):
    deposit = event(FundsDeposited(customer_id="bob", amount="20.00"))
    payment.deliver(deposit, deposit)
    assert PaymentRepository(payment.db).account("bob") == model.Account(
        "bob", Decimal("20.00"), Decimal("20.00"))


def test_deposits_add_to_the_balance_and_to_what_was_deposited():
    account = model.Account("bob").deposit(Decimal("20.00")).deposit(Decimal("5.00"))
    assert account == model.Account("bob", Decimal("25.00"), Decimal("25.00"))


def test_a_declined_charge_records_whose_order_and_why_and_costs_nothing():
    account = model.Account("alice", Decimal("50.00"), Decimal("50.00"))
    payment, after = model.charge("pay-1", "ord-1", "alice", Decimal("50.01"), account)
    assert payment == model.Payment("pay-1", "ord-1", "alice", Decimal("50.01"),
                                    model.PaymentStatus.DECLINED,
                                    "insufficient funds: balance 50.00, order total 50.01")
    assert after is account


def test_a_refund_gives_back_the_charge_it_belongs_to():
    charged = model.Payment("pay-1", "ord-1", "alice", Decimal("19.90"),
                            model.PaymentStatus.CHARGED)
    refund, account = model.refund("ref-1", charged, None, model.Account("alice"), "no carrier")
    assert refund == model.Refund("ref-1", "pay-1", "ord-1", Decimal("19.90"), "no carrier")
    assert account.balance == Decimal("19.90")
