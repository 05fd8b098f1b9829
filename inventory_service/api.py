"""Read-only HTTP views of inventory's state, served from read-only connections."""

from fastapi import APIRouter, HTTPException

from inventory_service.repository import ReservationRepository, StockRepository
from shared.runtime.store import StoreReaders


def router(readers: StoreReaders) -> APIRouter:
    api = APIRouter(tags=["inventory"])

    @api.get("/stock", summary="Every SKU: available, reserved, shipped, received")
    async def stock() -> dict:
        levels = await readers.run(lambda db: StockRepository(db).all())
        return {"stock": [vars(level) for level in levels]}

    @api.get("/reservations/{order_id}", summary="The reservation held for one order")
    async def reservation(order_id: str) -> dict:
        found = await readers.run(lambda db: ReservationRepository(db).get(order_id))
        if found is None:
            raise HTTPException(404, f"no reservation for order {order_id}")
        return {"order_id": order_id, "status": found.status,
                "lines": [vars(line) for line in found.lines]}

    return api
