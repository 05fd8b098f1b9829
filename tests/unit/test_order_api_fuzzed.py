"""schemathesis against the order API's own OpenAPI schema: whatever it is sent, the API never
answers 5xx and never answers something its schema does not describe."""

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from order_service.bootstrap import bootstrap
from shared.settings import Settings

TOKEN = "fuzz-token-of-sixteen"
RUNTIME = bootstrap(Settings(service_name="order_service", api_token=TOKEN,
                             http_allowed_hosts="testserver",  # schemathesis' Host
                             database_path=Path(tempfile.mkdtemp()) / "order.db"))
# The API answers 422 also for rules a JSON schema cannot state — each SKU once per order, a
# total that fits in an amount — so 422 counts as a correct answer to schema-valid data too.
CONFIG = SchemathesisConfig.from_str("""
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
""")
schema = schemathesis.openapi.from_asgi("/openapi.json", RUNTIME.app, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def closed_afterwards():
    yield
    RUNTIME.close()


@schema.include(path_regex="^/orders").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_order_api_keeps_its_contract_whatever_it_is_sent(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
