"""Notification's reaction: claim the inbox, record the notification once, emit, commit."""

from __future__ import annotations

import logging

from notification_service import model
from notification_service.repository import NotificationUnitOfWork
from shared.choreography import Reaction, ServiceSpec
from shared.events import (
    CustomerNotified,
    Event,
    NotifyCustomer,
    OrderCancelled,
    OrderCompleted,
    PaymentRefunded,
)

log = logging.getLogger("notification_service.sink")


def notify_customer(event: Event, uow: NotificationUnitOfWork) -> None:
    notification = model.compose(event.order_id, event.payload)
    with uow:
        if uow.inbox.claim(event) and not uow.notifications.exists(
                notification.order_id, notification.kind):
            uow.notifications.add(notification)
            uow.emit(CustomerNotified(customer_id=notification.customer_id, kind=notification.kind,
                                      message=notification.message), caused_by=event)
            # Told only once the record of it is durable: a batch that rolls back (a crash
            # before the group commit's COMMIT) tells nobody, and its redelivery tells once.
            uow.after_commit(lambda: _tell(notification))
        uow.commit()


def _tell(notification: model.Notification) -> None:
    """The sink: one log line per notification (where a real system sends a message)."""
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

#: The same notifications when orchestrator_service commands each step (SAGA_MODE=orchestrated).
COMMANDED = ServiceSpec(
    name="notification_service",
    description=SERVICE.description,
    reactions={NotifyCustomer: Reaction(notify_customer, emits=(CustomerNotified,))},
)

#: What this service does in each mode (SAGA_MODE).
DECLARATIONS = {"choreographed": SERVICE, "orchestrated": COMMANDED}
