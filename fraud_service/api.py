"""Read-only HTTP views of fraud's screenings, served from read-only connections."""

from fastapi import APIRouter, HTTPException, Query

from fraud_service.model import Verdict
from fraud_service.repository import ScreeningRepository
from shared.runtime.store import StoreReaders


def router(readers: StoreReaders) -> APIRouter:
    api = APIRouter(tags=["fraud"])

    @api.get("/screenings/{order_id}", summary="The screening of one order and its verdict")
    async def screening(order_id: str) -> dict:
        found = await readers.run(lambda db: ScreeningRepository(db).view(order_id))
        if found is None:
            raise HTTPException(404, f"no screening for order {order_id}")
        return found

    @api.get("/screenings", summary="The latest screenings, newest first, optionally by verdict")
    async def screenings(verdict: Verdict | None = None,
                         limit: int = Query(default=100, ge=1, le=1000)) -> dict:
        return {"screenings": await readers.run(
            lambda db: ScreeningRepository(db).latest(verdict, limit))}

    return api
