"""`make demo`: every path of the order saga, six real processes, one real broker.

Starts a broker (the local launcher, unless KAFKA_BOOTSTRAP_SERVERS is set),
starts the services as separate processes, places one order per path, prints
what happened, stops everything it started, and exits 1 if any path did not
behave as expected. Orders placed through the API run the latest flow of the saga (version 2:
screened by fraud_service); an OrderCreated published straight onto Kafka without a
``saga_version`` runs the first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from devtools.orders import BALANCES, STOCK, UNSERVED, is_final, order_body
from devtools.processes import SERVICES, Mesh
from devtools.secure import prepare, principal_env, principal_settings
from localkafka import LocalKafka
from sagactl.kafka import publish, read_topics
from sagactl.tracing import compensations
from shared.events import SAGA_EVENTS, Event, OrderCreated, decode
from shared.saga import LATEST_VERSION
from shared.settings import Settings, ToolSettings

NONE = "none"
RELEASE_CANCEL = "StockReleased → OrderCancelled"
REFUND_RELEASE_CANCEL = "PaymentRefunded → StockReleased → OrderCancelled"


@dataclass
class Outcome:
    path: str
    order_id: str
    expected: str
    actual: str = "?"
    compensations: str = ""
    #: Compensations that may be seen, in this exact order.
    allowed: tuple[str, ...] = (NONE,)
    #: The version of the saga's flow it must run, and the one its events carried.
    expected_flow: int = LATEST_VERSION
    flow: int | None = None

    @property
    def ok(self) -> bool:
        return (self.actual == self.expected and self.compensations in self.allowed
                and self.flow == self.expected_flow)


def body(customer="alice", sku="WIDGET-1", quantity=1, address=None) -> dict:
    return order_body(customer, sku, quantity, address=address)


class Demo:
    def __init__(self, mesh: Mesh, settings: ToolSettings) -> None:
        self.mesh, self.settings = mesh, settings
        self.client = httpx.Client(base_url=mesh.order_api, timeout=10,
                                   headers=settings.api_headers())

    def place(self, order: dict) -> str:
        response = self.client.post("/orders", json=order)
        response.raise_for_status()
        return response.json()["order_id"]

    def order(self, order_id: str) -> dict:
        return self.client.get(f"/orders/{order_id}").json()

    def wait(self, order_id: str, done: Callable[[dict], bool], timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while not done(order := self.order(order_id)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return order

    def final(self, order_id: str) -> dict:
        return self.wait(order_id, is_final)

    def seen(self, order_id: str, event_type: str) -> dict:
        return self.wait(order_id, lambda o: any(h["event_type"] == event_type
                                                 for h in o.get("history", [])))

    def charge_asked(self, order_id: str, timeout: float = 30) -> None:
        """Wait until the saga has asked for the charge: in a choreography the order's history
        shows the reservation; orchestrated, the orchestrator's log shows ChargePayment sent."""
        if self.mesh.mode == "choreographed":
            self.seen(order_id, "StockReserved")
            return
        deadline = time.monotonic() + timeout
        url = f"{self.mesh['orchestrator_service'].url}/sagas/{order_id}"
        while time.monotonic() < deadline:
            answer = self.client.get(url)
            if answer.status_code == 200 and any(
                    entry["message_type"] == "ChargePayment" for entry in answer.json()["log"]):
                return
            time.sleep(0.1)

    def simple(self, path: str, order: dict, expected: str, allowed: str = NONE) -> Outcome:
        order_id = self.place(order)
        return Outcome(path, order_id, expected, self.final(order_id)["status"],
                       allowed=(allowed,))

    def published_directly(self) -> Outcome:
        event = Event.new(OrderCreated.model_validate(body()), order_id=_order_id(),
                          producer="demo-kcat")
        asyncio.run(publish(self.settings, [event]))
        return Outcome("OrderCreated straight onto Kafka", event.order_id, "COMPLETED",
                       self.final(event.order_id)["status"], expected_flow=1)

    def cancelled_mid_saga(self) -> Outcome:
        payment = self.mesh["payment_service"]
        payment.freeze()  # hold the saga at the payment step
        try:
            order_id = self.place(body(quantity=2))
            self.charge_asked(order_id)
            self.client.post(f"/orders/{order_id}/cancellation", json={"reason": "changed mind"})
            self.seen(order_id, "OrderCancellationAccepted")
        finally:
            payment.thaw()
        order = self.final(order_id)
        # Resumed, payment sees the reservation and the accepted cancellation in either order:
        # it declines the charge, or charges and shipping's refusal gets it refunded.
        return Outcome("cancelled before shipping", order_id, "CANCELLED, cancellation ACCEPTED",
                       f"{order['status']}, cancellation {order['cancellation']}",
                       allowed=(RELEASE_CANCEL, REFUND_RELEASE_CANCEL))

    def cancelled_too_late(self) -> Outcome:
        order_id = self.place(body())
        self.final(order_id)
        answer = self.client.post(f"/orders/{order_id}/cancellation", json={"reason": "late"})
        return Outcome("cancellation after shipping", order_id, "COMPLETED, refused 409",
                       f"{self.order(order_id)['status']}, refused {answer.status_code}")

    def run(self) -> list[Outcome]:
        outcomes = [
            self.simple("happy path", body(quantity=2), "COMPLETED"),
            self.simple("out of stock", body(sku="GADGET-2", quantity=5), "CANCELLED",
                        "OrderCancelled"),
            self.simple("fraud rejected (blocklist)", body(customer="mallory"), "CANCELLED",
                        RELEASE_CANCEL),
            self.simple("payment declined", body(customer="bob"), "CANCELLED", RELEASE_CANCEL),
            self.simple("shipping fails (address)", body(address=UNSERVED), "CANCELLED",
                        REFUND_RELEASE_CANCEL),
            self.cancelled_mid_saga(),
            self.cancelled_too_late(),
            self.published_directly(),
        ]
        for outcome in outcomes:
            events = asyncio.run(_saga_events(self.settings, outcome.order_id))
            outcome.compensations = " → ".join(compensations(events)) or NONE
            versions = {event.saga_version for event in events}  # one, or something is wrong
            outcome.flow = versions.pop() if len(versions) == 1 else None
        return outcomes


async def _saga_events(settings: Settings, order_id: str) -> list[Event]:
    return [decode(r.value, max_bytes=len(r.value)) async for r in read_topics(
        settings, [payload.event_type() for payload in SAGA_EVENTS], follow=False,
        from_beginning=True) if (r.key or b"").decode() == order_id]


def _order_id() -> str:
    return f"ord-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def broker(settings: Settings, secure: bool) -> Iterator[tuple[str, Path | None]]:
    """KAFKA_BOOTSTRAP_SERVERS when set, otherwise a local broker for the duration; with
    ``secure``, always a local secure broker (and where its principals' settings are)."""
    if "kafka_bootstrap_servers" in settings.model_fields_set and not secure:
        yield settings.kafka_bootstrap_servers, None
        return
    say(f"starting a local{' secure' if secure else ''} Kafka broker (no Docker)...")
    with LocalKafka(secure=secure) as local:
        yield local.bootstrap_servers, local.state_dir if secure else None


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def print_table(outcomes: list[Outcome]) -> None:
    headers = ("path", "order", "flow", "expected", "actual", "compensations seen", "")
    rows = [(o.path, o.order_id, f"v{o.flow}" if o.flow else "?", o.expected, o.actual,
             o.compensations, "ok" if o.ok else "UNEXPECTED") for o in outcomes]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument("--secure", action="store_true", help="SASL_SSL, a principal per "
                        "service, ACLs (docs/security.md); the demo acts as sagactl")
    parser.add_argument("--mode", choices=("choreographed", "orchestrated"),
                        default="choreographed", help="how the saga runs (SAGA_MODE): "
                        "orchestrated adds orchestrator_service, which commands each step")
    args = parser.parse_args(argv)
    secure = args.secure
    if secure and args.mode == "orchestrated":
        parser.error("--secure runs the choreography only: its ACLs are derived from the "
                     "choreography's declarations (docs/choosing.md)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with broker(Settings(), secure) as (bootstrap, kafka_dir):
        prefix = f"demo-{stamp}."
        service_env, as_sagactl = {}, {}
        if kafka_dir is not None:
            say("creating the topics and applying the ACLs...")
            asyncio.run(prepare(kafka_dir, prefix))
            service_env = {name: principal_env(kafka_dir, name) for name in SERVICES}
            as_sagactl = {**principal_settings(kafka_dir, "sagactl"),
                          "api_token_file": principal_env(kafka_dir, "sagactl")[
                              "SAGA_API_TOKEN_FILE"]}
        with Mesh(Path(".run") / "demo" / stamp, bootstrap, prefix,
                  service_env=service_env, mode=args.mode) as mesh:
            say(f"starting the {len(mesh.services)} services (logs in {mesh.data_dir})...")
            mesh.start()
            settings = ToolSettings(**{"kafka_bootstrap_servers": bootstrap, **as_sagactl},
                                    topic_prefix=prefix, order_api_url=mesh.order_api)
            mesh.seed(settings, STOCK, BALANCES)
            say("placing one order per saga path...")
            outcomes = Demo(mesh, settings).run()
        say("stopping the services...")
    print(f"mode: {args.mode}")
    print_table(outcomes)
    good = sum(o.ok for o in outcomes)
    print(f"\n{good}/{len(outcomes)} paths behaved as expected.")
    return 0 if good == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
