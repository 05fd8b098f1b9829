"""Every event of the order saga. One Kafka topic per class, named after it.

Forward steps carry forward what the next step needs (event-carried state), so
no service has to ask another one for data.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import ClassVar, Literal

from pydantic import Field, computed_field, field_validator, model_validator

from shared.events.base import MAX_MONEY, Contract, Count, Identifier, Money, Payload

Sku = str


class LineItem(Contract):
    sku: Sku = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$", description="Stock keeping unit.",
                     examples=["WIDGET-1"])
    quantity: Count = Field(gt=0, le=1000, examples=[2])
    unit_price: Money = Field(description="Price of one unit.")


class Address(Contract):
    name: str = Field(min_length=1, max_length=100, examples=["Ada Lovelace"])
    street: str = Field(min_length=1, max_length=200, examples=["12 St James's Square"])
    city: str = Field(min_length=1, max_length=100, examples=["London"])
    postal_code: str = Field(default="", max_length=20, examples=["SW1Y 4JH"])
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code.",
                         examples=["GB"])


class OrderLines(Payload):
    """Base for payloads that carry the order's lines; the total is derived, never trusted."""

    customer_id: Identifier = Field(description="Who ordered, and whose balance pays.")
    items: tuple[LineItem, ...] = Field(min_length=1, max_length=50,
                                        description="Order lines; each SKU at most once.")

    @field_validator("items")
    @classmethod
    def _each_sku_once(cls, items: tuple[LineItem, ...]) -> tuple[LineItem, ...]:
        check_each_sku_once(items)
        return items

    @computed_field(description="Sum of quantity × unit_price; at most 9999999999.99, like "
                                "every amount, so that it can be charged and refunded.")
    @cached_property  # the lines never change: summed once, however often it is read
    def total(self) -> Decimal:
        return order_total(self.items)

    @model_validator(mode="after")
    def _total_fits(self) -> OrderLines:
        check_total_fits(self.total)
        return self


def check_each_sku_once(items) -> None:
    skus = [item.sku for item in items]
    if len(skus) != len(set(skus)):
        raise ValueError("each SKU may appear only once per order")


def order_total(items) -> Decimal:
    return sum((item.unit_price * item.quantity for item in items), Decimal("0.00"))


def check_total_fits(total: Decimal) -> None:
    """An order whose total no amount can hold would be reserved, then never charged."""
    if total > MAX_MONEY:
        raise ValueError(f"order total {total} exceeds the largest amount, {MAX_MONEY}")


class OrderCreated(OrderLines):
    """A customer placed an order; the saga starts. Any producer may publish it."""

    shipping_address: Address = Field(description="Where the parcel goes.")


class StockReserved(OrderLines):
    """Every line of the order is reserved (all or nothing); stock is held, not sold."""

    shipping_address: Address = Field(description="Carried forward for shipping.")


class Shortage(Contract):
    sku: Sku
    requested: Count
    available: Count


class StockReservationFailed(Payload):
    """Not enough stock for at least one line; nothing was reserved."""

    reason: str = Field(description="Why, in words a person can read.")
    shortages: tuple[Shortage, ...] = Field(default=(), description="The lines that fell short.")


class FraudCheckPassed(OrderLines):
    """The order was screened and may be charged (flow version 2 on). Carries what payment
    needs to charge and shipping needs later, as StockReserved does: nobody has to ask."""

    shipping_address: Address = Field(description="Carried forward for shipping.")


class FraudCheckFailed(Payload):
    """The screening rejected the order before any money moved; the saga compensates (stock
    released, order cancelled)."""

    customer_id: Identifier
    reason: str = Field(description="Why, in words a person can read.")


class PaymentCharged(Payload):
    """The customer's balance was charged the order total."""

    payment_id: Identifier = Field(description="The charge's own id.")
    customer_id: Identifier
    amount: Money = Field(description="The order total, charged.")
    shipping_address: Address = Field(description="Carried forward for shipping.")


class PaymentFailed(Payload):
    """The charge was declined (insufficient balance, unknown customer, order cancelled)."""

    customer_id: Identifier
    amount: Money
    reason: str


class OrderShipped(Payload):
    """The parcel left the warehouse: the pivot. From here the saga only moves forward."""

    shipment_id: Identifier
    carrier: str
    tracking_number: str


class ShipmentFailed(Payload):
    """Shipping was not possible (or the order was cancelled) before the parcel left."""

    reason: str


class PaymentRefunded(Payload):
    """Compensation of PaymentCharged: a refund recorded beside the charge."""

    refund_id: Identifier
    payment_id: Identifier
    customer_id: Identifier
    amount: Money
    reason: str


class ReleasedLine(Contract):
    sku: Sku
    quantity: Count


class StockReleased(Payload):
    """Compensation of StockReserved: the reservation is kept on record as released."""

    items: tuple[ReleasedLine, ...]
    reason: str


class OrderCompleted(Payload):
    """The saga finished forward: the order shipped."""

    customer_id: Identifier
    total: Money


class OrderCancelled(Payload):
    """Compensation of OrderCreated: the order is cancelled, keeping its id and history."""

    customer_id: Identifier
    reason: str


#: How the reason of an OrderCancellationRequested begins when the order's deadline asked for
#: it (the order service's timer), so that readers (the monitor) can say so.
DEADLINE_PASSED = "deadline passed"


class OrderCancellationRequested(Payload):
    """Someone asked to cancel the order; shipping (the pivot) accepts or rejects it."""

    reason: str = "requested by customer"


class OrderCancellationAccepted(Payload):
    """Shipping promises never to ship this order; the saga compensates what applies."""

    reason: str


class OrderCancellationRejected(Payload):
    """Too late to cancel: the order has already shipped."""

    reason: str


class CustomerNotified(Payload):
    """A notification was delivered to the customer (one per order outcome)."""

    customer_id: Identifier
    kind: Literal["order_completed", "order_cancelled", "payment_refunded"]
    message: str


class StockAdded(Payload):
    """Reference data: units of a SKU arrived in the warehouse. Keyed by SKU."""

    belongs_to_order: ClassVar[bool] = False
    key_field: ClassVar[str | None] = "sku"

    sku: Sku = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")
    quantity: Count = Field(gt=0, le=1_000_000)


class FundsDeposited(Payload):
    """Reference data: money added to a customer's balance. Keyed by customer id."""

    belongs_to_order: ClassVar[bool] = False
    key_field: ClassVar[str | None] = "customer_id"

    customer_id: Identifier
    amount: Money


class Command(Payload):
    """What the orchestrator asks one participant to do (``SAGA_MODE=orchestrated``), named in
    the imperative; the participant replies with the events above. Each command carries what the
    participant's existing reaction reads from the event it reacts to in the choreography, so the
    same handler serves both."""


class ReserveStock(Command, OrderLines):
    """Reserve every line (all or nothing). Replies: StockReserved or StockReservationFailed."""

    shipping_address: Address = Field(description="Carried forward for the next steps.")


class CheckFraud(Command, OrderLines):
    """Screen the order (flow version 2 on). Replies: FraudCheckPassed or FraudCheckFailed."""

    shipping_address: Address = Field(description="Carried forward for the next steps.")


class ChargePayment(Command, OrderLines):
    """Charge the order total. Replies: PaymentCharged or PaymentFailed."""

    shipping_address: Address = Field(description="Carried forward for shipping.")


class ShipOrder(Command):
    """Ship the paid order: the pivot. Replies: OrderShipped or ShipmentFailed."""

    shipping_address: Address


class MarkStockShipped(Command):
    """The order shipped: its reserved stock left the warehouse. No reply."""


class CompleteOrder(Command):
    """The order shipped: conclude it. Reply: OrderCompleted."""


class NotifyCustomer(Command):
    """Tell the customer how their order ended. Reply: CustomerNotified."""

    customer_id: Identifier
    kind: Literal["order_completed", "order_cancelled"]
    total: Money | None = None
    reason: str | None = None


class RefundPayment(Command):
    """Compensate the charge. Reply: PaymentRefunded."""

    reason: str


class ReleaseStock(Command):
    """Compensate the reservation. Reply: StockReleased."""

    reason: str


class CancelOrder(Command):
    """Compensate the order's creation. Reply: OrderCancelled."""

    reason: str


SAGA_EVENTS: tuple[type[Payload], ...] = (
    OrderCreated, StockReserved, StockReservationFailed, FraudCheckPassed, FraudCheckFailed,
    PaymentCharged, PaymentFailed, OrderShipped, ShipmentFailed, PaymentRefunded, StockReleased,
    OrderCompleted, OrderCancelled, OrderCancellationRequested, OrderCancellationAccepted,
    OrderCancellationRejected, CustomerNotified,
)
#: The orchestrator's commands, one topic each like the events (SAGA_MODE=orchestrated).
COMMANDS: tuple[type[Payload], ...] = (
    ReserveStock, CheckFraud, ChargePayment, ShipOrder, MarkStockShipped, CompleteOrder,
    NotifyCustomer, RefundPayment, ReleaseStock, CancelOrder,
)
REFERENCE_EVENTS: tuple[type[Payload], ...] = (StockAdded, FundsDeposited)
CATALOG: dict[str, type[Payload]] = {
    payload.event_type(): payload for payload in SAGA_EVENTS + COMMANDS + REFERENCE_EVENTS
}
