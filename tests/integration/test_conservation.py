"""A few hundred mixed orders through the real services: nothing created or lost."""

import asyncio
import contextlib
import os

import httpx
import pytest

from devtools.invariants import violations
from devtools.workload import BALANCES, STOCK, plan

pytestmark = pytest.mark.integration
ORDERS = int(os.environ.get("SAGA_BATCH_ORDERS", "300"))


async def test_a_batch_of_mixed_orders_conserves_stock_and_money(mesh, tmp_path):
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    orders = plan(ORDERS)
    limit = asyncio.Semaphore(20)

    async def place(client: httpx.AsyncClient, planned) -> None:
        async with limit:
            response = await client.post("/orders", json=planned.body)
            assert response.status_code == 201, response.text
            if planned.cancel:
                cancelled = await client.post(f"/orders/{planned.order_id}/cancellation")
                assert cancelled.status_code in (202, 409), cancelled.text

    async with httpx.AsyncClient(base_url=mesh.api, timeout=30) as client:
        await asyncio.gather(*(place(client, planned) for planned in orders))
    await mesh.wait_until_final(*(o.order_id for o in orders), timeout=240)
    with contextlib.suppress(TimeoutError):  # the last outbox rows may still be in flight
        await mesh.wait_for(lambda: not violations(tmp_path, {o.order_id for o in orders}),
                            timeout=30)

    statuses = {row["status"] for row in mesh.db("order_service")["orders"].rows}
    assert statuses == {"COMPLETED", "CANCELLED"}
    assert violations(tmp_path, {o.order_id for o in orders}) == []
