"""Every service's HTTP surface in secure mode, wired as in production, without a broker:
what needs the token, what stays open for probes, and requests that name another host."""

import httpx
import pytest

from order_service.bootstrap import bootstrap as order_service
from payment_service.bootstrap import bootstrap as payment_service
from shared.settings import Settings

TOKEN = "a-token-long-enough-to-count"
AS_OWNER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def secure(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not read without a broker")

    def settings(name: str) -> Settings:
        return Settings(service_name=name, database_path=tmp_path / f"{name}.db",
                        kafka_security_protocol="SASL_SSL", kafka_password="p",
                        kafka_ca_file=ca, api_token=TOKEN)
    return settings


@pytest.fixture
async def payment(secure):
    runtime = payment_service(secure("payment_service"))
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client
    runtime.close()


async def test_in_secure_mode_parked_events_and_every_read_need_the_token(payment):
    for method, path in (("GET", "/parked"), ("POST", "/parked/e-1/retry"),
                         ("GET", "/accounts/alice")):
        refused = await payment.request(method, path)
        assert refused.status_code == 401, (method, path)
    assert (await payment.get("/parked", headers=AS_OWNER)).json() == {"parked": []}
    retried = await payment.post("/parked/e-1/retry", headers=AS_OWNER)
    assert retried.status_code == 404  # past the token: there is no such parked event
    assert (await payment.get("/metrics")).status_code == 200
    assert (await payment.get("/health")).status_code in (200, 503)  # a probe needs no token


async def test_in_secure_mode_the_order_apis_reads_need_the_token(secure):
    runtime = order_service(secure("order_service"))
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        assert (await client.get("/orders")).status_code == 401
        assert (await client.get("/orders", headers=AS_OWNER)).json()["orders"] == []
    runtime.close()


async def test_a_bearer_token_of_any_characters_is_a_401_never_a_500(payment):
    for presented in ("Bearer \xe9t\xe9".encode("latin-1"), "Bearer ü".encode(), b"Bearer \xff"):
        response = await payment.get("/parked", headers={"Authorization": presented})
        assert response.status_code == 401, presented


async def test_a_request_naming_another_host_is_refused_before_any_route(payment):
    rebound = await payment.get("/parked", headers={**AS_OWNER, "Host": "evil.example:8002"})
    assert rebound.status_code == 400
    for host in ("127.0.0.1:8002", "localhost"):
        named = await payment.get("/parked", headers={**AS_OWNER, "Host": host})
        assert named.status_code == 200, host
