"""`sagactl topics list|create`: the saga's topics, how full they are, who lags behind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition

from sagactl.errors import InvalidInput, Unreachable
from sagactl.kafka import admin_session, partitions_of, reaching, start_client
from shared.acls import DECISIONS_TOPIC
from shared.runtime.topics import BrokerUnreachable, TopicsRefused, catalog_topics, ensure_topics
from shared.settings import KafkaSettings, ToolSettings

app = typer.Typer(no_args_is_help=True)


@dataclass
class TopicState:
    name: str
    partitions: int = 0
    messages: int = 0                         # end offsets summed (what was ever written)
    lag: dict[str, int] = field(default_factory=dict)   # consumer group → records behind


@app.command("list")
def list_command(ctx: typer.Context,
                 as_json: bool = typer.Option(False, "--json", help="One JSON object per topic.")
                 ) -> None:
    """Every saga topic: partitions, end offsets, and how far each consumer group lags."""
    settings: ToolSettings = ctx.obj
    states = asyncio.run(topic_states(settings))
    for state in states:
        if as_json:
            typer.echo(json.dumps(vars(state)))
            continue
        lag = ", ".join(f"{group} {behind}" for group, behind in sorted(state.lag.items()))
        shown = "missing" if not state.partitions else f"{state.partitions} partitions"
        typer.echo(f"{state.name:<34} {shown:<14} {state.messages:>9} msgs  "
                   f"{('lag: ' + lag) if lag else ''}".rstrip())
    missing = [s.name for s in states if not s.partitions]
    if missing and not as_json:
        typer.echo(f"{len(missing)} topic(s) missing: `sagactl topics create` makes them",
                   err=True)


@app.command("create")
def create_command(ctx: typer.Context,
                   wait: float = typer.Option(None, help="Seconds to wait for the broker and, "
                                              "on a cluster still starting, for as many brokers "
                                              "as each topic has replicas [default: "
                                              "--connect-timeout, and fewer brokers than "
                                              "replicas is refused at once]")) -> None:
    """Create every event topic and its dead-letter topic (idempotent)."""
    settings: ToolSettings = ctx.obj
    try:
        created = asyncio.run(create_all(settings, wait or settings.connect_timeout,
                                         wait_for_brokers=wait is not None))
    except BrokerUnreachable as error:
        raise Unreachable(f"{error}; is the broker running (make kafka)?") from None
    except TopicsRefused as error:
        raise InvalidInput(str(error)) from None
    typer.echo(f"{len(created)} topics created, {len(catalog_topics()) + 1 - len(created)} "
               f"existed ({settings.topic_partitions} partitions each)")


async def create_all(settings: KafkaSettings, wait: float, *,
                     wait_for_brokers: bool = False) -> list[str]:
    """Every topic of the deployment: the events, their dead letters, and sagactl's record of
    decisions about dead letters (compacted, kept forever)."""
    created = await ensure_topics(settings, catalog_topics(), wait=wait,
                                  wait_for_brokers=wait_for_brokers)
    return created + await ensure_decisions_topic(settings, wait)


async def ensure_decisions_topic(settings: KafkaSettings, wait: float) -> list[str]:
    return await ensure_topics(settings, [DECISIONS_TOPIC], wait=wait, partitions=1,
                               config={"cleanup.policy": "compact", "retention.ms": "-1"})


async def topic_states(settings: ToolSettings) -> list[TopicState]:
    names = [settings.topic(name) for name in catalog_topics(settings.mode)]
    partitions = await partitions_of(settings, names)
    states = {name: TopicState(name.removeprefix(settings.topic_prefix)) for name in names}
    ends = await _end_offsets(settings, partitions)
    for tp, end in ends.items():
        state = states[tp.topic]
        state.partitions += 1
        state.messages += end
    for group, committed in (await _group_offsets(settings)).items():
        for tp, offset in committed.items():
            if tp in ends:
                lag = states[tp.topic].lag
                lag[group] = lag.get(group, 0) + max(0, ends[tp] - offset)
    return list(states.values())


async def partitions_behind(settings: ToolSettings, readers: Mapping[str, Sequence[str]]
                            ) -> list[tuple[str, TopicPartition, int | None, int]]:
    """``readers``: the event types each group (named without the prefix) reads. Returns
    (group, partition, committed, end) for every partition of those that the group has not
    committed to its end; committed is None where the group has committed nothing yet."""
    names = sorted({settings.topic(name) for names in readers.values() for name in names})
    ends = await _end_offsets(settings, await partitions_of(settings, names))
    committed = await _group_offsets(settings)
    behind = []
    for group, types in sorted(readers.items()):
        done = committed.get(group, {})
        behind += [(group, tp, done.get(tp), end) for tp, end in sorted(ends.items())
                   if tp.topic.removeprefix(settings.topic_prefix) in types
                   and done.get(tp, 0) < end]
    return behind


async def _end_offsets(settings: ToolSettings, partitions: list) -> dict:
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(**settings.client_options(), client_id="sagactl")
    await start_client(settings, consumer)
    try:
        async with reaching(settings), asyncio.timeout(settings.send_timeout):
            return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def _group_offsets(settings: ToolSettings) -> dict[str, dict]:
    """Committed offsets of this deployment's consumer groups (those with its prefix)."""
    async with admin_session(settings) as admin:
        groups = [group for group, *_ in await admin.list_consumer_groups()
                  if group.startswith(settings.topic_prefix)]
        return {group.removeprefix(settings.topic_prefix): {
            tp: meta.offset for tp, meta in
            (await admin.list_consumer_group_offsets(group)).items() if meta.offset >= 0}
            for group in groups}
