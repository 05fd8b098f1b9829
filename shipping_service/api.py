"""Read-only HTTP views of shipping's state."""

from dataclasses import asdict

import sqlite_utils
from fastapi import APIRouter, HTTPException

from shipping_service.repository import ShippingRepository


def router(db: sqlite_utils.Database) -> APIRouter:
    api = APIRouter(tags=["shipping"])

    @api.get("/shipments/{order_id}", summary="The shipment decision for one order")
    async def shipment(order_id: str) -> dict:
        shipping = ShippingRepository(db)
        found = shipping.shipment(order_id)
        cancellation = shipping.cancellation(order_id)
        if found is None and cancellation is None:
            raise HTTPException(404, f"nothing decided yet for order {order_id}")
        return {"shipment": asdict(found) if found else None, "cancellation": cancellation}

    return api
