"""Notifications: one per order and kind, into a table a user can read."""

import pytest

from notification_service.handlers import SERVICE
from notification_service.repository import NotificationUnitOfWork, create_tables
from shared.events import CustomerNotified, OrderCancelled, OrderCompleted, PaymentRefunded
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
