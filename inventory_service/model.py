"""Inventory rules: all-or-nothing reservations, semantic release, shipped stock.

Invariant per SKU: ``received == available + reserved + shipped`` and no count
is ever negative. Reserved stock is held for one order and cannot be sold twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from shared.errors import PermanentError


class ReservationStatus(StrEnum):
    RESERVED = "RESERVED"
    REJECTED = "REJECTED"
    RELEASED = "RELEASED"
    SHIPPED = "SHIPPED"


class InvariantViolation(PermanentError):
    """A transition the saga forbids (e.g. releasing stock that already shipped): retrying
    cannot help, so the event is parked at once."""


@dataclass(frozen=True)
class StockLevel:
    sku: str
    available: int = 0
    reserved: int = 0
    shipped: int = 0
    received: int = 0

    def add(self, quantity: int) -> StockLevel:
        return replace(self, available=self.available + quantity,
                       received=self.received + quantity)

    def hold(self, quantity: int) -> StockLevel:
        return replace(self, available=self.available - quantity,
                       reserved=self.reserved + quantity)

    def unhold(self, quantity: int) -> StockLevel:
        return replace(self, available=self.available + quantity,
                       reserved=self.reserved - quantity)

    def dispatch(self, quantity: int) -> StockLevel:
        return replace(self, reserved=self.reserved - quantity, shipped=self.shipped + quantity)

    @property
    def conserved(self) -> bool:
        counts = (self.available, self.reserved, self.shipped)
        return min(counts) >= 0 and sum(counts) == self.received


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Shortfall:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True)
class Reservation:
    order_id: str
    lines: tuple[Line, ...]
    status: ReservationStatus

    @property
    def holds_stock(self) -> bool:
        return self.status is ReservationStatus.RESERVED


def reserve(order_id: str, lines: Iterable[Line], stock: Mapping[str, StockLevel]
            ) -> tuple[Reservation, dict[str, StockLevel], list[Shortfall]]:
    """Hold every line, or none of them when any SKU falls short."""
    lines = tuple(lines)
    levels = {line.sku: stock.get(line.sku, StockLevel(line.sku)) for line in lines}
    shortfalls = [Shortfall(line.sku, line.quantity, levels[line.sku].available)
                  for line in lines if levels[line.sku].available < line.quantity]
    if shortfalls:
        return Reservation(order_id, lines, ReservationStatus.REJECTED), {}, shortfalls
    held = {line.sku: levels[line.sku].hold(line.quantity) for line in lines}
    return Reservation(order_id, lines, ReservationStatus.RESERVED), held, []


def release(reservation: Reservation, stock: Mapping[str, StockLevel]
            ) -> tuple[Reservation, dict[str, StockLevel]]:
    """Give held stock back; releasing twice changes nothing."""
    if reservation.status is ReservationStatus.SHIPPED:
        raise InvariantViolation(f"order {reservation.order_id} shipped; its stock cannot return")
    if reservation.status is not ReservationStatus.RESERVED:
        return reservation, {}
    levels = {line.sku: stock[line.sku].unhold(line.quantity) for line in reservation.lines}
    return replace(reservation, status=ReservationStatus.RELEASED), levels


def ship(reservation: Reservation, stock: Mapping[str, StockLevel]
         ) -> tuple[Reservation, dict[str, StockLevel]]:
    """Held stock leaves the warehouse for good."""
    if reservation.status is ReservationStatus.SHIPPED:
        return reservation, {}
    if reservation.status is not ReservationStatus.RESERVED:
        raise InvariantViolation(
            f"order {reservation.order_id} shipped while its reservation is {reservation.status}")
    levels = {line.sku: stock[line.sku].dispatch(line.quantity) for line in reservation.lines}
    return replace(reservation, status=ReservationStatus.SHIPPED), levels
