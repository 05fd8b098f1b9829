"""`make up MODE=orchestrated`: the real compose file with its orchestrated profile, the
orchestrator's container among the others, sagas run by command from the host with sagactl."""

from __future__ import annotations

import pytest

from tests.support.compose import ComposeMesh, brought_up
from tests.support.docker_engine import compose_command, docker_engine, ensure_base_images

pytestmark = pytest.mark.e2e


def test_the_containerised_mesh_runs_the_saga_by_command():
    with docker_engine():
        ensure_base_images()
        mesh = ComposeMesh(compose_command(), env={"COMPOSE_SAGA_MODE": "orchestrated"},
                           options=("--profile", "orchestrated"))
        with brought_up(mesh, timeout=240):
            for args in (("stock", "add", "WIDGET-1", "10"), ("funds", "deposit", "alice", "100.00"),
                         ("funds", "deposit", "bob", "5.00")):
                mesh.sagactl(*args)
            mesh.until(lambda: mesh.service_json("payment_service", "/accounts/bob"),
                       what="seed data")
            happy = mesh.place("-c", "alice", "-i", "WIDGET-1:2:9.95")
            declined = mesh.place("-c", "bob", "-i", "WIDGET-1:1:9.95")
            assert (mesh.final(happy)["status"], mesh.final(declined)["status"]) == (
                "COMPLETED", "CANCELLED")
            saga = mesh.service_json("orchestrator-service", f"/sagas/{declined}")
            assert saga["phase"] == "CANCELLED"
            assert [entry["message_type"] for entry in saga["log"] if entry["direction"] ==
                    "sent"] == ["ReserveStock", "CheckFraud", "ChargePayment", "ReleaseStock",
                                "CancelOrder", "NotifyCustomer"]
