"""`sagactl dlq list|replay|ack`: what was set aside, why, and what to do with it.

Dead-letter topics (``<topic>.DLT``) hold both kinds of manual-intervention cases: messages
no handler can ever read (malformed, unknown type, invalid, unsupported version, oversized,
unreadable) and events whose handler kept failing until they were parked (``handler-failed``;
the service keeps later events of that order waiting behind them). Replaying publishes the
original record again, read from the topic the letter was dead-lettered from (never the
letter's own bytes: ``sagactl.replay``): a parked event is then retried from its first
attempt, and the order's waiting events follow in order. By default only ``handler-failed``
letters are replayed (the others would only fail again); dismiss a letter you have dealt
with otherwise with ``sagactl dlq ack``.
"""

from __future__ import annotations

import asyncio
import json

import typer

from sagactl.errors import fail
from sagactl.letters import DeadLetter, dead_letters, record_decisions
from sagactl.replay import replay
from shared.deadletters import NEVER_REPLAYABLE, REPLAYABLE_BY_DEFAULT
from shared.settings import ToolSettings

app = typer.Typer(no_args_is_help=True)
ORDER = typer.Option(None, "--order", "-o", help="Only this order (the letters' key).")
KINDS = typer.Option(None, "--kind", "-k", help="Only letters of this kind (repeatable); "
                     "replay defaults to handler-failed.")


@app.command("list")
def list_command(ctx: typer.Context, order: str = ORDER, kinds: list[str] = KINDS,
                 pending: bool = typer.Option(False, "--pending", help="Only pending letters."),
                 as_json: bool = typer.Option(False, "--json", help="One JSON object per line.")
                 ) -> None:
    """Show dead letters and parked events: where from, which service, why, and their status."""
    letters = [d for d in asyncio.run(dead_letters(ctx.obj))
               if _wanted(d, order, kinds, pending)]
    for letter in letters:
        typer.echo(json.dumps(letter.as_json()) if as_json else _describe(letter))
    if not as_json:
        typer.echo(f"{len(letters)} dead letter(s)", err=True)


@app.command("replay")
def replay_command(ctx: typer.Context, order: str = ORDER, kinds: list[str] = KINDS,
                   every: bool = typer.Option(False, "--all", help="Pending letters of every "
                                              "kind that holds something to send back."),
                   dry_run: bool = typer.Option(False, "--dry-run", help="Show, send nothing.")
                   ) -> None:
    """Send pending dead letters' original records back to the topics they were
    dead-lettered from, in the order they failed."""
    settings: ToolSettings = ctx.obj
    if set(kinds or ()) & set(NEVER_REPLAYABLE):
        raise fail(f"{', '.join(NEVER_REPLAYABLE)} letters hold nothing to send back; "
                   "dismiss them with `sagactl dlq ack`")
    if every and kinds:
        raise fail("--all means every kind: leave out --kind, or --all")
    kinds = kinds or ([] if every else list(REPLAYABLE_BY_DEFAULT))
    chosen = [d for d in asyncio.run(dead_letters(settings)) if _wanted(d, order, kinds, True)
              and d.kind not in NEVER_REPLAYABLE]
    for letter in chosen:
        typer.echo(("would replay " if dry_run else "replaying ") + _describe(letter))
    if dry_run or not chosen:
        typer.echo(f"{len(chosen)} letter(s) to replay", err=True)
        return
    replayed, skipped = asyncio.run(replay(settings, chosen))
    for letter, why in skipped:
        typer.secho(f"skipped {letter.coordinates} ({letter.key_text}): {why}", fg="yellow",
                    err=True)
    typer.echo(f"replayed {len(replayed)} letter(s), skipped {len(skipped)}", err=True)


@app.command("ack")
def ack_command(ctx: typer.Context, order: str = ORDER, kinds: list[str] = KINDS,
                letters: list[str] = typer.Option(None, "--letter", "-l",
                                                  metavar="TOPIC:PARTITION:OFFSET",
                                                  help="This letter (repeatable)."),
                every: bool = typer.Option(False, "--all", help="Every pending letter."),
                reason: str = typer.Option(..., "--reason", "-r", help="Why it needs nothing "
                                           "more (kept with the decision).")) -> None:
    """Dismiss pending letters you have dealt with another way: `dlq list` and the saga
    monitor show them as acked, no longer pending."""
    if not (order or kinds or letters or every):
        raise fail("say which letters: --order, --kind, --letter or --all")
    settings: ToolSettings = ctx.obj
    chosen = [d for d in asyncio.run(dead_letters(settings)) if _wanted(d, order, kinds, True)
              and (not letters or d.coordinates in letters)]
    unknown = set(letters or ()) - {d.coordinates for d in chosen}
    if unknown:
        raise fail(f"no pending letter at {', '.join(sorted(unknown))}")
    asyncio.run(record_decisions(settings, chosen, "acked", reason))
    typer.echo(f"acknowledged {len(chosen)} letter(s)", err=True)


def _wanted(letter: DeadLetter, order: str | None, kinds: list[str] | None,
            pending: bool) -> bool:
    return ((order is None or letter.key_text == order)
            and (not kinds or letter.kind in kinds)
            and not (pending and letter.status != "pending"))


def _describe(letter: DeadLetter) -> str:
    h = letter.headers
    topic, partition, offset = letter.source
    return (f"{h.get('dlt.time', '')[:19]}  {topic}:{partition}:{offset:<6} "
            f"{h.get('dlt.service', '?'):<21} {letter.kind:<19} "
            f"key={letter.key_text or '-':<18} tries={h.get('dlt.attempts', '0'):<3} "
            f"{letter.status:<8} {h.get('dlt.reason', '')}")
