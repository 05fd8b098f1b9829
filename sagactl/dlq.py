"""`sagactl dlq list|replay`: what was set aside, why, and sending it back once fixed.

Dead-letter topics (``<topic>.DLT``) hold both kinds of manual-intervention
cases: messages no handler can ever read (malformed, unknown type, invalid,
unsupported version, oversized) and events whose handler kept failing until it
was parked (``handler-failed``; the service keeps later events of that order
waiting behind it). Replaying publishes the original message to its source
topic again: a parked event is then retried from its first attempt, and the
order's waiting events follow in order. Progress is remembered in the consumer
group ``sagactl-dlq-replay``, so each entry is replayed once.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition

from sagactl.kafka import publish_raw, read_topics
from shared.deadletters import DLT_SUFFIX
from shared.events import CATALOG
from shared.settings import Settings

app = typer.Typer(no_args_is_help=True)
REPLAY_GROUP = "sagactl-dlq-replay"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    headers: dict[str, str]
    value: bytes
    replayed: bool

    @property
    def key_text(self) -> str:
        return (self.key or b"").decode(errors="replace")

    @property
    def source(self) -> tuple[str, str, str]:
        h = self.headers
        return h.get("dlt.source.topic", ""), h.get("dlt.source.partition", ""), h.get(
            "dlt.source.offset", "")


@app.command("list")
def list_command(ctx: typer.Context,
                 order: str = typer.Option(None, "--order", help="Only this order (key)."),
                 pending: bool = typer.Option(False, "--pending", help="Hide replayed entries."),
                 as_json: bool = typer.Option(False, "--json", help="One JSON object per line.")
                 ) -> None:
    """Show dead letters and parked events: where from, which service, and why."""
    letters = [d for d in asyncio.run(dead_letters(ctx.obj)) if _wanted(d, order, pending)]
    for letter in letters:
        if as_json:
            record = {**asdict(letter), "key": letter.key_text,
                      "value": letter.value.decode(errors="replace")}
            typer.echo(json.dumps(record))
        else:
            typer.echo(_describe(letter))
    if not as_json:
        typer.echo(f"{len(letters)} dead letter(s)", err=True)


@app.command("replay")
def replay_command(ctx: typer.Context,
                   order: str = typer.Option(None, "--order", help="Only this order (key)."),
                   dry_run: bool = typer.Option(False, "--dry-run", help="Show, send nothing.")
                   ) -> None:
    """Send pending dead letters back to their source topics, in the order they failed."""
    settings: Settings = ctx.obj
    letters = asyncio.run(dead_letters(settings))
    chosen = _unique_sources([d for d in letters if _wanted(d, order, pending=True)])
    for letter in chosen:
        typer.echo(("would replay " if dry_run else "replaying ") + _describe(letter))
    if dry_run:
        return
    asyncio.run(_replay(settings, chosen, mark_all=order is None))
    typer.echo(f"replayed {len(chosen)} message(s)", err=True)


async def dead_letters(settings: Settings) -> list[DeadLetter]:
    topics = [name + DLT_SUFFIX for name in CATALOG]
    records = [r async for r in read_topics(settings, topics, follow=False, from_beginning=True)]
    committed = await _replay_progress(
        settings, {TopicPartition(r.topic, r.partition) for r in records})
    letters = [DeadLetter(
        topic=r.topic.removeprefix(settings.topic_prefix), partition=r.partition,
        offset=r.offset, timestamp=r.timestamp, key=r.key,
        headers={k: v.decode(errors="replace") for k, v in r.headers}, value=r.value or b"",
        replayed=r.offset < committed.get(TopicPartition(r.topic, r.partition), 0))
        for r in records]
    return sorted(letters, key=lambda d: (d.timestamp, d.topic, d.partition, d.offset))


async def _replay(settings: Settings, letters: list[DeadLetter], mark_all: bool) -> None:
    await publish_raw(settings, [
        (letter.source[0], letter.key, letter.value,
         [("dlt.replayed-from", f"{letter.topic}:{letter.partition}:{letter.offset}".encode())])
        for letter in letters])
    if mark_all:
        ends: dict[tuple[str, int], int] = {}
        for letter in letters:
            key = (settings.topic(letter.topic), letter.partition)
            ends[key] = max(ends.get(key, 0), letter.offset + 1)
        await _commit_progress(settings, ends)


async def _replay_progress(settings: Settings,
                           partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
    if not partitions:
        return {}
    consumer = _group_consumer(settings)
    await consumer.start()
    try:
        return {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()


async def _commit_progress(settings: Settings, ends: dict[tuple[str, int], int]) -> None:
    consumer = _group_consumer(settings)
    await consumer.start()
    try:
        partitions = {TopicPartition(topic, p): offset for (topic, p), offset in ends.items()}
        consumer.assign(list(partitions))
        await consumer.commit(partitions)
    finally:
        await consumer.stop()


def _group_consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                            group_id=settings.topic_prefix + REPLAY_GROUP,
                            enable_auto_commit=False, client_id="sagactl")


def _wanted(letter: DeadLetter, order: str | None, pending: bool) -> bool:
    return (order is None or letter.key_text == order) and not (pending and letter.replayed)


def _unique_sources(letters: list[DeadLetter]) -> list[DeadLetter]:
    """Several services may dead-letter the same message; it goes back once."""
    seen, unique = set(), []
    for letter in letters:
        if letter.source not in seen:
            seen.add(letter.source)
            unique.append(letter)
    return unique


def _describe(letter: DeadLetter) -> str:
    h = letter.headers
    topic, partition, offset = letter.source
    state = "replayed" if letter.replayed else "pending"
    return (f"{h.get('dlt.time', '')[:19]}  {topic}:{partition}:{offset:<6} "
            f"{h.get('dlt.service', '?'):<21} {h.get('dlt.kind', '?'):<19} "
            f"key={letter.key_text or '-':<18} tries={h.get('dlt.attempts', '0'):<3} {state:<8} "
            f"{h.get('dlt.reason', '')}")
