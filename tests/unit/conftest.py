"""Unit tests run handlers through the real dispatcher on in-memory SQLite: no Kafka."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inventory_service.handlers import SERVICE as INVENTORY
from inventory_service.repository import InventoryUnitOfWork
from inventory_service.repository import create_tables as inventory_tables
from shared.choreography import ServiceSpec
from shared.events import Event, StockAdded
from shared.processing import create_all_tables
from shared.runtime.dispatcher import Dispatcher
from shared.store import open_database
from tests.support.builders import event
from tests.support.processing import FakeClock


class ServiceUnderTest:
    """One service with its tables in memory; ``deliver`` runs an event like Kafka would."""

    def __init__(self, spec: ServiceSpec, uow_class: Callable, create_tables: Callable,
                 path: str = ":memory:") -> None:
        self.db = open_database(path)
        create_all_tables(self.db, create_tables)
        self.uow_class = uow_class
        self.dispatcher = Dispatcher(spec, self.new_uow)

    def new_uow(self):
        return self.uow_class(self.db)

    def deliver(self, *events: Event) -> list[Event]:
        emitted = []
        for evt in events:
            emitted += self.dispatcher.handle(evt).emitted
        return emitted

    def outbox_types(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT topic FROM outbox ORDER BY seq")]

    def rows(self, table: str) -> list[dict]:
        return list(self.db[table].rows)


@pytest.fixture
def service_under_test() -> Callable[..., ServiceUnderTest]:
    return ServiceUnderTest


@pytest.fixture
def stocked_inventory() -> ServiceUnderTest:
    """The inventory service with ten WIDGET-1 in stock: the subject of the processor tests."""
    inventory = ServiceUnderTest(INVENTORY, InventoryUnitOfWork, inventory_tables)
    inventory.deliver(event(StockAdded(sku="WIDGET-1", quantity=10)))
    return inventory


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
