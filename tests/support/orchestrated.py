"""Every orchestrated service's declared reactions on its own in-memory tables, each emitted
message delivered to whoever reacts to it, until nothing is left to deliver: whole orchestrated
sagas without Kafka, for the orchestrator's and the monitor's unit tests."""

from collections import deque
from decimal import Decimal

from fraud_service.repository import FraudUnitOfWork
from fraud_service.repository import create_tables as fraud_tables
from inventory_service.repository import InventoryUnitOfWork
from inventory_service.repository import create_tables as inventory_tables
from notification_service.repository import NotificationUnitOfWork
from notification_service.repository import create_tables as notification_tables
from orchestrator_service.repository import OrchestratorUnitOfWork
from orchestrator_service.repository import create_tables as orchestrator_tables
from order_service.repository import OrderUnitOfWork
from order_service.repository import create_tables as order_tables
from participants import ORCHESTRATED_SERVICES
from payment_service.repository import PaymentUnitOfWork
from payment_service.repository import create_tables as payment_tables
from shared.events import Event, FundsDeposited, StockAdded
from shared.testing import ServiceKit, SimulatedClock
from shipping_service.repository import ShippingUnitOfWork
from shipping_service.repository import create_tables as shipping_tables

_STORES = {"orchestrator_service": (OrchestratorUnitOfWork, orchestrator_tables),
           "order_service": (OrderUnitOfWork, order_tables),
           "inventory_service": (InventoryUnitOfWork, inventory_tables),
           "fraud_service": (FraudUnitOfWork, fraud_tables),
           "payment_service": (PaymentUnitOfWork, payment_tables),
           "shipping_service": (ShippingUnitOfWork, shipping_tables),
           "notification_service": (NotificationUnitOfWork, notification_tables)}


class InMemoryMesh:
    def __init__(self) -> None:
        clock = SimulatedClock()
        self.kits = {spec.name: ServiceKit(spec, *_STORES[spec.name], clock=clock,
                                           **({"deadline_seconds": 60}
                                              if spec.name == "order_service" else {}))
                     for spec in ORCHESTRATED_SERVICES}
        self.seen: list[Event] = []
        self.run(StockAdded(sku="WIDGET-1", quantity=10), order_id=None)
        self.run(FundsDeposited(customer_id="alice", amount=Decimal("100")), order_id=None)

    def run(self, payload, order_id="ord-1", version=2, hold=()) -> list[Event]:
        kit = self.kits["order_service"]
        return self.deliver([kit.event(payload, order_id, version=version)], hold)

    def deliver(self, events: list[Event], hold=()) -> list[Event]:
        """Deliver until quiet; messages of a type in ``hold`` are kept back and returned."""
        queue, held = deque(events), []
        while queue:
            event = queue.popleft()
            self.seen.append(event)
            if event.event_type in hold:
                held.append(event)
                continue
            for kit in self.kits.values():
                if type(event.payload) in kit.spec.reactions:
                    queue.extend(kit.deliver(event))
        return held

    def order(self, order_id="ord-1") -> dict:
        return next(r for r in self.kits["order_service"].rows("orders")
                    if r["order_id"] == order_id)

    def saga(self, order_id="ord-1") -> dict:
        return next(r for r in self.kits["orchestrator_service"].rows("sagas")
                    if r["order_id"] == order_id)

    def types(self, order_id="ord-1") -> list[str]:
        return [e.event_type for e in self.seen if e.order_id == order_id]
