"""One valid example per event type: for the generated docs and `sagactl publish --example`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.events.base import Event, Payload
from shared.events.catalog import (
    CATALOG,
    Address,
    CancelOrder,
    ChargePayment,
    CheckFraud,
    CompleteOrder,
    CustomerNotified,
    FraudCheckFailed,
    FraudCheckPassed,
    FundsDeposited,
    LineItem,
    MarkStockShipped,
    NotifyCustomer,
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
    RefundPayment,
    ReleasedLine,
    ReleaseStock,
    ReserveStock,
    ShipmentFailed,
    ShipOrder,
    Shortage,
    StockAdded,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)

_ADDRESS = Address(name="Ada Lovelace", street="12 St James's Square", city="London",
                   postal_code="SW1Y 4JH", country="GB")
_ITEMS = (LineItem(sku="WIDGET-1", quantity=2, unit_price=Decimal("9.95")),)
_CUSTOMER = "alice"

EXAMPLES: dict[type[Payload], Payload] = {
    OrderCreated: OrderCreated(customer_id=_CUSTOMER, items=_ITEMS, shipping_address=_ADDRESS),
    StockReserved: StockReserved(customer_id=_CUSTOMER, items=_ITEMS, shipping_address=_ADDRESS),
    StockReservationFailed: StockReservationFailed(
        reason="insufficient stock",
        shortages=(Shortage(sku="WIDGET-1", requested=2, available=1),)),
    FraudCheckPassed: FraudCheckPassed(customer_id=_CUSTOMER, items=_ITEMS,
                                       shipping_address=_ADDRESS),
    FraudCheckFailed: FraudCheckFailed(customer_id="mallory",
                                       reason="customer mallory is on the blocklist"),
    PaymentCharged: PaymentCharged(payment_id="pay-1a2b3c", customer_id=_CUSTOMER,
                                   amount=Decimal("19.90"), shipping_address=_ADDRESS),
    PaymentFailed: PaymentFailed(customer_id=_CUSTOMER, amount=Decimal("19.90"),
                                 reason="insufficient funds: balance 5.00, order total 19.90"),
    OrderShipped: OrderShipped(shipment_id="shp-4d5e6f", carrier="Parcel Express",
                               tracking_number="PX0012345678"),
    ShipmentFailed: ShipmentFailed(reason="carrier does not deliver to country AQ"),
    PaymentRefunded: PaymentRefunded(refund_id="ref-7a8b9c", payment_id="pay-1a2b3c",
                                     customer_id=_CUSTOMER, amount=Decimal("19.90"),
                                     reason="carrier does not deliver to country AQ"),
    StockReleased: StockReleased(items=(ReleasedLine(sku="WIDGET-1", quantity=2),),
                                 reason="compensating PaymentFailed"),
    OrderCompleted: OrderCompleted(customer_id=_CUSTOMER, total=Decimal("19.90")),
    OrderCancelled: OrderCancelled(customer_id=_CUSTOMER,
                                   reason="PaymentFailed: insufficient funds"),
    OrderCancellationRequested: OrderCancellationRequested(reason="changed my mind"),
    OrderCancellationAccepted: OrderCancellationAccepted(reason="the order will not ship"),
    OrderCancellationRejected: OrderCancellationRejected(
        reason="order already shipped (PX0012345678)"),
    CustomerNotified: CustomerNotified(customer_id=_CUSTOMER, kind="order_completed",
                                       message="Your order ord-42 (19.90) is on its way."),
    StockAdded: StockAdded(sku="WIDGET-1", quantity=100),
    FundsDeposited: FundsDeposited(customer_id=_CUSTOMER, amount=Decimal("500.00")),
    # The orchestrator's commands (SAGA_MODE=orchestrated).
    ReserveStock: ReserveStock(customer_id=_CUSTOMER, items=_ITEMS, shipping_address=_ADDRESS),
    CheckFraud: CheckFraud(customer_id=_CUSTOMER, items=_ITEMS, shipping_address=_ADDRESS),
    ChargePayment: ChargePayment(customer_id=_CUSTOMER, items=_ITEMS, shipping_address=_ADDRESS),
    ShipOrder: ShipOrder(shipping_address=_ADDRESS),
    MarkStockShipped: MarkStockShipped(),
    CompleteOrder: CompleteOrder(),
    NotifyCustomer: NotifyCustomer(customer_id=_CUSTOMER, kind="order_completed",
                                   total=Decimal("19.90")),
    RefundPayment: RefundPayment(reason="compensating: ShipmentFailed: no carrier to AQ"),
    ReleaseStock: ReleaseStock(reason="compensating: PaymentFailed: insufficient funds"),
    CancelOrder: CancelOrder(reason="PaymentFailed: insufficient funds"),
}
assert set(EXAMPLES) == set(CATALOG.values()), "every event type needs an example"


def example_event(payload_type: type[Payload]) -> Event:
    payload = EXAMPLES[payload_type]
    return Event(event_id="8a1f0c2e9b7d4e55a3c6f1d2e3b4a5c6", event_type=payload.event_type(),
                 occurred_at=datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
                 order_id="ord-42" if payload.belongs_to_order else None,
                 causation_id=None, producer="example", payload=payload)
