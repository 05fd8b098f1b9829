"""Which instance of a service decided each event (its ``saga.instance`` header), on the
monitor's saga page: with several instances per service, the one to look at."""

from __future__ import annotations

from devtools.synthetic_sagas import HAPPY, saga
from saga_monitor import progress, reading, views
from saga_monitor.state import MonitorState
from saga_monitor.waiting import Deadlines
from shared.events import encode
from shared.settings import Settings
from shared.uow import INSTANCE_HEADER
from tests.unit.test_saga_monitor import FakeTable

STEPS = Deadlines(30.0, {})


def test_each_event_on_a_sagas_page_names_the_instance_that_decided_it():
    state = MonitorState(Settings(), FakeTable())
    created, reserved = saga("ord-1", HAPPY[:2])
    for event, headers in ((created, [(INSTANCE_HEADER, b"order_service-2")]), (reserved, [])):
        for item in reading.read(event.event_type, 0, 1, b"ord-1", encode(event), headers,
                                 timestamp=0.0, max_bytes=65536):
            state.fold(item, 0)
    timeline = views.detail("ord-1", state.get("ord-1"), 0.0, STEPS, {})["timeline"]
    assert [(e["producer"], e["instance"]) for e in timeline] == [
        ("order_service", "order_service-2"), ("inventory_service", None)]


def test_a_record_from_before_instances_reads_back_with_no_instance():
    record = progress.fold_event(None, saga("ord-2", HAPPY[:1])[0], 0, "order_service-1")
    older = progress.to_json(record)
    older[progress.EVENTS] = [list(e[:5]) for e in older[progress.EVENTS]]
    assert progress.from_json(older)[progress.EVENTS][0][progress.E_INSTANCE] is None
    assert progress.from_json(progress.to_json(record)) == record
