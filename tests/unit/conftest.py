"""Unit tests run handlers through the real dispatcher on in-memory SQLite: no Kafka.

The services under test are the step authors' kit (shared/testing.py), the same one a new
participant's tests use.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inventory_service.handlers import SERVICE as INVENTORY
from inventory_service.repository import InventoryUnitOfWork
from inventory_service.repository import create_tables as inventory_tables
from shared.events import StockAdded
from shared.testing import ServiceKit, SimulatedClock
from tests.support.builders import event

#: Where the tests' simulated time starts (a fixed point: stored times are predictable).
CLOCK_START = 1_000_000.0


@pytest.fixture
def service_under_test() -> Callable[..., ServiceKit]:
    return ServiceKit


@pytest.fixture
def stocked_inventory(clock) -> ServiceKit:
    """The inventory service with ten WIDGET-1 in stock: the subject of the processor tests."""
    inventory = ServiceKit(INVENTORY, InventoryUnitOfWork, inventory_tables, clock=clock)
    inventory.deliver(event(StockAdded(sku="WIDGET-1", quantity=10)))
    return inventory


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(CLOCK_START)
