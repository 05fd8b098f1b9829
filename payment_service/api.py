"""Read-only HTTP views of payment's state, served from read-only connections."""

from dataclasses import asdict

from fastapi import APIRouter, HTTPException

from payment_service.repository import PaymentRepository
from shared.runtime.store import StoreReaders


def router(readers: StoreReaders) -> APIRouter:
    api = APIRouter(tags=["payment"])

    @api.get("/accounts/{customer_id}", summary="A customer's balance and deposits")
    async def account(customer_id: str) -> dict:
        found = await readers.run(lambda db: PaymentRepository(db).account(customer_id))
        if found is None:
            raise HTTPException(404, f"no account for customer {customer_id}")
        return asdict(found)

    @api.get("/payments/{order_id}", summary="The charge for one order and its refund, if any")
    async def payment(order_id: str) -> dict:
        found, refund = await readers.run(lambda db: (PaymentRepository(db).payment(order_id),
                                                      PaymentRepository(db).refund(order_id)))
        if found is None:
            raise HTTPException(404, f"no payment for order {order_id}")
        return {"payment": asdict(found), "refund": asdict(refund) if refund else None}

    return api
