"""The `sagactl` command line. Every command has --help; bad input exits 2 and sends nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from sagactl import dlq, orders, publishing, seeding, tailing
from shared.settings import Settings

app = typer.Typer(help="Publish saga events, place and follow orders, seed data, inspect dead letters.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(orders.app, name="order", help="Place, follow and cancel orders (order API).")
app.add_typer(seeding.stock_app, name="stock", help="Add stock to the inventory (StockAdded).")
app.add_typer(seeding.funds_app, name="funds", help="Add money to balances (FundsDeposited).")
app.add_typer(dlq.app, name="dlq", help="Dead letters and parked events: list and replay.")
app.command("publish")(publishing.publish_command)
app.command("seed")(seeding.seed_command)
app.command("tail")(tailing.tail_command)

docs_app = typer.Typer(help="Generated documentation.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")
topics_app = typer.Typer(help="Kafka topics of the saga.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


@app.callback()
def main(
    ctx: typer.Context,
    bootstrap: str = typer.Option(None, "--bootstrap", "-b", envvar="KAFKA_BOOTSTRAP_SERVERS",
                                  help="Kafka bootstrap servers [default: 127.0.0.1:9092]"),
    api: str = typer.Option(None, "--api", envvar="SAGA_ORDER_API_URL",
                            help="Order service URL [default: http://127.0.0.1:8000]"),
    topic_prefix: str = typer.Option(None, "--topic-prefix", envvar="SAGA_TOPIC_PREFIX",
                                     help="Prefix of every topic name [default: none]"),
) -> None:
    """Publish saga events, place and follow orders, seed data, inspect dead letters."""
    overrides = {"kafka_bootstrap_servers": bootstrap, "order_api_url": api,
                 "topic_prefix": topic_prefix}
    ctx.obj = Settings(service_name="sagactl",
                       **{key: value for key, value in overrides.items() if value is not None})


@docs_app.command("events")
def docs_events(
    output: Path = typer.Option(Path("docs/events.md"), help="Where to write the catalog."),
    check: bool = typer.Option(False, "--check", help="Fail if the file is out of date."),
) -> None:
    """Generate the event catalog (docs/events.md) from the services' declarations."""
    from sagactl.participants import PARTICIPANTS
    from shared.eventdocs import render
    from shared.saga import ORDER_SAGA
    from shared.saga import check as check_rules

    problems = check_rules(ORDER_SAGA, PARTICIPANTS)
    if problems:
        raise publishing.fail("the declared choreography breaks the saga:\n" + "\n".join(problems))
    text = render(ORDER_SAGA, PARTICIPANTS)
    if check:
        if not output.exists() or output.read_text() != text:
            raise publishing.fail(f"{output} is out of date: run `sagactl docs events`")
        typer.echo(f"{output} is up to date")
        return
    output.write_text(text)
    typer.echo(f"wrote {output}")


@topics_app.command("create")
def topics_create(ctx: typer.Context,
                  wait: float = typer.Option(120.0, help="Seconds to wait for the broker.")) -> None:
    """Create every event topic and its dead-letter topic (idempotent)."""
    from shared.runtime.topics import catalog_topics, ensure_topics

    settings: Settings = ctx.obj
    created = asyncio.run(ensure_topics(settings, wait=wait))
    typer.echo(f"{len(created)} topics created, {len(catalog_topics()) - len(created)} existed "
               f"({settings.topic_partitions} partitions each)")
