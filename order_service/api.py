"""The order service's HTTP API. Documented in README.md and at /docs (OpenAPI)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from order_service import commands, views
from order_service.model import CancellationRefused, OrderStatus
from order_service.schemas import (
    CancellationRequest,
    OrderDetail,
    OrderPage,
    PlaceOrder,
    Problem,
    Problems,
)
from shared.events import OrderCreated
from shared.runtime.store import StoreReaders

Execute = Callable[..., Awaitable[Any]]
#: A page cursor: the creation time and id of the last order of the previous page.
CURSOR = r"^\d+(\.\d+)?_[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
UNAUTHORIZED = {401: {"model": Problem, "description": "No or a wrong bearer token"}}
INVALID = {400: {"model": Problem, "description": "A body that is not JSON; nothing changed"},
           422: {"model": Problems, "description": "Invalid request; nothing changed"}}


def router(readers: StoreReaders, execute: Execute, *, writes: Sequence = (),
           reads: Sequence = ()) -> APIRouter:
    """``execute`` runs a command as one transaction on the service's writer thread; reads go
    through read-only connections on reader threads: the event loop never waits for SQLite.
    ``writes`` and ``reads``: the dependencies of each kind of route (``shared.runtime.http.
    guards``), so that a route documents (and demands) the bearer token where one applies."""
    api = APIRouter(prefix="/orders", tags=["orders"])
    may_write, may_read = list(writes), list(reads)

    @api.post("", status_code=201, summary="Place an order; the saga starts",
              dependencies=may_write, response_model=OrderDetail,
              responses={409: {"model": Problem}, **UNAUTHORIZED, **INVALID})
    async def place_order(request: PlaceOrder) -> dict:
        order_id = request.order_id or f"ord-{uuid.uuid4().hex[:12]}"
        order = OrderCreated(customer_id=request.customer_id, items=request.items,
                             shipping_address=request.shipping_address)
        try:
            await execute(commands.place_order, order_id, order, request.deadline_seconds)
        except commands.OrderAlreadyExists as exists:
            raise HTTPException(409, str(exists)) from None
        return await readers.run(views.order_detail, order_id)

    @api.get("/{order_id}", summary="An order with its status and event history",
             dependencies=may_read, response_model=OrderDetail,
             responses={404: {"model": Problem}, **UNAUTHORIZED, **INVALID})
    async def get_order(order_id: str) -> dict:
        return _found(await readers.run(views.order_detail, order_id), order_id)

    @api.get("", summary="Orders, newest first, optionally filtered, a page at a time",
             dependencies=may_read, response_model=OrderPage,
             responses={**UNAUTHORIZED, **INVALID})
    async def list_orders(status: OrderStatus | None = None, customer_id: str | None = None,
                          limit: int = Query(default=100, ge=1, le=1000),
                          before: str | None = Query(default=None, pattern=CURSOR,
                                                     description="The `next` of the previous "
                                                                 "page.")) -> dict:
        cursor = _cursor(before)
        orders = await readers.run(lambda db: views.list_orders(
            db, status=status, customer_id=customer_id, limit=limit, before=cursor))
        last = orders[-1] if len(orders) == limit else None
        return {"orders": orders,
                "next": f"{last['created_at']!r}_{last['order_id']}" if last else None}

    @api.post("/{order_id}/cancellation", status_code=202,
              summary="Request a cancellation; 409 once the order has shipped",
              dependencies=may_write, response_model=OrderDetail,
              responses={404: {"model": Problem}, 409: {"model": Problem}, **UNAUTHORIZED,
                         **INVALID})
    async def cancel_order(order_id: str, request: CancellationRequest | None = None) -> dict:
        reason = (request or CancellationRequest()).reason
        try:
            await execute(commands.request_cancellation, order_id, reason)
        except commands.OrderNotFound as missing:
            raise HTTPException(404, str(missing)) from None
        except CancellationRefused as refused:
            raise HTTPException(409, str(refused)) from None
        return await readers.run(views.order_detail, order_id)

    return api


def _cursor(before: str | None) -> tuple[float, str] | None:
    if before is None:
        return None
    created_at, _, order_id = before.partition("_")
    return float(created_at), order_id


def _found(order: dict | None, order_id: str) -> dict:
    if order is None:
        raise HTTPException(404, f"order {order_id} not found")
    return order


def install_error_handlers(app: FastAPI) -> None:
    """Validation errors as one readable list; nothing is changed when they happen."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
                    for problem in error.errors()]
        return JSONResponse({"detail": "invalid request", "problems": problems}, status_code=422)
