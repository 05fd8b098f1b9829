"""The choreography is data: the rules hold, and the generated catalog matches the code."""

from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka.protocol.admin import CreateAclsRequest_v0, CreateAclsRequest_v1

from order_service.repository import OrderUnitOfWork, create_tables
from participants import OPERATOR, ORCHESTRATED_SERVICES, PARTICIPANTS
from sagactl.acls import _CreateAcls
from sagactl.docs.catalog import render
from shared.acls import policy
from shared.choreography import Reaction, ServiceSpec
from shared.events import (
    OrderCancellationAccepted,
    OrderCancelled,
    OrderCreated,
    OrderShipped,
    PaymentFailed,
    PaymentRefunded,
    ShipmentFailed,
    StockReleased,
)
from shared.saga import ORDER_SAGA, SagaDefinition, check, compensation_chain
from shared.uow import UndeclaredEvent
from tests.support.builders import event, order_created

CATALOG_DOC = Path(__file__).parents[2] / "docs" / "events.md"


def _noop(event, uow):
    pass


def _replace(name: str, reactions: dict) -> list[ServiceSpec]:
    return [ServiceSpec(spec.name, {**spec.reactions, **reactions}, spec.originates)
            if spec.name == name else spec for spec in PARTICIPANTS]


def _saga_changing(step: int, **changes) -> SagaDefinition:
    steps = list(ORDER_SAGA.steps)
    steps[step] = replace(steps[step], **changes)
    return replace(ORDER_SAGA, steps=tuple(steps))


def test_every_version_of_the_declared_choreography_keeps_every_saga_rule():
    from shared.saga import SAGAS, check_every_version
    assert sorted(SAGAS) == [1, 2]
    assert check_every_version(PARTICIPANTS) == []


def test_docs_events_md_is_generated_from_the_code():
    from shared.saga import SAGAS
    assert CATALOG_DOC.read_text() == render(SAGAS, PARTICIPANTS, (*ORCHESTRATED_SERVICES, OPERATOR)), (
        "docs/events.md is out of date: run `sagactl docs events`")


def test_a_shipment_failure_compensates_refund_then_release_then_cancel():
    chain = compensation_chain(ShipmentFailed, ORDER_SAGA, PARTICIPANTS)
    assert chain == [PaymentRefunded, StockReleased, OrderCancelled]


def test_a_rejected_screening_releases_the_stock_then_cancels_the_order_in_version_2():
    from shared.events import FraudCheckFailed
    from shared.saga import SAGAS
    in_v2 = [spec.in_version(2) for spec in PARTICIPANTS]
    assert compensation_chain(FraudCheckFailed, SAGAS[2], in_v2) == [StockReleased,
                                                                      OrderCancelled]


@pytest.mark.parametrize(("version", "charged_after"), [(1, "StockReserved"),
                                                        (2, "FraudCheckPassed")])
def test_payment_charges_after_the_step_before_it_in_each_version(version, charged_after):
    from participants import FRAUD, PAYMENT
    from shared.events import PaymentCharged
    charging = [payload.event_type() for payload, reaction in
                PAYMENT.in_version(version).reactions.items() if PaymentCharged in reaction.emits]
    assert charging == [charged_after]
    assert bool(FRAUD.in_version(version).reactions) == (version == 2)  # screens from v2 on


def test_a_step_without_its_compensation_is_reported():
    broken = _replace("inventory_service", {PaymentRefunded: Reaction(_noop)})
    problems = check(ORDER_SAGA, broken)
    assert any("after ShipmentFailed the compensations run as ['PaymentRefunded']" in p
               for p in problems)


def test_compensating_after_the_pivot_is_reported():
    broken = _replace("payment_service", {OrderShipped: Reaction(_noop, emits=(PaymentRefunded,))})
    assert any("reacts to OrderShipped (after the pivot)" in p for p in check(ORDER_SAGA, broken))


def test_compensating_in_the_wrong_order_is_reported():
    # The order is cancelled straight after a declined payment, before the stock is released.
    broken = _replace("order_service", {PaymentFailed: Reaction(_noop, emits=(OrderCancelled,))})
    assert ("after PaymentFailed the compensations run as [], "
            "expected ['StockReleased', 'OrderCancelled']") in check(ORDER_SAGA, broken)


def test_a_step_before_the_pivot_without_a_compensation_is_reported():
    problems = check(_saga_changing(1, compensation=None), PARTICIPANTS)
    assert "step StockReserved comes before the pivot but has no compensation" in problems


def test_a_compensation_declared_on_the_pivot_itself_is_reported():
    problems = check(_saga_changing(3, compensation=OrderCancellationAccepted), PARTICIPANTS)
    assert problems == ["step OrderShipped is at or after the pivot but declares a compensation"]


def test_a_compensation_its_own_service_does_not_emit_is_reported():
    problems = check(_saga_changing(1, service="payment_service"), PARTICIPANTS)
    assert problems == ["payment_service must emit StockReleased to compensate StockReserved"]


def test_an_event_nobody_emits_is_reported():
    lonely = [spec for spec in PARTICIPANTS if spec.name != "sagactl"]
    assert "OrderCreated" not in " ".join(check(ORDER_SAGA, lonely))
    assert any("StockAdded is consumed by inventory_service but nobody emits it" in p
               for p in check(ORDER_SAGA, lonely))


def test_a_handler_cannot_emit_what_its_service_does_not_declare(service_under_test):
    def emit_undeclared(evt, uow):
        with uow:
            uow.emit(OrderCancelled(customer_id="a", reason="x"), caused_by=evt)

    spec = ServiceSpec("order_service", {OrderCreated: Reaction(emit_undeclared)})
    service = service_under_test(spec, OrderUnitOfWork, create_tables)
    with pytest.raises(UndeclaredEvent, match="^order_service may not emit OrderCancelled "
                                               "in reaction to OrderCreated$"):
        service.deliver(event(order_created()))


def test_the_launcher_makes_credentials_for_every_principal_the_acls_name():
    from localkafka.secrets import PRINCIPALS  # stdlib only: it keeps its own list
    from participants import OPERATOR, SERVICES
    from shared.acls import policy
    assert {acl.principal for acl in policy(SERVICES, OPERATOR)} == set(PRINCIPALS)


def test_the_postgres_launcher_makes_a_role_and_database_for_every_service():
    from localpostgres import SERVICES as DATABASES  # stdlib only: it keeps its own list
    from participants import ORCHESTRATOR, SERVICES
    assert [service.name for service in (*SERVICES, ORCHESTRATOR)] == list(DATABASES)


def test_make_services_starts_every_service_on_its_default_port():
    from devtools.services import PORT_OFFSETS  # stdlib only: it keeps its own list
    from participants import ORCHESTRATOR, SERVICES
    from shared.settings import DEFAULT_HTTP_PORTS
    assert list(PORT_OFFSETS) == [service.name for service in (*SERVICES, ORCHESTRATOR)]
    assert {name: 8000 + offset for name, offset in PORT_OFFSETS.items()} == {
        name: port for name, port in DEFAULT_HTTP_PORTS.items() if name != "saga_monitor"}


def test_docs_acls_md_is_generated_from_the_code():
    from participants import OPERATOR, SERVICES
    from shared.acls import policy
    from shared.acls import render as render_acls

    assert (CATALOG_DOC.parent / "acls.md").read_text() == render_acls(
        policy(SERVICES, OPERATOR)), "docs/acls.md is out of date: run `sagactl docs acls`"


def test_each_service_may_write_only_what_it_declares_it_emits():
    from participants import OPERATOR, SERVICES
    from shared.acls import policy

    acls = policy(SERVICES, OPERATOR)
    for spec in SERVICES:
        written = {a.name for a in acls if a.principal == spec.name and a.operation == "WRITE"}
        declared = {p.event_type() for p in spec.emits} | {p.event_type() + ".DLT"
                                                           for p in spec.consumes}
        assert written == declared, spec.name
    sagactl_writes = {a.name for a in acls if a.principal == "sagactl" and a.operation == "WRITE"}
    assert sagactl_writes == {"OrderCreated", "StockAdded", "FundsDeposited",
                              "sagactl.dlq-decisions"}
    assert not any(a.operation == "WRITE" for a in acls if a.principal == "saga_monitor"
                   and a.pattern == "LITERAL")


def test_the_monitor_may_read_every_saga_topic_and_the_operators_dead_letter_decisions():
    from participants import OPERATOR, SERVICES
    from saga_monitor.topics import READ
    from shared.acls import DECISIONS_TOPIC, policy

    read = {a.name for a in policy(SERVICES, OPERATOR) if a.principal == "saga_monitor"
            and a.operation == "READ" and a.resource == "TOPIC"}
    assert read >= {*READ, DECISIONS_TOPIC}


def test_sagactl_may_describe_its_deployments_groups_and_none_that_merely_begins_the_same():
    from participants import OPERATOR, SERVICES
    from shared.acls import policy

    groups = [a for a in policy(SERVICES, OPERATOR, prefix="p") if a.principal == "sagactl"
              and a.resource == "GROUP"]
    assert {(a.operation, a.pattern) for a in groups} == {("DESCRIBE", "LITERAL")}
    assert {a.name for a in groups} == {f"p{spec.name}" for spec in SERVICES} | {"psaga_monitor"}


def test_every_event_of_a_saga_carries_the_version_of_the_flow_it_started_with():
    created = event(order_created(), saga_version=2)
    reserved = created.follow_up(StockReleased(items=[], reason="x"), "inventory_service")
    assert (created.saga_version, reserved.saga_version) == (2, 2)
    assert event(order_created()).saga_version == 1  # absent on the wire: the first flow


def test_a_reaction_of_another_flow_version_does_nothing_and_claims_nothing(service_under_test):
    calls = []
    spec = ServiceSpec("probe", {OrderCreated: Reaction(lambda e, uow: calls.append(e),
                                                         versions=frozenset({2}))})
    probe = service_under_test(spec, OrderUnitOfWork, create_tables)
    probe.deliver(event(order_created(), saga_version=1))
    assert calls == [] and probe.rows("inbox") == []
    probe.deliver(event(order_created(), saga_version=2))
    assert len(calls) == 1


def test_each_version_of_the_flow_is_checked_on_what_the_services_do_in_it():
    from shared.saga import check_every_version
    only_in_v2 = _replace("inventory_service", {PaymentFailed: Reaction(
        _noop, emits=(StockReleased,), versions=frozenset({2}))})
    problems = check_every_version(only_in_v2)
    assert problems and all(problem.startswith("saga v1: ") for problem in problems)
    assert check_every_version(only_in_v2, sagas={2: ORDER_SAGA}) == []


def test_a_step_before_the_pivot_that_changes_nothing_needs_no_compensation():
    screening = _saga_changing(1, compensation=None, changes_nothing=True)
    problems = check(screening, PARTICIPANTS)
    assert not any("has no compensation" in problem for problem in problems)
    assert any("has no compensation" in problem
               for problem in check(_saga_changing(1, compensation=None), PARTICIPANTS))


def test_every_acl_goes_in_one_request_in_the_shape_each_protocol_version_takes():
    acls = policy(PARTICIPANTS, OPERATOR, "p.")[:3]
    request = _CreateAcls(acls)
    v1 = request.build(CreateAclsRequest_v1).creations
    v0 = request.build(CreateAclsRequest_v0).creations
    assert [entry[3] for entry in v1] == [f"User:{acl.principal}" for acl in acls]
    assert [len(entry) for entry in v1] == [7, 7, 7] and [len(entry) for entry in v0] == [6, 6, 6]
    assert [entry[:2] + entry[3:] for entry in v1] == v0  # version 0 has no pattern type
