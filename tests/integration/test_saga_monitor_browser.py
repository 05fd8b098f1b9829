"""The monitor's pages in a real browser (Debian's chromium, driven by playwright) against a
running mesh: the overview updates by itself, and a completed, a compensated and a stuck saga
each look as they should. Screenshots are kept in .run/artifacts/saga-monitor/."""

import shutil
from pathlib import Path

import pytest

from devtools.orders import UNSERVED, order_body

pytestmark = pytest.mark.integration
playwright = pytest.importorskip("playwright.async_api", reason="pip install playwright")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[2] / ".run" / "artifacts" / "saga-monitor"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
async def page():
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium here (apt-get install chromium)")
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield await browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            await browser.close()


async def test_a_browser_shows_a_completed_a_compensated_and_a_stuck_saga(
        mesh, saga_monitor, page, request):
    expect = playwright.expect
    monitor = saga_monitor(SAGA_STALL_AFTER_SECONDS="3")
    await mesh.start()
    await mesh.seed({"WIDGET-1": 10}, {"alice": "100.00"})
    await mesh.wait_for_async(lambda: monitor.json("/health"), timeout=90)
    await page.goto(monitor.url + "/")  # opened before any saga exists: it must update itself
    await expect(page.get_by_test_id("count-all").locator(".n")).to_have_text("0", timeout=30_000)

    completed = await mesh.place_order(order_body(quantity=1))
    compensated = await mesh.place_order(order_body(quantity=1, address=UNSERVED))
    await mesh.wait_until_final(completed, compensated)
    await mesh.wait_for_async(lambda: _counted(monitor, "finished", 2), timeout=30)
    # Nothing reloads the page: it must show what the API counts by itself (expect's own wait).
    await expect(page.get_by_test_id("count-completed").locator(".n")).to_have_text("1")
    await expect(page.get_by_test_id("count-cancelled").locator(".n")).to_have_text("1")

    await mesh.restart("payment_service", fault_rate=1.0, retry_max_attempts=3,
                       retry_base_delay=0.02)
    stuck = await mesh.place_order(order_body(quantity=1))
    await expect(page.get_by_test_id("count-stuck").locator(".n")).to_have_text(
        "1", timeout=30_000)
    await expect(page.locator("#rows tr").first).to_have_attribute("data-order-id", stuck)
    await _screenshot(page, "overview", request)

    await page.goto(f"{monitor.url}/sagas/{completed}")
    await expect(page.get_by_test_id("badges")).to_contain_text("completed")
    await expect(page.get_by_test_id("badges")).to_contain_text("finished")
    await expect(page.get_by_test_id("summary")).to_contain_text("deadline ")
    await expect(page.get_by_test_id("summary")).to_contain_text("flow v2")
    timeline = page.get_by_test_id("timeline")
    await expect(timeline.get_by_test_id("event")).to_have_count(7)  # screened: flow v2
    await expect(timeline.get_by_test_id("arrow")).to_have_count(6)
    await expect(timeline.locator("[data-pivot=true]")).to_have_attribute(
        "data-event-type", "OrderShipped")
    await _screenshot(page, "completed", request)

    await page.goto(f"{monitor.url}/sagas/{compensated}")
    await expect(page.get_by_test_id("badges")).to_contain_text("cancelled")
    compensations = page.get_by_test_id("timeline").locator("[data-kind=compensation]")
    await expect(compensations).to_have_count(3)
    await expect(page.get_by_test_id("summary")).to_contain_text(
        "compensations: PaymentRefunded → StockReleased → OrderCancelled")
    await _screenshot(page, "compensated", request)

    await page.goto(f"{monitor.url}/sagas/{stuck}")
    await expect(page.get_by_test_id("badges")).to_contain_text("stuck")
    wait = page.get_by_test_id("wait")
    await expect(wait).to_have_attribute("data-stuck", "true")
    await expect(wait).to_contain_text("waiting for payment_service, which consumes it")
    await expect(page.get_by_test_id("cause")).to_contain_text("parked by payment_service")
    # Parked: its deadline would cancel the order, but the parked event still needs a person.
    await expect(page.get_by_test_id("badges")).to_contain_text("needs an operator")
    await expect(page.get_by_test_id("resolution")).to_contain_text("Needs an operator")
    await expect(page.get_by_test_id("summary")).to_contain_text("left)")
    await expect(page.get_by_test_id("replay-command")).to_have_text(
        f"sagactl dlq replay --order {stuck}")
    await expect(page.get_by_test_id("dead-letter")).to_contain_text("handler failed")
    await expect(page.get_by_test_id("timeline").get_by_test_id("awaited")).to_have_attribute(
        "data-step", "PaymentCharged")
    await _screenshot(page, "stuck", request)


async def _counted(monitor, field: str, count: int):
    stats = await monitor.json("/api/stats")
    return stats if stats and stats[field] == count else None


async def _screenshot(page, name: str, request) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"saga monitor screenshot: {path}")
