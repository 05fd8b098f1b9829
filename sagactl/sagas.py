"""`sagactl saga show|stuck`: the saga monitor's view, in the terminal (its JSON API)."""

from __future__ import annotations

import json

import httpx
import typer

from sagactl.errors import InvalidInput, Unreachable
from shared.settings import ToolSettings

app = typer.Typer(no_args_is_help=True)
MARKS = {"compensation": "↩", "failure": "✗", "notification": "✉", "cancellation": "⊘"}


@app.command("show")
def show_command(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER"),
                 as_json: bool = typer.Option(False, "--json", help="The monitor's JSON.")) -> None:
    """One saga as a timeline: each event, who published it, how long after its cause;
    compensations and the pivot marked; what it waits for; its dead letters."""
    saga = monitor_get(ctx.obj, f"/api/sagas/{order_id}")
    if as_json:
        typer.echo(json.dumps(saga, indent=2))
        return
    typer.echo(f"saga {saga['order_id']}  {saga['status']}"
               f"{' (finished)' if saga['finished'] else ''}  customer {saga['customer_id']}  "
               f"{saga['events']} events")
    for entry in saga["timeline"]:
        mark = "◆" if entry["pivot"] else MARKS.get(entry["kind"], "·")
        after = (f"+{entry['after_cause_seconds'] * 1000:.0f} ms"
                 if entry["after_cause_seconds"] is not None else "")
        typer.echo(f"  {entry['occurred_at'][11:23]}  {mark} {entry['event_type']:<27} "
                   f"{entry['producer']:<21} {after}".rstrip())
    for wait in saga["waiting_for"]:
        typer.echo(f"  waiting: {wait['text']}" + (" — STUCK" if wait["stuck"] else ""))
        if wait.get("cause"):
            typer.echo(f"  cause:   {wait['cause']}")
    for letter in saga["dead_letters"]:
        typer.echo(f"  dead letter: {letter['source']['topic']} by {letter['service']} "
                   f"({letter['kind']}, {letter.get('state', 'pending')}): {letter['reason']}")
    if saga.get("replay_command"):
        typer.echo(f"  to replay: {saga['replay_command']}")
    if saga.get("dead_letters_hint"):
        typer.echo(f"  other letters: {saga['dead_letters_hint']}")


@app.command("stuck")
def stuck_command(ctx: typer.Context,
                  limit: int = typer.Option(50, min=1, max=500, help="How many, most overdue first."),
                  as_json: bool = typer.Option(False, "--json", help="The monitor's JSON.")) -> None:
    """Sagas with a step past its deadline, and why: whom each waits for, and the dead letter
    (with the command to replay it) when that is the cause."""
    found = monitor_get(ctx.obj, "/api/stuck", params={"limit": limit})
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    for saga in found["sagas"]:
        typer.echo(f"{saga['order_id']:<20} {saga['status']:<13} "
                   f"{'; '.join(w['text'] for w in saga['waiting_for'] if w['stuck'])}")
        for wait in saga["waiting_for"]:
            if wait.get("cause"):
                typer.echo(f"{'':<20} cause: {wait['cause']}")
    typer.echo(f"{found['total']} stuck saga(s)", err=True)


def monitor_get(settings: ToolSettings, path: str, **options) -> dict:
    url = settings.monitor_url + path
    try:
        response = httpx.get(url, timeout=settings.connect_timeout, **options)
    except httpx.HTTPError as error:
        raise Unreachable(f"cannot reach the saga monitor at {settings.monitor_url} "
                          f"({error or type(error).__name__}); is saga-monitor running? "
                          "Check --monitor / SAGA_MONITOR_URL.") from None
    if response.status_code == 404:
        raise InvalidInput(f"the monitor has seen nothing of {path.rsplit('/', 1)[-1]}")
    if response.status_code != 200:
        raise Unreachable(f"the saga monitor answered {response.status_code} for {path}")
    return response.json()
