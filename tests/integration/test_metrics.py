"""Every service's /metrics is scraped as Prometheus would, and its counters move with a saga."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devtools.orders import BALANCES, STOCK, UNSERVED, order_body
from inventory_service.handlers import SERVICE

pytestmark = pytest.mark.integration


async def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def _total(samples: dict, name: str, **labels: str) -> float:
    return sum(value for (sample, sample_labels), value in samples.items()
               if sample == name and all((k, v) in sample_labels for k, v in labels.items()))


async def test_every_services_counters_move_after_a_saga(mesh):
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    before = {name: await _scrape(runtime.http.url) for name, runtime in mesh.runtimes.items()}
    order_id = await mesh.place_order(order_body(quantity=1, address=UNSERVED))
    await mesh.wait_until_final(order_id)
    after = {name: await _scrape(runtime.http.url) for name, runtime in mesh.runtimes.items()}

    def moved(service: str, name: str, **labels: str) -> float:
        return _total(after[service], name, **labels) - _total(before[service], name, **labels)

    assert moved("inventory_service", "saga_events_handled_total", event_type="OrderCreated") == 1
    assert moved("payment_service", "saga_events_handled_total", event_type="ShipmentFailed") == 1
    assert moved("shipping_service", "saga_messages_published_total",
                 topic="ShipmentFailed") == 1
    for service in mesh.runtimes:
        assert moved(service, "saga_handler_seconds_count") >= 1, service
        assert moved(service, "saga_commit_seconds_count") >= 1, service
        assert moved(service, "saga_event_wait_seconds_count") >= 1, service
    assert moved("order_service", "saga_publish_seconds_count") >= 1


async def test_consumer_lag_is_exported_per_partition(mesh):
    await mesh.start("inventory_service")
    await mesh.seed({"A-1": 1}, {})
    url = mesh.runtimes["inventory_service"].http.url

    async def caught_up():
        """(topic, partition) of every partition reported at lag 0, once StockAdded's are."""
        samples = [dict(labels) for (name, labels), value in (await _scrape(url)).items()
                   if name == "saga_consumer_lag" and value == 0]
        at_zero = {(sample["topic"], sample["partition"]) for sample in samples}
        return at_zero if f"{mesh.prefix}StockAdded" in {t for t, _ in at_zero} else set()
    reported = await mesh.wait_for_async(caught_up, timeout=15)
    assert all(partition.isdigit() for _, partition in reported)
    assert {topic for topic, _ in reported} <= {
        mesh.prefix + topic for topic in SERVICE.consumed_topics}
