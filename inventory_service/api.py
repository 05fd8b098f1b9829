"""Read-only HTTP views of inventory's state."""

import sqlite_utils
from fastapi import APIRouter, HTTPException

from inventory_service.repository import ReservationRepository, StockRepository


def router(db: sqlite_utils.Database) -> APIRouter:
    api = APIRouter(tags=["inventory"])

    @api.get("/stock", summary="Every SKU: available, reserved, shipped, received")
    async def stock() -> dict:
        return {"stock": [vars(level) for level in StockRepository(db).all()]}

    @api.get("/reservations/{order_id}", summary="The reservation held for one order")
    async def reservation(order_id: str) -> dict:
        found = ReservationRepository(db).get(order_id)
        if found is None:
            raise HTTPException(404, f"no reservation for order {order_id}")
        return {"order_id": order_id, "status": found.status,
                "lines": [vars(line) for line in found.lines]}

    return api
