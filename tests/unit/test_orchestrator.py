"""The orchestrated saga (SAGA_MODE=orchestrated): the orchestrator's rules on their own, the
flow checked against every participant's orchestrated declaration, and whole sagas run through
every service's real reactions and tables, in memory, message by message."""

from dataclasses import replace
from decimal import Decimal

import pytest

from orchestrator_service import model
from orchestrator_service.model import Phase
from order_service.repository import DEADLINE
from participants import OPERATOR, ORCHESTRATED_SERVICES
from payment_service.handlers import COMMANDED as PAYMENT_COMMANDED
from shared.events import (
    DEADLINE_PASSED,
    CustomerNotified,
    OrderCancellationRequested,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderShipped,
    PaymentCharged,
    PaymentRefunded,
    RefundPayment,
    ShipmentFailed,
    StockReleased,
    StockReserved,
)
from shared.orchestration import FLOWS, check, check_every_version
from tests.support.builders import ADDRESS, order_created
from tests.support.orchestrated import InMemoryMesh

V1 = FLOWS[1]


def names(payloads) -> list[str]:
    return [p.event_type() for p in payloads]


def started(order: OrderCreated | None = None) -> model.Decision:
    return model.start("ord-1", 1, order or order_created(), V1)


def test_a_saga_starts_by_commanding_the_first_step_with_what_it_needs():
    decision = started()
    [reserve] = decision.commands
    assert names(decision.commands) == ["ReserveStock"]
    assert (reserve.customer_id, reserve.items, reserve.shipping_address) == (
        "alice", order_created().items, ADDRESS)
    assert (decision.saga.phase, decision.saga.at) == (Phase.FORWARD, 1)


def test_each_reply_commands_the_next_step_until_the_customer_is_told():
    saga, sent = started().saga, []
    replies = [StockReserved(customer_id="alice", items=order_created().items,
                             shipping_address=ADDRESS),
               PaymentCharged(payment_id="p", customer_id="alice", amount=Decimal("1"),
                              shipping_address=ADDRESS),
               OrderShipped(shipment_id="s", carrier="c", tracking_number="t"),
               _completed(), CustomerNotified(customer_id="alice", kind="order_completed",
                                              message="m")]
    for reply in replies:
        decision = model.on_reply(saga, V1, reply)
        saga, sent = decision.saga, sent + names(decision.commands)
    assert sent == ["ChargePayment", "ShipOrder", "CompleteOrder", "MarkStockShipped",
                    "NotifyCustomer"]
    assert saga.phase is Phase.COMPLETED


def test_a_failure_undoes_the_steps_before_it_latest_first_then_tells_the_customer():
    saga = replace(started().saga, at=3)  # ShipOrder in flight
    decision = model.on_reply(saga, V1, ShipmentFailed(reason="no carrier"))
    sent = names(decision.commands)
    for reply in (_refunded(), StockReleased(items=(), reason="r"), _cancelled()):
        decision = model.on_reply(decision.saga, V1, reply)
        sent += names(decision.commands)
    assert sent == ["RefundPayment", "ReleaseStock", "CancelOrder", "NotifyCustomer"]
    assert decision.saga.phase is Phase.CLOSING
    assert decision.saga.reason == "ShipmentFailed: no carrier"
    done = model.on_reply(decision.saga, V1, CustomerNotified(
        customer_id="alice", kind="order_cancelled", message="m"))
    assert done.saga.phase is Phase.CANCELLED and done.commands == []


def test_a_reply_the_saga_no_longer_waits_for_changes_nothing():
    saga = replace(started().saga, at=2)  # ChargePayment in flight
    late = StockReserved(customer_id="alice", items=order_created().items,
                         shipping_address=ADDRESS)
    assert model.on_reply(saga, V1, late) == model.Decision(saga)


def test_a_cancellation_before_shipping_is_accepted_and_undoes_the_step_in_flight_too():
    saga = replace(started().saga, at=2)  # ChargePayment in flight
    accepted = model.on_cancellation(saga, "ord-1", 1, "changed mind", V1)
    assert names(accepted.answers) == ["OrderCancellationAccepted"] and not accepted.commands
    charged = model.on_reply(accepted.saga, V1, PaymentCharged(
        payment_id="p", customer_id="alice", amount=Decimal("1"), shipping_address=ADDRESS))
    assert names(charged.commands) == ["RefundPayment"]
    assert charged.saga.reason == "changed mind"


def test_a_cancellation_once_the_pivot_is_commanded_is_rejected():
    saga = replace(started().saga, at=3)  # ShipOrder sent
    rejected = model.on_cancellation(saga, "ord-1", 1, "late", V1)
    assert names(rejected.answers) == ["OrderCancellationRejected"]
    assert rejected.saga == saga


def test_a_cancellation_that_overtakes_its_order_cancels_it_as_soon_as_it_arrives():
    waiting = model.on_cancellation(None, "ord-1", 1, "changed mind", V1)
    assert names(waiting.answers) == ["OrderCancellationAccepted"]
    decision = model.start("ord-1", 1, order_created(), V1, waiting=waiting.saga)
    assert names(decision.commands) == ["CancelOrder"]


def test_the_orchestrated_flows_are_sound_for_every_version():
    assert check_every_version([*ORCHESTRATED_SERVICES, OPERATOR]) == []


def test_a_participant_that_cannot_undo_its_step_breaks_the_orchestrated_flow():
    reactions = {k: v for k, v in PAYMENT_COMMANDED.reactions.items() if k is not RefundPayment}
    broken = [replace(PAYMENT_COMMANDED, reactions=reactions) if s.name == "payment_service"
              else s for s in ORCHESTRATED_SERVICES]
    assert check(V1, broken) == ["payment_service does not obey RefundPayment"]


@pytest.fixture
def mesh() -> InMemoryMesh:
    return InMemoryMesh()


@pytest.mark.parametrize("version", [1, 2])
def test_an_orchestrated_saga_completes_through_every_real_reaction(mesh, version):
    mesh.run(order_created(), version=version)
    assert mesh.order()["status"] == "COMPLETED" and mesh.saga()["phase"] == "COMPLETED"
    expected = ["OrderCreated", "ReserveStock", "StockReserved",
                *(["CheckFraud", "FraudCheckPassed"] if version == 2 else []),
                "ChargePayment", "PaymentCharged", "ShipOrder", "OrderShipped",
                "CompleteOrder", "MarkStockShipped", "OrderCompleted", "NotifyCustomer",
                "CustomerNotified"]
    assert mesh.types() == expected
    assert [r["status"] for r in mesh.kits["inventory_service"].rows("reservations")] == [
        "SHIPPED"]


def test_a_declined_payment_is_compensated_and_the_customer_told_once(mesh):
    mesh.run(order_created(customer="bob"))
    assert mesh.order()["status"] == "CANCELLED"
    assert mesh.order()["cancel_reason"].startswith("PaymentFailed: ")
    compensations = [t for t in mesh.types() if t in ("StockReleased", "OrderCancelled")]
    assert compensations == ["StockReleased", "OrderCancelled"]
    assert [r["kind"] for r in mesh.kits["notification_service"].rows("notifications")] == [
        "order_cancelled"]
    assert mesh.saga()["phase"] == "CANCELLED"


def test_a_fraud_rejection_releases_the_stock_and_cancels(mesh):
    mesh.run(order_created(customer="mallory"))
    assert mesh.order()["status"] == "CANCELLED"
    assert "PaymentCharged" not in mesh.types() and "StockReleased" in mesh.types()


def test_an_accepted_cancellation_refunds_a_charge_that_was_in_flight(mesh):
    [charge] = mesh.run(order_created(), hold=("ChargePayment",))
    mesh.deliver([mesh.kits["order_service"].event(
        OrderCancellationRequested(reason="changed mind"), version=2)])
    assert "OrderCancellationAccepted" in mesh.types()
    mesh.deliver([charge])
    assert mesh.order()["status"] == "CANCELLED" and mesh.order()["cancellation"] == "ACCEPTED"
    assert [t for t in mesh.types() if t in ("PaymentRefunded", "StockReleased",
                                              "OrderCancelled")] == [
        "PaymentRefunded", "StockReleased", "OrderCancelled"]


def test_a_cancellation_after_shipping_is_commanded_is_rejected(mesh):
    [ship] = mesh.run(order_created(), hold=("ShipOrder",))
    mesh.deliver([mesh.kits["order_service"].event(
        OrderCancellationRequested(reason="late"), version=2)])
    mesh.deliver([ship])
    assert mesh.order()["status"] == "COMPLETED" and mesh.order()["cancellation"] == "REJECTED"


def test_a_redelivered_reply_moves_the_saga_only_once(mesh):
    [charge] = mesh.run(order_created(), hold=("ChargePayment",))
    [reply] = mesh.kits["payment_service"].deliver(charge)
    mesh.deliver([reply])
    mesh.deliver([reply])  # the same event again: the inbox has it
    assert mesh.types().count("ShipOrder") == 1
    assert mesh.order()["status"] == "COMPLETED"


def _completed() -> OrderCompleted:
    return OrderCompleted(customer_id="alice", total=Decimal("19.90"))


def _cancelled() -> OrderCancelled:
    return OrderCancelled(customer_id="alice", reason="r")


def _refunded() -> PaymentRefunded:
    return PaymentRefunded(refund_id="r", payment_id="p", customer_id="alice",
                           amount=Decimal("1"), reason="r")


def test_an_overdue_order_is_cancelled_through_the_orchestrator_as_a_request_would_be(mesh):
    [charge] = mesh.run(order_created(), hold=("ChargePayment",))
    orders = mesh.kits["order_service"]
    orders.clock.advance(3600)  # past the order's deadline: its timer fires
    timer = orders.new_uow()
    orders.spec.timeouts[DEADLINE].handler("ord-1", timer)
    mesh.deliver(timer.emitted)
    mesh.deliver([charge])
    order = mesh.order()
    assert (order["status"], order["cancellation"]) == ("CANCELLED", "ACCEPTED")
    assert DEADLINE_PASSED in order["cancel_reason"]
    assert [t for t in mesh.types() if t in ("PaymentRefunded", "StockReleased")] == [
        "PaymentRefunded", "StockReleased"]
