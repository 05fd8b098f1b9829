"""Read-only HTTP view of the notifications sent."""

import sqlite_utils
from fastapi import APIRouter

from notification_service.repository import NotificationRepository


def router(db: sqlite_utils.Database) -> APIRouter:
    api = APIRouter(tags=["notifications"])

    @api.get("/notifications/{order_id}", summary="What the customer was told about an order")
    async def notifications(order_id: str) -> dict:
        return {"notifications": NotificationRepository(db).for_order(order_id)}

    return api
