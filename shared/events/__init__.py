"""Event contracts: the envelope, the catalog of payloads, and the wire codec."""

from shared.events.base import Count, Event, Identifier, Money, Payload
from shared.events.catalog import (
    CATALOG,
    DEADLINE_PASSED,
    REFERENCE_EVENTS,
    SAGA_EVENTS,
    Address,
    CustomerNotified,
    FraudCheckFailed,
    FraudCheckPassed,
    FundsDeposited,
    LineItem,
    OrderCancellationAccepted,
    OrderCancellationRejected,
    OrderCancellationRequested,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderShipped,
    PaymentCharged,
    PaymentFailed,
    PaymentRefunded,
    ReleasedLine,
    ShipmentFailed,
    Shortage,
    StockAdded,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from shared.events.codec import RejectedMessage, decode, encode

__all__ = [
    "CATALOG", "DEADLINE_PASSED", "REFERENCE_EVENTS", "SAGA_EVENTS", "Address", "Count",
    "CustomerNotified", "Event", "FraudCheckFailed", "FraudCheckPassed", "FundsDeposited",
    "Identifier", "LineItem", "Money", "OrderCancellationAccepted", "OrderCancellationRejected",
    "OrderCancellationRequested", "OrderCancelled", "OrderCompleted", "OrderCreated",
    "OrderShipped", "Payload", "PaymentCharged", "PaymentFailed", "PaymentRefunded",
    "RejectedMessage", "ReleasedLine", "ShipmentFailed", "Shortage", "StockAdded",
    "StockReleased", "StockReservationFailed", "StockReserved", "decode", "encode",
]
