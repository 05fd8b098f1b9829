"""`sagactl docs`: write the generated documents, or check that they match the code."""

from __future__ import annotations

from pathlib import Path

import typer

from sagactl.errors import fail

app = typer.Typer(help="Generated documentation.", no_args_is_help=True)


@app.command("acls")
def docs_acls(
    output: Path = typer.Option(Path("docs/acls.md"), help="Where to write the policy."),
    check: bool = typer.Option(False, "--check", help="Fail if the file is out of date."),
) -> None:
    """Generate the broker's ACL policy (docs/acls.md) from the services' declarations."""
    from participants import OPERATOR, SERVICES
    from shared.acls import policy, render

    write_or_check({output: render(policy(SERVICES, OPERATOR))}, check, "sagactl docs acls")


@app.command("events")
def docs_events(
    docs: Path = typer.Option(Path("docs"), "--dir", help="The docs folder."),
    check: bool = typer.Option(False, "--check", help="Fail if a file is out of date."),
    compat: bool = typer.Option(False, "--compat", help="Fail on a change to a payload that "
                                "breaks the committed schema of its version (with --check)."),
) -> None:
    """Generate the event contract from the declarations and the payload models:
    docs/events.md, docs/schemas/<EventType>/v<N>.json (the current versions; older ones are
    never touched) and docs/asyncapi.yaml. Refuses to write a breaking change over a committed
    version."""
    from participants import OPERATOR, ORCHESTRATED_SERVICES, PARTICIPANTS
    from sagactl.docs import schemas
    from shared import orchestration
    from shared.saga import check_every_version

    if problems := check_every_version(PARTICIPANTS) + orchestration.check_every_version(
            [*ORCHESTRATED_SERVICES, OPERATOR]):
        raise fail("the declared choreography breaks the saga:\n" + "\n".join(problems))
    problems = schemas.lost_versions(docs) + (schemas.breaking(docs) if compat or not check
                                              else [])
    if problems:
        raise fail("the event contract breaks what was published:\n" + "\n".join(problems))
    write_or_check(event_contract(docs), check, "sagactl docs events")


def event_contract(docs: Path) -> dict[Path, str]:
    """Every file ``sagactl docs events`` writes, and what it holds."""
    from participants import OPERATOR, ORCHESTRATED_SERVICES, PARTICIPANTS, SERVICES
    from saga_monitor.topics import APP_ID, READ
    from sagactl.docs import asyncapi, catalog, schemas
    from shared.saga import SAGAS

    monitor = asyncapi.Reader(APP_ID, "The saga monitor: reads every saga topic and its dead "
                              "letters, never writes one (a faust table by order id).", READ)
    return {docs / "events.md": catalog.render(SAGAS, PARTICIPANTS,
                                                  (*ORCHESTRATED_SERVICES, OPERATOR)),
            docs / "asyncapi.yaml": asyncapi.render(SERVICES, OPERATOR, monitor),
            **schemas.current_files(docs)}


def write_or_check(files: dict[Path, str], check: bool, command: str) -> None:
    stale = [path for path, text in files.items()
             if not path.exists() or path.read_text() != text]
    if check and stale:
        raise fail(f"out of date: {', '.join(map(str, stale))}: run `{command}`")
    for path in [] if check else stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        typer.echo(f"wrote {path}")
    if check or not stale:
        typer.echo(f"{', '.join(map(str, files)) if len(files) < 4 else f'{len(files)} files'} "
                   "up to date")
