"""Read-only HTTP views of shipping's state, served from read-only connections."""

from dataclasses import asdict

from fastapi import APIRouter, HTTPException

from shared.runtime.store import StoreReaders
from shipping_service.repository import ShippingRepository


def router(readers: StoreReaders) -> APIRouter:
    api = APIRouter(tags=["shipping"])

    @api.get("/shipments/{order_id}", summary="The shipment decision for one order")
    async def shipment(order_id: str) -> dict:
        found, cancellation = await readers.run(lambda db: (
            ShippingRepository(db).shipment(order_id), ShippingRepository(db).cancellation(order_id)))
        if found is None and cancellation is None:
            raise HTTPException(404, f"nothing decided yet for order {order_id}")
        return {"shipment": asdict(found) if found else None, "cancellation": cancellation}

    return api
