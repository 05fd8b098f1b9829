"""What the order API accepts and answers, as pydantic models: they are its OpenAPI schema,
and schemathesis checks every answer against them (tests/unit/test_order_api_fuzzed.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from order_service.model import Cancellation, OrderStatus
from shared.events import Address, Identifier, LineItem
from shared.events.catalog import check_each_sku_once, check_total_fits, order_total


class PlaceOrder(BaseModel):
    order_id: Identifier | None = Field(default=None, description="Chosen by the client, or "
                                        "generated. Placing the same id twice answers 409.")
    customer_id: Identifier
    items: list[LineItem] = Field(min_length=1, max_length=50)
    shipping_address: Address
    deadline_seconds: float | None = Field(
        default=None, ge=5, le=30 * 86_400, description="Seconds from now by which the order "
        "must have shipped, or be cancelled and compensated (refund included); default: the "
        "service's SAGA_ORDER_DEADLINE_SECONDS.")

    @model_validator(mode="after")
    def _a_valid_order(self) -> PlaceOrder:
        """The rules OrderCreated keeps, checked here so that a breach answers 422."""
        check_each_sku_once(self.items)
        check_total_fits(order_total(self.items))
        return self


class CancellationRequest(BaseModel):
    reason: str = Field(default="requested by customer", min_length=1, max_length=200)


class HistoryEntry(BaseModel):
    event_type: str
    event_id: str
    producer: str
    causation_id: str | None
    occurred_at: str
    detail: str


class OrderSummary(BaseModel):
    order_id: str
    customer_id: str
    status: OrderStatus
    cancellation: Cancellation | None
    total: str = Field(description="Decimal string, e.g. 19.90")
    created_at: float
    updated_at: float
    deadline_at: float | None = Field(description="When the order must have shipped by (epoch "
                                      "seconds): past it, the saga is cancelled unless shipped.")


class OrderDetail(OrderSummary):
    items: list[dict]
    shipping_address: dict
    history: list[HistoryEntry]


class OrderPage(BaseModel):
    orders: list[OrderSummary]
    next: str | None = Field(description="Pass as `before` for the next page; null at the end.")


class Problem(BaseModel):
    detail: str


class Problems(BaseModel):
    detail: str
    problems: list[str]
