"""Notifications: one per order and kind, into a table a user can read."""

import pytest

from notification_service import model
from notification_service.handlers import SERVICE
from notification_service.repository import NotificationUnitOfWork, create_tables
from shared.events import (
    CustomerNotified,
    OrderCancelled,
    OrderCompleted,
    OrderShipped,
    PaymentRefunded,
)
from tests.support.builders import event


@pytest.fixture
def notification(service_under_test):
    return service_under_test(SERVICE, NotificationUnitOfWork, create_tables)


def test_a_completed_order_is_announced_once(notification):
    completed = OrderCompleted(customer_id="alice", total="19.90")
    emitted = notification.deliver(event(completed), event(completed))
    assert [type(e.payload) for e in emitted] == [CustomerNotified]
    [row] = notification.rows("notifications")
    assert (row["kind"], row["customer_id"]) == ("order_completed", "alice")
    assert "19.90" in row["message"]


def test_a_cancellation_and_its_refund_are_two_notifications(notification):
    notification.deliver(
        event(PaymentRefunded(refund_id="r", payment_id="p", customer_id="alice", amount="9.95",
                              reason="no carrier")),
        event(OrderCancelled(customer_id="alice", reason="ShipmentFailed: no carrier")))
    kinds = sorted(row["kind"] for row in notification.rows("notifications"))
    assert kinds == ["order_cancelled", "payment_refunded"]


@pytest.mark.parametrize(("fact", "kind", "message"), [
    (OrderCompleted(customer_id="alice", total="19.90"), "order_completed",
     "Your order ord-1 (19.90) is on its way."),
    (OrderCancelled(customer_id="alice", reason="PaymentFailed: declined"), "order_cancelled",
     "Your order ord-1 was cancelled: PaymentFailed: declined."),
    (PaymentRefunded(refund_id="r", payment_id="p", customer_id="alice", amount="9.95",
                     reason="x"), "payment_refunded", "We refunded 9.95 for order ord-1."),
])
def test_each_outcome_is_told_to_its_customer_about_their_order(fact, kind, message):
    assert model.compose("ord-1", fact) == model.Notification("ord-1", "alice", kind, message)


def test_a_fact_the_customer_is_not_told_about_is_refused_by_name():
    with pytest.raises(ValueError, match="^nothing to tell the customer about OrderShipped$"):
        model.compose("ord-1", OrderShipped(shipment_id="s", carrier="c", tracking_number="t"))
