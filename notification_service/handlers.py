"""Notification's reaction: claim the inbox, record the notification once, emit, commit."""

from __future__ import annotations

import logging

from notification_service import model
from notification_service.repository import NotificationUnitOfWork
from shared.choreography import Reaction, ServiceSpec
from shared.events import CustomerNotified, Event, OrderCancelled, OrderCompleted, PaymentRefunded

log = logging.getLogger("notification_service.sink")


def notify_customer(event: Event, uow: NotificationUnitOfWork) -> None:
    notification = model.compose(event.order_id, event.payload)
    delivered = False
    with uow:
        if uow.inbox.claim(event) and not uow.notifications.exists(
                notification.order_id, notification.kind):
            uow.notifications.add(notification)
            uow.emit(CustomerNotified(customer_id=notification.customer_id, kind=notification.kind,
                                      message=notification.message), caused_by=event)
            delivered = True
        uow.commit()
    if delivered:
        log.info(notification.message, extra={"order_id": notification.order_id,
                                               "customer_id": notification.customer_id,
                                               "kind": notification.kind})


SERVICE = ServiceSpec(
    name="notification_service",
    description="Tells customers how their order ended; retried forward, never compensated.",
    reactions={
        OrderCompleted: Reaction(notify_customer, emits=(CustomerNotified,)),
        OrderCancelled: Reaction(notify_customer, emits=(CustomerNotified,)),
        PaymentRefunded: Reaction(notify_customer, emits=(CustomerNotified,)),
    },
)
