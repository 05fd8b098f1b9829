"""Read-only HTTP views of the orchestrator's sagas: one saga, whole, from one place."""

from fastapi import APIRouter, HTTPException, Query

from orchestrator_service.model import Phase
from orchestrator_service.repository import SagaRepository
from shared.runtime.store import StoreReaders


def router(readers: StoreReaders) -> APIRouter:
    api = APIRouter(tags=["orchestrator"])

    @api.get("/sagas/{order_id}", summary="Where one saga stands, and every message it sent "
                                          "or heard, in order")
    async def saga(order_id: str) -> dict:
        found = await readers.run(lambda db: SagaRepository(db).view(order_id))
        if found is None:
            raise HTTPException(404, f"no saga for order {order_id}")
        return found

    @api.get("/sagas", summary="The latest sagas, newest first, optionally in one phase; and "
                               "how many are in each phase")
    async def sagas(phase: Phase | None = None,
                    limit: int = Query(default=100, ge=1, le=1000)) -> dict:
        return await readers.run(lambda db: {
            "counts": SagaRepository(db).counts(),
            "sagas": SagaRepository(db).latest(phase, limit)})

    return api
