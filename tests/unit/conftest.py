"""Unit tests run handlers through the real dispatcher on in-memory SQLite: no Kafka."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.choreography import ServiceSpec
from shared.db import open_database
from shared.events import Event
from shared.processing import create_all_tables
from shared.runtime.dispatcher import Dispatcher


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
        for event in events:
            emitted += self.dispatcher.handle(event).emitted
        return emitted

    def outbox_types(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT topic FROM outbox ORDER BY seq")]

    def rows(self, table: str) -> list[dict]:
        return list(self.db[table].rows)


@pytest.fixture
def service_under_test() -> Callable[..., ServiceUnderTest]:
    return ServiceUnderTest
