"""Secure mode, tried the way an attacker on the same network would: refused without
credentials, refused outside what the choreography grants — and every saga path still ends."""

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import GroupAuthorizationFailedError, KafkaError
from confluent_kafka import Producer
from pydantic import SecretStr

from devtools.orders import BALANCES, STOCK, UNSERVED, order_body
from devtools.secure import prepare, principal_env, principal_settings
from localkafka import LocalKafka
from participants import OPERATOR, SERVICES
from sagactl.acls import apply_acls
from sagactl.errors import CliError
from sagactl.kafka import publish_raw, read_topics
from shared.acls import DECISIONS_TOPIC, Acl, policy
from shared.events import Event, FundsDeposited, OrderShipped, encode
from shared.settings import ToolSettings
from tests.support.mesh import InProcessMesh

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
                       reason="these tests start a secure broker of their own"),
]


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory):
    with LocalKafka(tmp_path_factory.mktemp("secure-kafka"), secure=True) as broker:
        yield broker


@pytest.fixture
def secured(secure_kafka):
    """A fresh prefix with its topics and ACLs; principal name → ToolSettings."""
    prefix = f"s{uuid.uuid4().hex[:8]}."
    asyncio.run(prepare(secure_kafka.state_dir, prefix))

    def as_(principal: str) -> ToolSettings:
        return ToolSettings(**principal_settings(secure_kafka.state_dir, principal,
                                                 topic_prefix=prefix, connect_timeout=15))
    as_.prefix = prefix
    return as_


async def _publish(settings: ToolSettings, topic: str) -> str:
    try:
        await publish_raw(settings, [(topic, b"ord-1", b"{}", [])])
    except CliError as refused:
        return refused.message
    return "allowed"


async def test_a_client_without_credentials_is_refused(secure_kafka):
    producer = AIOKafkaProducer(bootstrap_servers=secure_kafka.bootstrap_servers,
                                request_timeout_ms=3000)
    with pytest.raises((KafkaError, OSError, TimeoutError)):
        async with asyncio.timeout(8):
            await producer.start()
            await producer.send_and_wait("OrderCreated", b"{}")
    await producer.stop()


async def test_a_wrong_password_is_refused(secured, caplog):
    intruder = secured("payment_service").model_copy(
        update={"kafka_password_file": None, "kafka_password": SecretStr("guess")})
    assert "refused these credentials" in await _publish(intruder, "PaymentCharged")
    assert "SaslAuthenticationFailed" in caplog.text  # the broker's own answer


async def test_the_payment_principal_writes_only_what_payment_emits(secured):
    payment = secured("payment_service")
    assert await _publish(payment, "PaymentCharged") == "allowed"
    for forged in ("OrderShipped", "StockReserved"):
        assert "TopicAuthorizationFailed" in await _publish(payment, forged), forged


async def test_the_sagactl_principal_places_orders_but_cannot_move_money(secured,
                                                                         secure_kafka):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SAGA_")},
           **principal_env(secure_kafka.state_dir, "sagactl"), "SAGA_TOPIC_PREFIX": secured.prefix}
    placed = subprocess.run([sys.executable, "-m", "sagactl", "order", "place", "--direct",
                             "-c", "alice", "-i", "WIDGET-1:1:1.00"], env=env,
                            capture_output=True, text=True, timeout=60)
    forged = subprocess.run([sys.executable, "-m", "sagactl", "publish", "PaymentCharged", "-o",
                             "ord-1", "--set", "payment_id=p-1", "--set", "customer_id=alice",
                             "--set", "amount=60.00", "--set", 'shipping_address={"name": "A", '
                             '"street": "1 Main St", "city": "Berlin", "country": "DE"}'],
                            env=env, capture_output=True, text=True, timeout=60)
    assert placed.returncode == 0, placed.stderr
    assert forged.returncode == 3 and "refused sagactl" in forged.stderr


def _sagactl(kafka, prefix: str, principal: str, *args: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SAGA_")},
           **principal_env(kafka.state_dir, principal), "SAGA_TOPIC_PREFIX": prefix}
    return subprocess.run([sys.executable, "-m", "sagactl", *args], env=env,
                          capture_output=True, text=True, timeout=90)


async def test_applying_the_acls_takes_away_every_grant_the_declarations_do_not_give(
        secured, secure_kafka):
    stale = Acl("payment_service", "WRITE", "TOPIC", f"{secured.prefix}OrderShipped")
    await apply_acls(secured("admin"), [*policy(SERVICES, OPERATOR, secured.prefix), stale])
    assert await _publish(secured("payment_service"), "OrderShipped") == "allowed"

    shown = _sagactl(secure_kafka, secured.prefix, "admin", "acls", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [f"- {stale.describe()}"]
    assert await _publish(secured("payment_service"), "OrderShipped") == "allowed"  # still
    applied = _sagactl(secure_kafka, secured.prefix, "admin", "acls", "--apply")
    assert applied.returncode == 0 and "0 created, 1 deleted" in applied.stderr, applied.stderr
    assert "TopicAuthorizationFailed" in await _publish(secured("payment_service"),
                                                        "OrderShipped")


def test_only_the_admin_may_apply_acls_anyone_else_is_refused_in_one_line(secured, secure_kafka):
    refused = _sagactl(secure_kafka, secured.prefix, "payment_service", "acls", "--apply")
    assert refused.returncode != 0, refused.stdout
    [said] = [line for line in refused.stderr.splitlines() if "refused" in line]
    assert "are you the admin principal?" in said, refused.stderr
    unchanged = _sagactl(secure_kafka, secured.prefix, "admin", "acls", "--dry-run")
    assert unchanged.stdout == "" and "create 0 and delete 0" in unchanged.stderr


def _planted(dlt: str, target: str, value: bytes, offset: int = 0) -> tuple:
    """A letter as a compromised service may write it: any bytes, any headers."""
    headers = {"dlt.kind": "handler-failed", "dlt.reason": "gateway timeout",
               "dlt.source.topic": target, "dlt.source.partition": "0",
               "dlt.source.offset": str(offset), "dlt.service": "inventory_service"}
    return (dlt, b"mallory", value, [(k, v.encode()) for k, v in headers.items()])


async def test_a_compromised_service_cannot_publish_through_the_operators_replay(secured,
                                                                                secure_kafka):
    money = Event.new(FundsDeposited(customer_id="mallory", amount="1000000.00"),
                      producer="payment_service")
    shipped = Event.new(OrderShipped(shipment_id="s-1", carrier="X", tracking_number="1"),
                        producer="shipping_service", order_id="ord-1")
    decision = json.dumps({"decision": "acked", "reason": "nothing to see"}).encode()
    await publish_raw(secured("inventory_service"), [  # it may write these .DLT topics
        _planted("StockAdded.DLT", "FundsDeposited", encode(money)),
        _planted("StockAdded.DLT", "OrderShipped", encode(shipped)),
        _planted("StockAdded.DLT", DECISIONS_TOPIC, decision),
        _planted("OrderShipped.DLT", "OrderShipped", encode(shipped))])

    for operator in ("sagactl", "admin"):
        ran = _sagactl(secure_kafka, secured.prefix, operator, "dlq", "replay", "--all")
        assert ran.returncode == 0 and "replayed 0 letter(s), skipped 4" in ran.stderr, ran.stderr
    published = [r async for r in read_topics(secured("admin"), [
        "FundsDeposited", "OrderShipped", DECISIONS_TOPIC], follow=False, from_beginning=True)]
    assert published == []


async def test_a_service_cannot_join_another_services_consumer_group(secured):
    payment = secured("payment_service")
    consumer = AIOKafkaConsumer(f"{secured.prefix}StockReserved",
                                group_id=f"{secured.prefix}inventory_service",
                                **payment.client_options())
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            async with asyncio.timeout(20):
                await consumer.start()
                await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()


async def test_every_saga_path_completes_in_secure_mode(secured, secure_kafka, tmp_path):
    credentials = {name: principal_settings(secure_kafka.state_dir, name,
                                            api_token_file=secure_kafka.secrets.api_token)
                   for name in (*(spec.name for spec in SERVICES), "admin")}
    mesh = InProcessMesh(secure_kafka.bootstrap_servers, secured.prefix, tmp_path,
                         credentials=credentials.get)
    try:
        await mesh.start()
        await mesh.seed(STOCK, BALANCES)
        orders = {"happy": order_body(quantity=1), "out of stock": order_body(sku="GADGET-2",
                                                                              quantity=5),
                  "declined": order_body(customer="bob", quantity=1),
                  "no carrier": order_body(quantity=1, address=UNSERVED)}
        placed = {path: await mesh.place_order(body) for path, body in orders.items()}
        final = await mesh.wait_until_final(*placed.values())
        assert {path: final[order_id]["status"] for path, order_id in placed.items()} == {
            "happy": "COMPLETED", "out of stock": "CANCELLED", "declined": "CANCELLED",
            "no carrier": "CANCELLED"}
    finally:
        await mesh.stop()


def test_a_librdkafka_client_connects_with_the_generated_properties_file(secured, secure_kafka):
    """What kcat users get (kcat -F): librdkafka 2.6.1 or newer authenticates; the client may
    do what its principal may, and no more."""
    lines = (secure_kafka.state_dir / "clients" / "sagactl.properties").read_text().splitlines()
    config = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert config["ssl.endpoint.identification.algorithm"] == "https"
    outcomes = {}
    producer = Producer({**config, "error_cb": lambda error: outcomes.setdefault("error", error)})
    for topic in ("OrderCreated", "PaymentCharged"):
        producer.produce(secured.prefix + topic, key=b"ord-1", value=b"{}",
                         on_delivery=lambda error, _, topic=topic: outcomes.update({topic: error}))
    assert producer.flush(30) == 0
    assert outcomes["OrderCreated"] is None and "error" not in outcomes, outcomes
    assert outcomes["PaymentCharged"].name() == "TOPIC_AUTHORIZATION_FAILED"
