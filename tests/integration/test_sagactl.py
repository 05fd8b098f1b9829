"""sagactl as a user meets it: clear failures with documented exit codes, nothing sent on bad
input, and the edges of tail, publish, topics, doctor and dead-letter replay."""

import asyncio
import json
import socket
import subprocess
import sys
import time

import pytest

from devtools.orders import BALANCES, STOCK, order_body
from sagactl.kafka import publish_raw, read_topics
from shared.runtime.topics import ensure_topics
from tests.support.cli import run_sagactl, sagactl, sagactl_env

pytestmark = pytest.mark.integration


def test_a_broker_that_never_answers_is_one_line_and_exit_3_within_the_timeout():
    with socket.socket() as silent:  # accepts connections, never speaks Kafka
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        ran = run_sagactl("-b", address, "--connect-timeout", "2", "stock", "add", "W-1", "3",
                          env=sagactl_env())
    assert ran.code == 3 and time.monotonic() - started < 15
    assert ran.stderr.count("\n") <= 2 and "Traceback" not in ran.output
    assert f"cannot reach Kafka at {address}" in ran.stderr


def test_an_order_api_that_is_not_there_is_exit_3_and_a_bad_country_is_exit_2():
    env = sagactl_env(SAGA_ORDER_API_URL="http://127.0.0.1:1")
    unreachable = run_sagactl("order", "status", "ord-1", env=env)
    invalid = run_sagactl("order", "place", "-c", "alice", "-i", "W-1:1:1.00",
                          "--country", "ZZZ", env=env)
    assert unreachable.code == 3 and "cannot reach the order API" in unreachable.stderr
    assert invalid.code == 2 and "country" in invalid.stderr and "Traceback" not in invalid.output


async def test_bad_input_exits_2_and_sends_nothing(mesh, tmp_path):
    await ensure_topics(mesh.tool)
    seed = tmp_path / "seed.json"
    attempts = [
        ("publish", "OrderCreated", "-o", "o-1", "--set", "shortage=1"),
        ("publish", "StockAdded", "--set", "sku=A-1", "--set", "quantity=true"),
        ("seed", str(seed)),
    ]
    seed.write_text('{"stock": {"A-1": 3, "A-1": 4}}')
    for args in attempts:
        ran = await sagactl(mesh, *args)
        assert ran.code == 2, (args, ran.output)
        assert "Traceback" not in ran.output
    sent = [r async for r in read_topics(mesh.tool, ["OrderCreated", "StockAdded"],
                                         follow=False, from_beginning=True)]
    assert sent == []


async def test_publish_sets_nested_fields_by_dotted_path(mesh):
    example = (await sagactl(mesh, "publish", "OrderCreated", "--example")).stdout
    payload = json.dumps({"payload": json.loads(example)["payload"]})
    ran = await asyncio.to_thread(run_sagactl, "publish", "OrderCreated", "-o", "o-1",
                                  "--dry-run", "--file", "-", "--set",
                                  "shipping_address.country=AQ", env=sagactl_env(mesh),
                                  stdin=payload)
    assert ran.code == 0, ran.output
    assert json.loads(ran.stdout)["payload"]["shipping_address"]["country"] == "AQ"


async def test_tail_shows_tombstones_and_what_the_services_would_reject(mesh):
    await ensure_topics(mesh.tool)
    completed = (await sagactl(mesh, "publish", "OrderCompleted", "--example")).stdout
    await publish_raw(mesh.tool, [("OrderCreated", b"o-1", None, []),
                                  ("OrderCreated", b"o-2", completed.encode(), [])])
    for flags in ((), ("--json",)):
        ran = await sagactl(mesh, "tail", "--no-follow", "--from-beginning", *flags)
        assert ran.code == 0, ran.output
        assert ran.stdout.count("rejected") == 2, ran.stdout


async def test_tail_waits_for_topics_that_do_not_exist_yet_and_follows_them(mesh):
    follower = subprocess.Popen([sys.executable, "-m", "sagactl", "tail", "-t", "StockAdded"],
                                env=sagactl_env(mesh), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        await asyncio.sleep(3)
        await ensure_topics(mesh.tool)
        await mesh.seed({"LATE-1": 2}, {})
        await asyncio.sleep(8)
    finally:
        follower.terminate()
        out, err = follower.communicate(timeout=20)
    assert "waiting for topics" in err
    assert "LATE-1" in out


async def test_more_replicas_than_brokers_is_refused_at_once_with_the_brokers_reason(mesh):
    ran = await sagactl(mesh, "topics", "create", SAGA_TOPIC_REPLICATION_FACTOR="3")
    assert ran.code == 2 and "waiting" not in ran.stderr
    assert "invalid replication factor" in ran.stderr and "1 broker" in ran.stderr


async def test_with_wait_more_replicas_than_brokers_is_waited_out_like_a_starting_cluster(mesh):
    started = time.monotonic()
    ran = await sagactl(mesh, "topics", "create", "--wait", "3",
                        SAGA_TOPIC_REPLICATION_FACTOR="3")
    assert ran.code == 2 and time.monotonic() - started >= 3
    assert "waiting for brokers" in ran.stderr and "1 broker" in ran.stderr


async def test_doctor_says_all_is_well_and_then_what_is_wrong(mesh):
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    await mesh.wait_until_final(await mesh.place_order(order_body(quantity=1)))
    healthy = await sagactl(mesh, "doctor")
    assert healthy.code == 0, healthy.output

    await mesh.restart("payment_service", fault_rate=1.0, retry_max_attempts=1)
    await mesh.place_order(order_body(quantity=1))
    await mesh.wait_for(lambda: mesh.db("payment_service")["retry_queue"].count == 1)
    sick = await sagactl(mesh, "doctor", "--json")
    failed = {json.loads(line)["name"] for line in sick.stdout.splitlines()
              if not json.loads(line)["ok"]}
    assert sick.code == 4 and "parked events" in failed


async def test_topics_list_shows_each_groups_lag(mesh):
    await mesh.start("inventory_service")
    await mesh.seed({"A-1": 1}, {})
    ran = await sagactl(mesh, "topics", "list", "--json")
    listed = {topic["name"]: topic for topic in map(json.loads, ran.stdout.splitlines())}
    assert listed["StockAdded"]["messages"] == 1
    assert listed["StockAdded"]["lag"] == {"inventory_service": 0}
