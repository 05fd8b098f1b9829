"""The faust saga monitor, as its own process, on the real topics: whatever the start order, it
counts every saga, draws each one's timeline, names who a stuck saga waits for and the command
that frees it, reads events as their topic's type, follows the operator's dead-letter
decisions, forgets finished sagas after the retention, and says so loudly when it cannot see a
topic it reads."""

import asyncio
import json

import httpx
import pytest

from devtools.orders import UNSERVED, order_body
from devtools.synthetic_sagas import HAPPY, NO_CARRIER, saga
from saga_monitor.topics import READ
from sagactl.kafka import partitions_of, publish_raw, read_topics
from sagactl.topics import partitions_behind
from shared.acls import DECISIONS_TOPIC
from shared.events import Event, OrderCompleted, encode
from shared.events.examples import EXAMPLES
from tests.support.admin import admin_client
from tests.support.cli import sagactl

pytestmark = pytest.mark.integration


async def _ready(mesh, monitor, timeout: float = 90):
    return await mesh.wait_for_async(lambda: monitor.json("/health"), timeout=timeout)


async def test_a_monitor_started_before_any_topic_exists_counts_every_saga(mesh, saga_monitor):
    monitor = saga_monitor()  # first, on a broker that has none of this mesh's topics
    await _ready(mesh, monitor)
    created = await partitions_of(mesh.tool, [mesh.tool.topic(name) for name in READ])
    assert {tp.topic for tp in created} == {mesh.tool.topic(name) for name in READ}

    await mesh.start()  # the services come second
    await mesh.seed({"WIDGET-1": 100}, {"alice": "1000.00"})
    order_ids = [await mesh.place_order(order_body(quantity=1, price="1.00",
                                                   address=UNSERVED if i % 2 else None))
                 for i in range(40)]
    await mesh.wait_until_final(*order_ids)

    async def all_counted():  # the counts follow each batch, the percentiles each pass
        stats = await monitor.json("/api/stats")
        return stats if stats and stats["finished"] == 40 and (
            stats["duration_seconds"]["count"] == 40) else None

    stats = await mesh.wait_for_async(all_counted, timeout=60)
    assert stats["by_status"] == {"running": 0, "compensating": 0, "completed": 20,
                                  "cancelled": 20}
    assert stats["sagas"] == 40 and stats["stuck"] == 0
    metrics = (await asyncio.to_thread(_text, f"{monitor.url}/metrics"))
    assert 'saga_monitor_sagas{status="completed"} 20.0' in metrics
    assert 'saga_monitor_saga_duration_seconds_count{outcome="cancelled"} 20.0' in metrics


async def test_each_sagas_timeline_shows_lanes_causes_the_pivot_and_compensations(
        mesh, saga_monitor):
    monitor = saga_monitor()
    await mesh.start()
    await mesh.seed({"WIDGET-1": 10}, {"alice": "100.00"})
    happy = await mesh.place_order(order_body(quantity=1))
    no_carrier = await mesh.place_order(order_body(quantity=1, address=UNSERVED))
    await mesh.wait_until_final(happy, no_carrier)

    async def finished(order_id: str):
        saga = await monitor.json(f"/api/sagas/{order_id}")
        return saga if saga and saga["finished"] else None

    completed = await mesh.wait_for_async(lambda: finished(happy), timeout=90)
    cancelled = await mesh.wait_for_async(lambda: finished(no_carrier), timeout=90)

    assert (completed["status"], completed["compensations"]) == ("completed", [])
    assert completed["flow_version"] == 2  # screened
    assert completed["steps"] == ["OrderCreated", "StockReserved", "FraudCheckPassed",
                                  "PaymentCharged", "OrderShipped", "OrderCompleted",
                                  "CustomerNotified"]
    timeline = completed["timeline"]
    assert [e["producer"] for e in timeline] == ["order_service", "inventory_service",
                                                 "fraud_service", "payment_service",
                                                 "shipping_service", "order_service",
                                                 "notification_service"]
    assert [e["pivot"] for e in timeline] == [False, False, False, False, True, False, False]
    assert [e["caused_by"] for e in timeline[1:]] == [e["event_id"] for e in timeline[:-1]]
    assert all(e["after_cause_seconds"] >= 0 for e in timeline[1:])
    assert completed["waiting_for"] == [] and completed["duration_seconds"] > 0
    assert cancelled["status"] == "cancelled"
    assert cancelled["compensations"] == ["PaymentRefunded", "StockReleased", "OrderCancelled"]
    assert {e["event_type"] for e in cancelled["timeline"] if e["compensation"]} == {
        "PaymentRefunded", "StockReleased", "OrderCancelled"}


async def test_a_stuck_saga_names_who_it_waits_for_its_parked_event_and_the_command_to_replay(
        mesh, saga_monitor):
    monitor = saga_monitor(SAGA_STALL_AFTER_SECONDS="2")
    await mesh.start()
    await mesh.seed({"WIDGET-1": 10}, {"alice": "100.00"})
    await mesh.restart("payment_service", fault_rate=1.0, retry_max_attempts=3,
                       retry_base_delay=0.02)  # every charge fails: the event is parked
    order_id = await mesh.place_order(order_body(quantity=1))

    async def stuck_with_its_cause():
        stuck = await monitor.json("/api/stuck")
        found = [s for s in (stuck or {}).get("sagas", []) if s["order_id"] == order_id]
        return found[0] if found and found[0]["waiting_for"][0]["cause"] else None

    saga = await mesh.wait_for_async(stuck_with_its_cause, timeout=60)
    [wait] = saga["waiting_for"]
    assert (wait["event_type"], wait["step"], wait["services"]) == (
        "FraudCheckPassed", "PaymentCharged", ["payment_service"])
    assert "waiting for payment_service, which consumes it" in wait["text"]
    assert "parked by payment_service after 3 attempt(s)" in wait["cause"]
    assert saga["replay_command"] == f"sagactl dlq replay --order {order_id}"
    [letter] = (await monitor.json(f"/api/sagas/{order_id}"))["dead_letters"]
    assert (letter["kind"], letter["source"]["topic"], letter["pending"]) == (
        "handler-failed", "FraudCheckPassed", True)
    await mesh.wait_for(lambda: "saga stuck: FraudCheckPassed parked by payment_service"
                        in monitor.log, timeout=15)
    # The same, in the terminal.
    listed = await sagactl(mesh, "--monitor", monitor.url, "saga", "stuck")
    assert listed.code == 0 and order_id in listed.stdout
    assert "cause: FraudCheckPassed parked by payment_service" in listed.stdout
    shown = await sagactl(mesh, "--monitor", monitor.url, "saga", "show", order_id)
    assert "waiting: FraudCheckPassed at" in shown.stdout and "STUCK" in shown.stdout
    assert f"to replay: sagactl dlq replay --order {order_id}" in shown.stdout
    as_json = await sagactl(mesh, "--monitor", monitor.url, "saga", "show", order_id, "--json")
    assert json.loads(as_json.stdout)["order_id"] == order_id

    await mesh.restart("payment_service", fault_rate=0.0)  # the cause is fixed
    await _run(mesh, saga["replay_command"])  # exactly what the monitor said to run

    async def finished_and_replayed():  # the decision comes on a topic of its own
        saga = await monitor.json(f"/api/sagas/{order_id}")
        return saga if saga and saga["finished"] and not saga["dead_letters_pending"] else None

    done = await mesh.wait_for_async(finished_and_replayed, timeout=60)
    assert (done["status"], done["stuck"], done["replay_command"]) == ("completed", False, None)
    assert [(d["pending"], d["state"]) for d in done["dead_letters"]] == [(False, "replayed")]


async def test_an_outcome_published_on_another_types_topic_does_not_finish_the_order(
        mesh, saga_monitor):
    monitor = saga_monitor()
    await mesh.start("order_service", "inventory_service")
    misrouted = Event.new(EXAMPLES[OrderCompleted], order_id="ord-misrouted", producer="tests")
    proper = Event.new(EXAMPLES[OrderCompleted], order_id="ord-proper", producer="tests")
    await publish_raw(mesh.tool, [("OrderCreated", b"ord-misrouted", encode(misrouted), []),
                                  ("OrderCompleted", b"ord-proper", encode(proper), [])])

    async def dead_lettered():
        saga = await monitor.json("/api/sagas/ord-misrouted")
        return saga if saga and saga["dead_letters"] else None

    saga = await mesh.wait_for_async(dead_lettered, timeout=60)
    assert (saga["status"], saga["events"], saga["finished"]) == ("running", 0, False)
    assert {d["kind"] for d in saga["dead_letters"]} == {"schema-invalid"}
    assert "published on the 'OrderCreated' topic" in saga["dead_letters"][0]["reason"]
    assert (await monitor.json("/api/sagas/ord-proper"))["status"] == "completed"


async def test_dead_letters_dismissed_with_sagactl_stop_being_pending_even_across_a_restart(
        mesh, saga_monitor):
    monitor = saga_monitor()
    await _ready(mesh, monitor)  # ready although nobody decided anything yet
    assert not await partitions_of(mesh.tool, [mesh.tool.topic(DECISIONS_TOPIC)])
    await mesh.start("order_service", "inventory_service")  # both consume OrderCreated
    misrouted = Event.new(EXAMPLES[OrderCompleted], order_id="ord-dismissed", producer="tests")
    await publish_raw(mesh.tool, [("OrderCreated", b"ord-dismissed", encode(misrouted), [])])

    async def pending(monitor, count: int):
        saga = await monitor.json("/api/sagas/ord-dismissed")
        return saga if saga and saga["dead_letters_pending"] == count else None

    saga = await mesh.wait_for_async(lambda: pending(monitor, 2), timeout=60)
    assert saga["replay_command"] is None  # `dlq replay` skips schema-invalid letters
    assert "`sagactl dlq list --order ord-dismissed --pending`" in saga["dead_letters_hint"]
    assert "`sagactl dlq ack --order ord-dismissed --kind schema-invalid" in saga[
        "dead_letters_hint"]
    acked = await sagactl(mesh, "dlq", "ack", "--order", "ord-dismissed", "--reason",
                          "a test published it on the wrong topic")
    assert acked.code == 0, acked.output

    saga = await mesh.wait_for_async(lambda: pending(monitor, 0), timeout=30)
    assert [d["state"] for d in saga["dead_letters"]] == ["acked", "acked"]
    assert saga["dead_letters"][0]["decision"]["reason"] == "a test published it on the wrong topic"
    assert saga["dead_letters_hint"] is None
    monitor.stop()
    restarted = saga_monitor()
    await _ready(mesh, restarted)  # not before it has read the decisions again
    saga = await mesh.wait_for_async(lambda: restarted.json("/api/sagas/ord-dismissed"), timeout=30)
    assert saga["dead_letters_pending"] == 0
    assert [d["state"] for d in saga["dead_letters"]] == ["acked", "acked"]


async def test_finished_sagas_are_forgotten_after_the_retention_even_across_a_restart(
        mesh, saga_monitor):
    env = {"SAGA_MONITOR_RETENTION_SECONDS": "3"}
    monitor = saga_monitor(**env)
    await _ready(mesh, monitor)
    await mesh.publish(*saga("ord-done", HAPPY), *saga("ord-open", HAPPY[:3]))

    # A 404 also means "not read yet" (a batch is folded up to 0.2 s after it began): waiting
    # for ord-done's absence alone passed before the monitor had read either saga. Its
    # tombstone says it was read and then forgotten (faust writes table keys as JSON).
    assert await mesh.wait_for_async(lambda: monitor.json("/api/sagas/ord-open"), timeout=60)
    await _changelog_until(mesh, lambda records: [
        r.value for r in records if r.key == b'"ord-done"'][-1:] == [None], timeout=60)
    assert await _absent(monitor, "ord-done") and await monitor.json("/api/sagas/ord-open")

    monitor.stop()
    restarted = saga_monitor(**env)  # rebuilds its table from the changelog
    await _ready(mesh, restarted)
    assert await mesh.wait_for_async(lambda: restarted.json("/api/sagas/ord-open"), timeout=30)
    assert await _absent(restarted, "ord-done")


async def test_each_saga_is_written_once_per_batch_to_its_own_partition_and_rebuilt_on_restart(
        mesh, saga_monitor):
    monitor = saga_monitor()
    await _ready(mesh, monitor)
    events = [event for n in range(30)
              for event in saga(f"ord-batch-{n}", NO_CARRIER if n % 3 else HAPPY)]
    await mesh.publish(*events)
    rows = await mesh.wait_for_async(lambda: _finished_rows(monitor, 30), timeout=60)

    sent = [r async for r in read_topics(mesh.tool, sorted({e.event_type for e in events}),
                                         follow=False, from_beginning=True)]
    expected = {(r.key.decode(), r.partition) for r in sent}
    changelog = await _changelog_until(
        mesh, lambda records: {(json.loads(r.key), r.partition) for r in records} == expected)
    assert len(changelog) < len(events)  # a batch holding several events of a saga: one record

    monitor.stop()
    # Every offset committed: the restarted monitor reads no event again, so its table is
    # what the changelog alone rebuilds.
    types = sorted({e.event_type for e in events})
    assert await partitions_behind(mesh.tool, {"saga_monitor": types}) == []
    restarted = saga_monitor()
    await _ready(mesh, restarted)
    assert await mesh.wait_for_async(lambda: _finished_rows(restarted, 30), timeout=30) == rows


async def _changelog_until(mesh, condition, timeout: float = 15.0) -> list:
    """The monitor's changelog once ``condition`` holds for its records: the store answers at
    once, the changelog gets each changed saga at the next write (every second)."""
    async def records():
        found = [r async for r in read_topics(mesh.tool, ["saga_monitor-sagas-changelog"],
                                              follow=False, from_beginning=True)]
        return found if condition(found) else None
    return await mesh.wait_for_async(records, timeout=timeout)


async def _finished_rows(monitor, count: int) -> dict | None:
    """Every saga's row once all ``count`` are finished (less its age, which grows)."""
    listed = await monitor.json("/api/sagas?limit=500")
    if not listed or listed["total"] != count or not all(r["finished"] for r in listed["sagas"]):
        return None
    return {r["order_id"]: {k: v for k, v in r.items() if k != "age_seconds"}
            for r in listed["sagas"]}


async def test_the_monitor_says_loudly_and_is_not_ready_when_a_topic_it_reads_disappears(
        mesh, saga_monitor):
    monitor = saga_monitor()
    await _ready(mesh, monitor)
    async with admin_client(mesh.tool) as admin:
        await admin.delete_topics([mesh.tool.topic("PaymentCharged.DLT")])

    async def not_ready():
        status, body = await monitor.get("/health")
        return body if status == 503 and body["topics"]["missing"] else None

    health = await mesh.wait_for_async(not_ready, timeout=30)
    assert health["topics"]["missing"] == ["PaymentCharged.DLT"] and not health["ready"]
    await mesh.wait_for(lambda: "NOT ready" in monitor.log, timeout=10)
    assert "PaymentCharged.DLT" in monitor.log


async def _absent(monitor, order_id: str) -> bool:
    status, _ = await monitor.get(f"/api/sagas/{order_id}")
    return status == 404


async def _run(mesh, command: str) -> str:
    """A sagactl command line, as printed, in its own process."""
    program, *args = command.split()
    assert program == "sagactl"
    ran = await sagactl(mesh, *args)
    assert ran.code == 0, ran.output
    return ran.output


def _text(url: str) -> str:
    return httpx.get(url, timeout=5).text


async def test_a_page_naming_another_host_reads_nothing_from_the_monitor(mesh, saga_monitor):
    """DNS rebinding: a web page whose name now points at 127.0.0.1 sends its own Host."""
    monitor = saga_monitor()
    await mesh.wait_for_async(lambda: _answers(monitor), timeout=90)
    async with httpx.AsyncClient(base_url=monitor.url) as client:
        rebound = await client.get("/api/stats", headers={"Host": "evil.example"})
        named = await client.get("/api/stats", headers={"Host": "localhost"})
    assert (rebound.status_code, named.status_code) == (400, 200)


async def _answers(monitor) -> bool:
    status, _ = await monitor.get("/health")
    return status is not None
