"""The unit of work: inbox claim, state change and outgoing events commit together or not at
all; a compensation passes its crash point before it commits."""

import pytest

from inventory_service.handlers import SERVICE as INVENTORY
from inventory_service.repository import InventoryUnitOfWork
from inventory_service.repository import create_tables as inventory_tables
from order_service.handlers import SERVICE as ORDERS
from order_service.repository import OrderUnitOfWork, create_tables
from shared.choreography import Reaction, ServiceSpec
from shared.events import OrderCreated, StockReleased, StockReserved
from shared.store.base import StepNotUndoable
from tests.support.builders import event, order_created
from tests.support.processing import RecordingCrashPoints, delivery_of, statements_run


@pytest.fixture
def orders(service_under_test):
    return service_under_test(ORDERS, OrderUnitOfWork, create_tables)


def _counts(service) -> tuple[int, int, int]:
    return tuple(service.db[table].count for table in ("inbox", "orders", "outbox"))


def test_a_unit_of_work_left_without_commit_undoes_everything(orders):
    created = event(order_created())
    with orders.new_uow() as uow:
        uow.inbox.claim(created)
        uow.orders.add(created.order_id, created.payload, deadline_at=0.0)
        uow.originate(created.payload, order_id=created.order_id)
    assert _counts(orders) == (0, 0, 0) and uow.emitted == [] and uow.messages == []
    assert orders.deliver(created) == [] and _counts(orders) == (1, 1, 0)


def test_an_event_an_api_call_starts_names_its_service_and_no_cause(orders):
    with orders.new_uow() as uow:
        started = uow.originate(order_created(), order_id="ord-9")
        uow.commit()
    assert (started.producer, started.causation_id, started.order_id) == (
        "order_service", None, "ord-9")
    assert [message.topic for message in uow.messages] == ["OrderCreated"]


def test_outside_a_declared_reaction_a_unit_of_work_may_emit_any_event(orders):
    created = event(order_created())
    with orders.new_uow() as uow:
        emitted = uow.emit(StockReserved(**order_created().model_dump()), caused_by=created)
        uow.commit()
    assert (emitted.producer, emitted.causation_id) == ("order_service", created.event_id)
    assert orders.outbox_types() == ["StockReserved"]


def test_a_reaction_that_decides_to_do_nothing_emits_nothing(service_under_test):
    spec = ServiceSpec("order_service", {OrderCreated: Reaction(lambda evt, uow: None)})
    service = service_under_test(spec, OrderUnitOfWork, create_tables)
    reacted = service.dispatcher.handle(event(order_created()))
    assert (reacted.emitted, reacted.messages) == ([], [])


def test_committing_a_compensation_passes_the_during_compensation_crash_point(
        service_under_test):
    inventory = service_under_test(INVENTORY, InventoryUnitOfWork, inventory_tables)
    crash_points, cause = RecordingCrashPoints(), event(order_created())
    for payload in (StockReserved(**order_created().model_dump()),
                    StockReleased(items=[], reason="compensating")):
        with InventoryUnitOfWork(inventory.db, crash_points=crash_points) as uow:
            uow.emit(payload, caused_by=cause)
            uow.commit()
    assert crash_points.reached_points == [("during_compensation", ("StockReleased",))]


def test_inside_an_events_step_a_unit_left_without_commit_undoes_everything_and_the_step_ends(
        orders):
    created = event(order_created())
    with orders.db.transaction(), orders.db.savepoint(joinable=True), orders.new_uow() as uow:
        uow.inbox.claim(created)
        uow.orders.add(created.order_id, created.payload, deadline_at=0.0)
    assert _counts(orders) == (0, 0, 0) and not orders.db.in_transaction


def _steps_taken(service, step) -> list[str]:
    """The savepoint statements of one event's unit of work inside ``step`` (opened on the
    service's connection, in a transaction)."""
    created = event(order_created())
    with (statements_run(service.db) as statements, service.db.transaction(), step(),
          service.new_uow() as uow):
        uow.inbox.claim(created)
        uow.commit()
    return [s for s in statements if s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO"))]


def test_a_unit_joins_the_step_the_runtime_opened_for_its_event_instead_of_nesting_one(orders):
    assert _steps_taken(orders, lambda: orders.db.savepoint(joinable=True)) == [
        "SAVEPOINT step", "RELEASE step"]


def test_in_an_unguarded_step_a_unit_takes_no_savepoint_at_all(orders):
    assert _steps_taken(orders, orders.db.unguarded_step) == []
    assert _counts(orders)[0] == 1


def test_in_an_unguarded_step_a_unit_left_without_commit_says_that_only_the_transaction_can_undo_it(
        orders):
    created = event(order_created())
    with (pytest.raises(StepNotUndoable), orders.db.transaction(), orders.db.unguarded_step(),
          orders.new_uow() as uow):
        uow.inbox.claim(created)
    assert _counts(orders) == (0, 0, 0) and not orders.db.in_transaction


def test_a_batch_whose_handler_leaves_its_unit_without_commit_applies_nothing_and_queues_nothing(
        service_under_test):
    def claims_and_leaves(evt, uow):
        with uow:
            uow.inbox.claim(evt)

    spec = ServiceSpec("order_service", {OrderCreated: Reaction(claims_and_leaves)})
    service = service_under_test(spec, OrderUnitOfWork, create_tables)
    service.processor().process_batch([delivery_of(event(order_created()))])
    assert _counts(service) == (0, 0, 0) and service.db.count("retry_queue") == 0


def test_in_an_unguarded_step_a_failure_goes_on_to_the_steps_owner_as_it_is(orders):
    created = event(order_created())
    with (statements_run(orders.db) as statements, pytest.raises(ZeroDivisionError),
          orders.db.transaction(), orders.db.unguarded_step(), orders.new_uow() as uow):
        uow.inbox.claim(created)
        _ = 1 / 0
    assert not any(s.startswith("ROLLBACK TO") for s in statements)
    assert _counts(orders) == (0, 0, 0)
