"""Shipping rules: the pivot of the saga.

Whichever comes first for an order decides: a paid order that ships can no
longer be cancelled; an accepted cancellation means the order never ships.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

#: Countries the carrier delivers to. An address elsewhere fails before anything ships.
SERVED_COUNTRIES = frozenset({
    "AT", "AU", "BE", "CA", "CH", "CZ", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT", "JP",
    "NL", "NO", "NZ", "PL", "PT", "SE", "US",
})
CARRIER = "Parcel Express"


class ShipmentStatus(StrEnum):
    SHIPPED = "SHIPPED"
    FAILED = "FAILED"


class CancellationDecision(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class Shipment:
    order_id: str
    status: ShipmentStatus
    shipment_id: str = ""
    tracking_number: str = ""
    reason: str = ""


def ship(order_id: str, country: str, *, cancellation_accepted: bool,
         past_deadline: bool = False) -> Shipment:
    if cancellation_accepted:
        return Shipment(order_id, ShipmentStatus.FAILED, reason="order cancelled before shipping")
    if past_deadline:  # the promise was "by then, or not at all": shipping decides, not a race
        return Shipment(order_id, ShipmentStatus.FAILED, reason="the order's deadline passed "
                        "before it could ship")
    if country not in SERVED_COUNTRIES:
        return Shipment(order_id, ShipmentStatus.FAILED,
                        reason=f"carrier does not deliver to country {country}")
    digest = hashlib.sha256(order_id.encode()).hexdigest()
    return Shipment(order_id, ShipmentStatus.SHIPPED, shipment_id=f"shp-{digest[:12]}",
                    tracking_number=f"PX{int(digest[12:22], 16) % 10**10:010d}")


def decide_cancellation(shipment: Shipment | None,
                        requested: str = "") -> tuple[CancellationDecision, str]:
    """Accept unless it shipped; the acceptance repeats why it was asked for."""
    if shipment is not None and shipment.status is ShipmentStatus.SHIPPED:
        return CancellationDecision.REJECTED, f"order already shipped ({shipment.tracking_number})"
    return CancellationDecision.ACCEPTED, (f"{requested}: the order will not ship" if requested
                                           else "the order will not ship")
