"""The order API, wired exactly as in production, without a broker behind it."""

import httpx
import pytest

from order_service.bootstrap import bootstrap
from shared.deadletters import Delivery
from shared.events import StockReserved, encode
from shared.settings import Settings
from tests.support.builders import ADDRESS, event, order_created

ORDER = {"customer_id": "alice",
         "items": [{"sku": "WIDGET-1", "quantity": 2, "unit_price": "9.95"}],
         "shipping_address": {"name": "Ada", "street": "1 Main St", "city": "Berlin",
                              "country": "DE"}}


@pytest.fixture
async def api(tmp_path):
    runtime = bootstrap(Settings(service_name="order_service",
                                 database_path=tmp_path / "order.db"))
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        client.runtime = runtime
        yield client
    runtime.close()


def _count(api, table: str) -> int:
    return api.runtime.writer.db[table].count


async def test_placing_an_order_answers_201_with_a_pending_order(api):
    response = await api.post("/orders", json=ORDER)
    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["total"]) == ("PENDING", "19.90")
    assert [h["event_type"] for h in order["history"]] == ["OrderCreated"]
    assert _count(api, "outbox") == 1


@pytest.mark.parametrize(("change", "problem"), [
    ({"items": []}, "body.items"),
    ({"items": [{"sku": "WIDGET-1", "quantity": 0, "unit_price": "9.95"}]}, "quantity"),
    ({"items": [{"sku": "WIDGET-1", "quantity": 1, "unit_price": 9.95}]}, "decimal string"),
    ({"shipping_address": {"name": "Ada"}}, "shipping_address.street"),
    ({"customer_id": "has spaces"}, "customer_id"),
])
async def test_an_invalid_order_answers_422_with_the_problem_and_changes_nothing(
        api, change, problem):
    response = await api.post("/orders", json={**ORDER, **change})
    assert response.status_code == 422
    assert any(problem in line for line in response.json()["problems"])
    assert _count(api, "orders") == 0 and _count(api, "outbox") == 0


async def test_the_same_order_id_twice_answers_409(api):
    assert (await api.post("/orders", json={**ORDER, "order_id": "ord-1"})).status_code == 201
    again = await api.post("/orders", json={**ORDER, "order_id": "ord-1"})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


async def test_an_unknown_order_answers_404(api):
    assert (await api.get("/orders/nope")).status_code == 404


async def test_orders_can_be_listed_by_status(api):
    await api.post("/orders", json=ORDER)
    pending = (await api.get("/orders", params={"status": "PENDING"})).json()["orders"]
    cancelled = (await api.get("/orders", params={"status": "CANCELLED"})).json()["orders"]
    assert len(pending) == 1 and cancelled == []
    assert (await api.get("/orders", params={"status": "LOST"})).status_code == 422


async def test_a_cancellation_is_requested_and_accepted_for_processing(api):
    order_id = (await api.post("/orders", json=ORDER)).json()["order_id"]
    response = await api.post(f"/orders/{order_id}/cancellation", json={"reason": "oops"})
    assert response.status_code == 202
    assert response.json()["cancellation"] == "REQUESTED"
    assert _count(api, "outbox") == 2


async def test_the_health_check_says_not_ready_before_the_consumer_runs(api):
    response = await api.get("/health")
    assert response.status_code == 503 and response.json()["ready"] is False


async def test_an_order_whose_total_no_amount_can_hold_answers_422_and_changes_nothing(api):
    lines = [{"sku": "WIDGET-1", "quantity": 1000, "unit_price": "99999999.99"}]
    response = await api.post("/orders", json={**ORDER, "items": lines})
    assert response.status_code == 422
    assert any("exceeds the largest amount" in line for line in response.json()["problems"])
    assert _count(api, "orders") == 0 and _count(api, "outbox") == 0


async def test_an_order_whose_saga_already_runs_answers_409_and_emits_nothing(api):
    # OrderCreated for ord-7 went straight onto Kafka; inventory's answer arrived here first.
    reserved = event(StockReserved(customer_id="alice", items=order_created().items,
                                   shipping_address=ADDRESS), order_id="ord-7")
    api.runtime.writer.run_sync(lambda db: api.runtime.processor.process_batch([
        Delivery("StockReserved", 0, 0, b"ord-7", encode(reserved))]))
    response = await api.post("/orders", json={**ORDER, "order_id": "ord-7"})
    assert response.status_code == 409 and "already has saga events" in response.json()["detail"]
    assert _count(api, "orders") == 0 and _count(api, "outbox") == 0


async def test_orders_are_listed_newest_first_a_page_at_a_time(api):
    placed = [(await api.post("/orders", json={**ORDER, "order_id": f"ord-{n}"})).json()
              for n in range(5)]
    first = (await api.get("/orders", params={"limit": 2})).json()
    second = (await api.get("/orders", params={"limit": 2, "before": first["next"]})).json()
    third = (await api.get("/orders", params={"limit": 2, "before": second["next"]})).json()
    seen = [o["order_id"] for page in (first, second, third) for o in page["orders"]]
    assert seen == [o["order_id"] for o in reversed(placed)]
    assert third["next"] is None


async def test_listing_by_customer_uses_an_index_not_a_scan(api):
    plan = api.runtime.writer.db.execute(
        "EXPLAIN QUERY PLAN SELECT order_id FROM orders WHERE customer_id = ? "
        "ORDER BY created_at DESC, order_id DESC LIMIT 10", ["alice"]).fetchall()
    assert "SEARCH orders USING" in " ".join(str(row) for row in plan)
    assert "TEMP B-TREE" not in " ".join(str(row) for row in plan)
    plan_all = api.runtime.writer.db.execute(
        "EXPLAIN QUERY PLAN SELECT order_id FROM orders "
        "ORDER BY created_at DESC, order_id DESC LIMIT 10").fetchall()
    assert "TEMP B-TREE" not in " ".join(str(row) for row in plan_all)


@pytest.fixture
async def guarded(tmp_path):
    runtime = bootstrap(Settings(service_name="order_service", api_token="s3cret-long-enough",
                                 database_path=tmp_path / "order.db"))
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client
    runtime.close()


async def test_with_a_token_configured_writes_without_it_are_refused_and_change_nothing(guarded):
    for headers in ({}, {"Authorization": "Bearer guess"}):
        response = await guarded.post("/orders", json=ORDER, headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    listed = (await guarded.get("/orders")).json()["orders"]
    assert listed == []  # reads stay open unless SAGA_API_READS_NEED_TOKEN
    allowed = await guarded.post("/orders", json=ORDER,
                                 headers={"Authorization": "Bearer s3cret-long-enough"})
    assert allowed.status_code == 201


def test_secure_mode_without_an_api_token_refuses_to_start(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    with pytest.raises(SystemExit, match="API token"):
        bootstrap(Settings(service_name="order_service", database_path=tmp_path / "order.db",
                           kafka_security_protocol="SASL_SSL", kafka_password="p",
                           kafka_ca_file=ca))


async def test_an_order_naming_a_sku_twice_answers_422_not_a_server_error(api):
    line = {"sku": "WIDGET-1", "quantity": 1, "unit_price": "1.00"}
    response = await api.post("/orders", json={**ORDER, "items": [line, line]})
    assert response.status_code == 422
    assert any("each SKU may appear only once" in p for p in response.json()["problems"])
