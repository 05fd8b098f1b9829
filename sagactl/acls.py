"""`sagactl acls`: the broker's ACLs, derived from the choreography (shared/acls.py).

Printing needs nothing; ``--apply`` sends them to the broker as the admin principal (run it with
the admin's settings, e.g. ``set -a; . .run/kafka/clients/admin.env``). aiokafka's admin client
has no ACL call, so the CreateAcls request (Kafka API 30) is sent with aiokafka's own protocol
classes. Creating an ACL that exists changes nothing: applying twice is safe.
"""

from __future__ import annotations

import asyncio
import json

import typer
from aiokafka.protocol.admin import CreateAclsRequest

from participants import OPERATOR, SERVICES
from sagactl.errors import Unreachable
from sagactl.kafka import admin_session
from shared.acls import Acl, policy
from shared.settings import KafkaSettings, ToolSettings

RESOURCE = {"TOPIC": 2, "GROUP": 3, "CLUSTER": 4}
PATTERN = {"LITERAL": 3, "PREFIXED": 4}
OPERATION = {"ALL": 2, "READ": 3, "WRITE": 4, "CREATE": 5, "DESCRIBE": 8}
ALLOW = 3


def acls_command(ctx: typer.Context,
                 apply: bool = typer.Option(False, "--apply", help="Create them on the broker "
                                            "(needs the admin principal)."),
                 as_json: bool = typer.Option(False, "--json", help="One JSON object per ACL.")
                 ) -> None:
    """The ACLs each principal gets (deny by default): derived from what each service consumes
    and emits, what sagactl may originate, and what the monitor reads."""
    settings: ToolSettings = ctx.obj
    acls = policy(SERVICES, OPERATOR, settings.topic_prefix)
    for acl in acls:
        typer.echo(json.dumps(vars(acl)) if as_json else acl.describe())
    if apply:
        created = asyncio.run(apply_acls(settings, acls))
        typer.echo(f"applied {created} ACLs to {settings.kafka_bootstrap_servers} "
                   f"as {settings.principal}", err=True)


async def apply_acls(settings: KafkaSettings, acls: list[Acl]) -> int:
    async with admin_session(settings, client_id="sagactl-acls") as admin:
        for acl in acls:
            request = CreateAclsRequest(RESOURCE[acl.resource], acl.name, PATTERN[acl.pattern],
                                        f"User:{acl.principal}", "*",
                                        OPERATION[acl.operation], ALLOW)
            response = await admin._send_request(request)  # no public ACL API in aiokafka
            for code, message in response.creation_responses:
                if code:
                    raise Unreachable(f"the broker refused {acl.describe()}: error {code} "
                                      f"{message or ''} (are you the admin principal?)")
    return len(acls)
