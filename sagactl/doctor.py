"""`sagactl doctor`: one screen that says what is wrong with the mesh, and what to do."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass

import httpx
import typer

from sagactl.errors import CliError, NotFinal
from sagactl.letters import dead_letters
from sagactl.topics import topic_states
from shared.settings import ToolSettings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""


def doctor_command(ctx: typer.Context,
                   as_json: bool = typer.Option(False, "--json", help="One JSON object per check.")
                   ) -> None:
    """Check the broker, the topics, each service's health, outbox backlogs, parked events and
    dead letters. Exit 0 only when all is well, 4 when something needs attention."""
    checks = asyncio.run(run_checks(ctx.obj))
    for check in checks:
        if as_json:
            typer.echo(json.dumps(asdict(check)))
            continue
        mark = typer.style("ok  ", fg="green") if check.ok else typer.style("FAIL", fg="red")
        typer.echo(f"{mark} {check.name:<22} {check.detail}")
        if not check.ok and check.hint:
            typer.echo(f"     {'':<22} → {check.hint}")
    failed = [check for check in checks if not check.ok]
    if failed:
        raise NotFinal(f"{len(failed)} of {len(checks)} checks failed")


async def run_checks(settings: ToolSettings) -> list[Check]:
    checks = [*await _kafka_checks(settings)]
    healths = await _healths(settings)
    checks += [_service_check(name, url, health)
               for (name, url), health in zip(settings.service_urls.items(), healths, strict=True)]
    reachable = [h for h in healths if isinstance(h, dict)]
    checks.append(_outbox_check(reachable))
    checks.append(_parked_check(reachable))
    return checks


async def _kafka_checks(settings: ToolSettings) -> list[Check]:
    try:
        states = await topic_states(settings)
    except CliError as error:
        return [Check("broker", False, error.message, "make kafka (or check --bootstrap)")]
    checks = [Check("broker", True, f"reachable at {settings.kafka_bootstrap_servers}")]
    missing = [state.name for state in states if not state.partitions]
    checks.append(Check("topics", not missing,
                        f"{len(states) - len(missing)} of {len(states)} present"
                        + (f"; missing: {', '.join(missing[:4])}" if missing else ""),
                        "sagactl topics create (the services also create them at start)"))
    pending = [d for d in await dead_letters(settings) if d.status == "pending"]
    checks.append(Check("dead letters", not pending, f"{len(pending)} pending",
                        "sagactl dlq list --pending; then dlq replay or dlq ack"))
    return checks


async def _healths(settings: ToolSettings) -> list[dict | str]:
    async with httpx.AsyncClient(timeout=settings.connect_timeout) as client:
        return await asyncio.gather(*(_health(client, url)
                                      for url in settings.service_urls.values()))


async def _health(client: httpx.AsyncClient, url: str) -> dict | str:
    try:
        response = await client.get(f"{url}/health")
        return response.json()
    except (httpx.HTTPError, ValueError) as error:
        return f"not reachable at {url} ({type(error).__name__})"


def _service_check(name: str, url: str, health: dict | str) -> Check:
    if isinstance(health, str):
        return Check(name, False, health, "start it (make services) or set SAGA_SERVICE_URLS")
    if health.get("ready"):
        return Check(name, True, f"ready, {health.get('assigned_partitions', 0)} partitions")
    consumer = health.get("consumer", {})
    why = consumer.get("last_error") or "not consuming yet"
    return Check(name, False, f"not ready: {why}", f"its log; curl {url}/health")


def _outbox_check(healths: list[dict]) -> Check:
    unsent = sum(h.get("outbox_unsent", 0) for h in healths)
    failed = sum(h.get("outbox_failed", 0) for h in healths)
    stuck = [h["service"] for h in healths if h.get("relay_failing_since")]
    ok = not failed and not stuck
    detail = f"{unsent} unsent, {failed} refused by the broker"
    if stuck:
        detail += f"; publishing failing in {', '.join(stuck)}"
    return Check("outbox", ok, detail, "the services' logs: is the broker reachable from them?")


def _parked_check(healths: list[dict]) -> Check:
    parked = {h["service"]: h.get("retry_queue", {}).get("PARKED", 0) for h in healths}
    total = sum(parked.values())
    where = ", ".join(f"{name} {count}" for name, count in parked.items() if count)
    return Check("parked events", not total, f"{total} parked" + (f" ({where})" if where else ""),
                 "sagactl dlq list --kind handler-failed; fix the cause; sagactl dlq replay")
