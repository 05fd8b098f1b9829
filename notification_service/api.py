"""Read-only HTTP view of the notifications sent, served from read-only connections."""

from fastapi import APIRouter

from notification_service.repository import NotificationRepository
from shared.runtime.store import StoreReaders


def router(readers: StoreReaders) -> APIRouter:
    api = APIRouter(tags=["notifications"])

    @api.get("/notifications/{order_id}", summary="What the customer was told about an order")
    async def notifications(order_id: str) -> dict:
        return {"notifications": await readers.run(
            lambda db: NotificationRepository(db).for_order(order_id))}

    return api
