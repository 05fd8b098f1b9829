"""The `sagactl` command line. Every command has --help; bad input exits 2 and sends nothing."""

from __future__ import annotations

import logging
import sys
from importlib.metadata import PackageNotFoundError, version

import typer

from sagactl import acls, dlq, doctor, orders, publishing, sagas, seeding, tailing, topics
from sagactl.docs import command as docs_command
from sagactl.errors import EXIT_CODES_HELP, CliError
from shared.logs import TextFormatter
from shared.settings import DEFAULT_HTTP_PORTS, ToolSettings, load

app = typer.Typer(help="Publish saga events, place and follow orders, seed data, inspect dead "
                  f"letters and the mesh's health.\n\n{EXIT_CODES_HELP}",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(orders.app, name="order", help="Place, follow and cancel orders (order API).")
app.add_typer(seeding.stock_app, name="stock", help="Add stock to the inventory (StockAdded).")
app.add_typer(seeding.funds_app, name="funds", help="Add money to balances (FundsDeposited).")
app.add_typer(dlq.app, name="dlq", help="Dead letters and parked events: list, replay, ack.")
app.add_typer(topics.app, name="topics", help="Kafka topics of the saga: list and create.")
app.add_typer(sagas.app, name="saga", help="The saga monitor's view: one saga, stuck sagas.")
app.command("publish")(publishing.publish_command)
app.command("seed")(seeding.seed_command)
app.command("tail")(tailing.tail_command)
app.command("doctor")(doctor.doctor_command)
app.command("acls")(acls.acls_command)

app.add_typer(docs_command.app, name="docs", help="Generated documents: write or --check them.")


def _version(shown: bool) -> None:
    if shown:
        try:
            typer.echo(f"sagactl {version('saga-choreography')}")
        except PackageNotFoundError:
            typer.echo("sagactl (not installed)")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    bootstrap: str = typer.Option(None, "--bootstrap", "-b", envvar="KAFKA_BOOTSTRAP_SERVERS",
                                  show_default="127.0.0.1:9092", help="Kafka bootstrap servers."),
    api: str = typer.Option(None, "--api", envvar="SAGA_ORDER_API_URL",
                            show_default=f"http://127.0.0.1:{DEFAULT_HTTP_PORTS['order_service']}",
                            help="Order service URL."),
    monitor: str = typer.Option(None, "--monitor", envvar="SAGA_MONITOR_URL",
                                show_default=f"http://127.0.0.1:{DEFAULT_HTTP_PORTS['saga_monitor']}",
                                help="Saga monitor URL."),
    topic_prefix: str = typer.Option(None, "--topic-prefix", envvar="SAGA_TOPIC_PREFIX",
                                     show_default="none", help="Prefix of every topic name."),
    connect_timeout: float = typer.Option(None, "--connect-timeout",
                                          envvar="SAGA_CONNECT_TIMEOUT", show_default="10",
                                          help="Seconds to reach the broker before giving up."),
    _: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                           help="Print the version and exit."),
) -> None:
    """Publish saga events, place and follow orders, seed data, inspect dead letters."""
    overrides = {"kafka_bootstrap_servers": bootstrap, "order_api_url": api,
                 "monitor_url": monitor, "topic_prefix": topic_prefix,
                 "connect_timeout": connect_timeout}
    ctx.obj = load(ToolSettings, service_name="sagactl",
                   **{key: value for key, value in overrides.items() if value is not None})
    _log_waits_to_stderr()


def _log_waits_to_stderr() -> None:
    """Waits inside shared code ("waiting for Kafka") show up on stderr; aiokafka's own
    connection errors do not: sagactl reports those itself, once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter("sagactl"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def main() -> None:
    """The console script: expected failures are one red line and an exit status."""
    try:
        app()
    except CliError as error:
        typer.secho(f"error: {error.message}", fg=typer.colors.RED, err=True)
        raise SystemExit(error.code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
