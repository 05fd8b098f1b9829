"""docs/choosing.md's structural figures come from the declarations and the source, so they
follow the code: who hears whom, who decides a compensation, what adding the screening touched."""

from devtools import choosing


def test_orchestrated_participants_hear_only_from_the_orchestrator_and_the_operator():
    rows = {row["service"]: row for row in choosing.coupling("orchestrated")}
    assert rows["payment_service"]["knows"] == ["orchestrator_service"]
    assert len(rows["orchestrator_service"]["knows"]) == 6
    choreographed = {row["service"]: row for row in choosing.coupling("choreographed")}
    assert "orchestrator_service" not in choreographed
    assert choreographed["payment_service"]["knows"] == [
        "fraud_service", "inventory_service", "shipping_service"]


def test_compensations_are_decided_in_one_place_only_when_orchestrated():
    assert choosing.deciders("orchestrated") == ["orchestrator_service"]
    assert choosing.deciders("choreographed") == ["order_service", "inventory_service",
                                                  "payment_service"]


def test_the_screening_touched_its_neighbours_only_in_the_choreography():
    choreographed = choosing.files_for_the_step("choreographed")
    orchestrated = choosing.files_for_the_step("orchestrated")
    assert "payment_service/handlers.py" in choreographed
    assert not any(path.startswith(("payment_service", "inventory_service", "order_service"))
                   for path in orchestrated)
    assert "shared/orchestration.py" in orchestrated
    assert "shared/orchestration.py" not in choreographed
    assert "fraud_service/model.py" in choreographed and "fraud_service/model.py" in orchestrated
