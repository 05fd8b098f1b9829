"""Instances of a service on one PostgreSQL database meet at its locks. At a row lock, the
instance whose lock waits fails its whole batch (nothing decided, all of it read again), so
that its other locks go too and the other instance's batch goes on. An instance starting
beside busy ones takes no table lock when its tables are already as it needs them."""

import psycopg
import pytest

from inventory_service.handlers import SERVICE as INVENTORY
from inventory_service.repository import InventoryUnitOfWork
from inventory_service.repository import create_tables as inventory_tables
from shared.deadletters import DeadLetters
from shared.events import StockAdded
from shared.processing import EventProcessor, create_all_tables
from shared.runtime.dispatcher import Dispatcher
from shared.store.postgres import PostgresStore
from shared.testing import SimulatedClock
from tests.support.builders import event, order_created
from tests.support.processing import delivery_of, processor_for

pytestmark = pytest.mark.integration


class Instance:
    """The inventory service's writer connection and dispatcher, on its PostgreSQL database."""

    def __init__(self, store: PostgresStore) -> None:
        self.db = store.open_writer()
        create_all_tables(self.db, inventory_tables)
        self.dispatcher = Dispatcher(INVENTORY, lambda: InventoryUnitOfWork(self.db))

    def processor(self, *, handlers, **options) -> EventProcessor:
        """The runtime's event processor on this instance's connection (what
        ``tests.support.processing.processor_for`` asks of a service, as of the step kit)."""
        return EventProcessor(self.db, handlers,
                              DeadLetters("inventory_service", "inventory_service"), **options)


@pytest.fixture
def store(postgres_databases):
    return PostgresStore(postgres_databases.url_for("inventory_service"),
                         postgres_databases.password_for("inventory_service"))


def test_an_event_waiting_for_another_instances_row_lock_has_its_whole_batch_redelivered(store):
    inventory = Instance(store)
    processor = processor_for(inventory, SimulatedClock())
    processor.process_batch([delivery_of(event(StockAdded(sku="WIDGET-1", quantity=10),
                                               order_id=None))])
    inventory.db.execute("SET lock_timeout = '200ms'")  # LOCK_TIMEOUT, shortened
    batch = [delivery_of(event(order_created(), order_id=f"ord-{n}"), offset=n) for n in (1, 2)]
    other = store.open_writer()
    with other.transaction():  # another instance's batch holds the SKU's row
        other.execute("SELECT * FROM stock WHERE sku = 'WIDGET-1' FOR UPDATE")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            processor.process_batch(batch)
        assert not inventory.db.in_transaction
    assert inventory.db.count("retry_queue") == 0 and inventory.db.count("reservations") == 0

    processor.process_batch(batch)  # read again, once the other batch committed
    assert inventory.db.count("reservations") == 2 and inventory.db.count("retry_queue") == 0


def test_an_instance_starting_beside_a_busy_one_migrates_without_waiting_for_its_locks(store):
    Instance(store)  # the running one made the tables
    busy = store.open_writer()
    with busy.transaction():  # in the middle of a batch: its inbox, stock and outbox in use
        busy.execute("INSERT INTO inbox (event_id, event_type) VALUES ('e1', 'StockAdded')")
        busy.execute("INSERT INTO stock (sku, available, reserved, shipped, received) "
                     "VALUES ('WIDGET-1', 1, 0, 0, 1)")
        busy.execute("INSERT INTO outbox (topic, key, value, headers) "
                     "VALUES ('StockAdded', 'k', 'v', '[]')")
        starting = store.open_writer()
        starting.execute("SET lock_timeout = '200ms'")  # LOCK_TIMEOUT, shortened
        with store.migrating(starting):
            create_all_tables(starting, inventory_tables)


@pytest.mark.parametrize("step", ["savepoint", "unguarded_step"])
@pytest.mark.parametrize("sqlstate", ["40P01", "55P03"])  # deadlock detected, lock not available
def test_a_lock_conflict_in_a_step_rolls_back_the_whole_transaction(store, sqlstate, step):
    db = store.open_writer()
    db.execute("CREATE TABLE steps (n int)")
    with db.transaction():
        db.execute("INSERT INTO steps VALUES (1)")
        with pytest.raises(psycopg.errors.lookup(sqlstate)), getattr(db, step)():
            db.execute(f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{sqlstate}'; "
                       "END $$")
        assert not db.in_transaction  # the earlier steps, and their locks, are gone too
    assert db.count("steps") == 0


def test_any_other_error_in_a_savepoint_rolls_back_only_the_savepoint(store):
    db = store.open_writer()
    db.execute("CREATE TABLE steps (n int)")
    with db.transaction():
        db.execute("INSERT INTO steps VALUES (1)")
        with pytest.raises(psycopg.errors.DivisionByZero), db.savepoint():
            db.execute("INSERT INTO steps VALUES (1 / 0)")
        assert db.in_transaction
    assert db.count("steps") == 1
