"""The conservation checks used by batch and chaos runs do catch broken states."""

import pytest

from devtools.invariants import violations
from fraud_service.repository import create_tables as fraud_tables
from inventory_service.repository import create_tables as inventory_tables
from notification_service.repository import create_tables as notification_tables
from orchestrator_service.repository import create_tables as orchestrator_tables
from order_service.repository import create_tables as order_tables
from payment_service.repository import create_tables as payment_tables
from shared.processing import create_all_tables
from shared.store import open_database
from shipping_service.repository import create_tables as shipping_tables

TABLES = {"order_service": order_tables, "inventory_service": inventory_tables,
          "payment_service": payment_tables, "shipping_service": shipping_tables,
          "notification_service": notification_tables, "fraud_service": fraud_tables}


@pytest.fixture
def data_dir(tmp_path):
    for service, create in TABLES.items():
        db = open_database(tmp_path / f"{service}.db")
        create_all_tables(db, create)
        db.close()
    return tmp_path


def _insert(data_dir, service, table, **row):
    db = open_database(data_dir / f"{service}.db")
    db[table].insert(row)
    db.close()


def _completed_order(data_dir, order_id="o1", total="10.00"):
    _insert(data_dir, "order_service", "orders", order_id=order_id, customer_id="alice",
            status="COMPLETED", total=total, items="[]", shipping_address="{}")
    _insert(data_dir, "shipping_service", "shipments", order_id=order_id, status="SHIPPED")
    _insert(data_dir, "notification_service", "notifications", order_id=order_id,
            kind="order_completed", customer_id="alice", message="m")
    _insert(data_dir, "payment_service", "payments", order_id=order_id, payment_id="p",
            customer_id="alice", amount=total, status="CHARGED")


def test_a_consistent_state_has_no_violations(data_dir):
    _completed_order(data_dir)
    _insert(data_dir, "payment_service", "accounts", customer_id="alice", balance="90.00",
            deposited="100.00")
    assert violations(data_dir, {"o1"}) == []


def test_money_out_of_thin_air_is_a_violation(data_dir):
    _completed_order(data_dir)
    _insert(data_dir, "payment_service", "accounts", customer_id="alice", balance="95.00",
            deposited="100.00")
    assert any("alice" in v for v in violations(data_dir))


def test_stock_that_does_not_add_up_is_a_violation(data_dir):
    _insert(data_dir, "inventory_service", "stock", sku="A", available=5, reserved=1, shipped=0,
            received=5)
    assert violations(data_dir) == ["A: 5+1+0 != received 5"]


def test_a_pending_order_a_double_notification_and_an_unsent_event_are_violations(data_dir):
    _insert(data_dir, "order_service", "orders", order_id="o2", customer_id="bob",
            status="PENDING", total="1.00", items="[]", shipping_address="{}")
    _insert(data_dir, "inventory_service", "outbox", topic="X", value=b"", headers="[]")
    found = violations(data_dir, {"o2", "o3"})
    assert "o2: still PENDING" in found and "o3: never recorded" in found
    assert "o2: 0 outcome notifications" in found
    assert "inventory_service: 1 outbox rows unsent" in found


def test_a_screening_left_unsent_is_a_violation_and_a_mesh_without_screening_has_none(data_dir):
    _insert(data_dir, "fraud_service", "outbox", topic="FraudCheckPassed", value=b"",
            headers="[]")
    assert violations(data_dir) == ["fraud_service: 1 outbox rows unsent"]
    (data_dir / "fraud_service.db").unlink()  # a mesh of the first flow's services only
    assert violations(data_dir) == []


def test_an_orchestrated_saga_that_ended_otherwise_than_its_order_is_a_violation(data_dir):
    db = open_database(data_dir / "orchestrator_service.db")
    create_all_tables(db, orchestrator_tables)
    db.close()
    _completed_order(data_dir)
    _insert(data_dir, "payment_service", "accounts", customer_id="alice", balance="90.00",
            deposited="100.00")
    _insert(data_dir, "orchestrator_service", "sagas", order_id="o1", version=1,
            phase="COMPLETED", at=5)
    assert violations(data_dir, {"o1"}) == []
    _insert(data_dir, "orchestrator_service", "sagas", order_id="o2", version=1,
            phase="COMPENSATING", at=1)
    _insert(data_dir, "orchestrator_service", "outbox", topic="ReleaseStock", key="o2",
            value="{}", headers="[]")
    assert violations(data_dir) == ["o2: the orchestrator says COMPENSATING, the order None",
                                    "orchestrator_service: 1 outbox rows unsent"]
