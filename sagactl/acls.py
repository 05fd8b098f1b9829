"""`sagactl acls`: the broker's ACLs, derived from the choreography (shared/acls.py).

Printing needs nothing; ``--apply`` makes the broker grant exactly that, as the admin principal
(run it with the admin's settings, e.g. ``set -a; . .run/kafka/clients/admin.env``): it creates
what is missing and deletes every other grant the same principals hold (what an older
declaration gave, a hand-made ACL, another prefix's grants: one broker serves one deployment);
``--dry-run`` shows that difference and changes nothing. Applying twice is safe. aiokafka's
admin client has no ACL call, so DescribeAcls, CreateAcls and DeleteAcls (Kafka APIs 29-31)
are sent with aiokafka's own protocol classes.
"""

from __future__ import annotations

import asyncio
import json

import typer
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest

from participants import OPERATOR, SERVICES
from sagactl.errors import Unreachable
from sagactl.kafka import admin_session
from shared.acls import Acl, policy
from shared.settings import KafkaSettings, ToolSettings

# Kafka's codes (org.apache.kafka.common.acl / resource): every one a broker may answer with.
RESOURCE = {"ANY": 1, "TOPIC": 2, "GROUP": 3, "CLUSTER": 4, "TRANSACTIONAL_ID": 5,
            "DELEGATION_TOKEN": 6, "USER": 7}
PATTERN = {"ANY": 1, "LITERAL": 3, "PREFIXED": 4}
OPERATION = {"ANY": 1, "ALL": 2, "READ": 3, "WRITE": 4, "CREATE": 5, "DELETE": 6, "ALTER": 7,
             "DESCRIBE": 8, "CLUSTER_ACTION": 9, "DESCRIBE_CONFIGS": 10, "ALTER_CONFIGS": 11,
             "IDEMPOTENT_WRITE": 12, "CREATE_TOKENS": 13, "DESCRIBE_TOKENS": 14,
             "TWO_PHASE_COMMIT": 15}
ANY_PERMISSION, ALLOW = 1, 3


def acls_command(ctx: typer.Context,
                 apply: bool = typer.Option(False, "--apply", help="Make the broker grant "
                                            "exactly these: create the missing, delete every "
                                            "other grant of these principals (as admin)."),
                 dry_run: bool = typer.Option(False, "--dry-run", help="Show what --apply "
                                              "would create (+) and delete (-); change nothing."),
                 as_json: bool = typer.Option(False, "--json", help="One JSON object per ACL.")
                 ) -> None:
    """The ACLs each principal gets (deny by default): derived from what each service consumes
    and emits, what sagactl may originate, and what the monitor reads."""
    settings: ToolSettings = ctx.obj
    acls = policy(SERVICES, OPERATOR, settings.topic_prefix)
    if dry_run:
        missing, extra = asyncio.run(difference(settings, acls))
        for sign, acl in [*(("+", acl) for acl in missing), *(("-", acl) for acl in extra)]:
            typer.echo(f"{sign} {acl.describe()}")
        typer.echo(f"--apply would create {len(missing)} and delete {len(extra)} ACLs on "
                   f"{settings.kafka_bootstrap_servers}", err=True)
        return
    for acl in acls:
        typer.echo(json.dumps(vars(acl)) if as_json else acl.describe())
    if apply:
        created, deleted = asyncio.run(apply_acls(settings, acls))
        typer.echo(f"applied {len(acls)} ACLs to {settings.kafka_bootstrap_servers} as "
                   f"{settings.principal}: {created} created, {deleted} deleted", err=True)


async def difference(settings: KafkaSettings, acls: list[Acl]) -> tuple[list[Acl], list[Acl]]:
    """(what the broker lacks, what it grants these principals beyond ``acls``)."""
    async with admin_session(settings, client_id="sagactl-acls") as admin:
        granted = await _granted(admin, sorted({acl.principal for acl in acls}))
    return sorted(set(acls) - granted), sorted(granted - set(acls))


async def apply_acls(settings: KafkaSettings, acls: list[Acl]) -> tuple[int, int]:
    """Grant exactly ``acls`` to their principals; how many were created and deleted."""
    async with admin_session(settings, client_id="sagactl-acls") as admin:
        granted = await _granted(admin, sorted({acl.principal for acl in acls}))
        missing, extra = sorted(set(acls) - granted), sorted(granted - set(acls))
        if missing:
            await _send(admin, _CreateAcls(missing), missing, "creation_responses")
        if extra:
            await _send(admin, _DeleteAcls(extra), extra, "filter_responses")
    return len(missing), len(extra)


async def _granted(admin, principals: list[str]) -> set[Acl]:
    """Every ALLOW the broker holds for these principals (DENYs only take away: kept)."""
    names = {kind: {code: name for name, code in table.items()}
             for kind, table in (("resource", RESOURCE), ("pattern", PATTERN),
                                 ("operation", OPERATION))}
    granted = set()
    for principal in principals:
        response = await admin._send_request(DescribeAclsRequest(  # no public ACL API
            RESOURCE["ANY"], None, PATTERN["ANY"], f"User:{principal}", None, OPERATION["ANY"],
            ANY_PERMISSION))
        _check(response.error_code, response.error_message, f"describing {principal}'s ACLs")
        granted |= {Acl(principal, names["operation"][op], names["resource"][kind], name,
                        names["pattern"][pattern], host)
                    for kind, name, pattern, entries in response.resources
                    for _, host, op, permission in entries if permission == ALLOW}
    return granted


def _filter(acl: Acl) -> tuple:
    return (RESOURCE[acl.resource], acl.name, PATTERN[acl.pattern], f"User:{acl.principal}",
            acl.host, OPERATION[acl.operation], ALLOW)


class _Batch:
    """Every ACL in one request: aiokafka's ACL requests carry one entry, the protocol a list.
    One round trip (and one write to the broker's metadata log) instead of one per ACL: a
    deployment's ≈ 150 took 7 s to grant one by one."""

    def __init__(self, acls: list[Acl]) -> None:  # in place of the one-entry constructor
        self.entries = [_filter(acl) for acl in acls]

    def build(self, request_struct_class):
        if request_struct_class.API_VERSION < 1:  # no pattern type before version 1
            return request_struct_class([(kind, name, *rest)
                                         for kind, name, _, *rest in self.entries])
        return request_struct_class(list(self.entries))


class _CreateAcls(_Batch, CreateAclsRequest):
    pass


class _DeleteAcls(_Batch, DeleteAclsRequest):
    pass


async def _send(admin, request, acls: list[Acl], answers: str) -> None:
    """One answer per ACL, in the order sent: the first refusal names its ACL."""
    response = await admin._send_request(request)
    for acl, (code, message, *_) in zip(acls, getattr(response, answers), strict=True):
        _check(code, message, acl.describe())


def _check(code: int, message: str | None, what: str) -> None:
    if code:
        raise Unreachable(f"the broker refused {what}: error {code} {message or ''} "
                          "(are you the admin principal?)")
