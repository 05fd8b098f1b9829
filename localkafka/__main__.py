"""``python -m localkafka start|stop|status|fetch`` — the engine behind ``make kafka``.

``start`` runs the broker in the background and prints exactly one line on stdout,
``export KAFKA_BOOTSTRAP_SERVERS=<host:port>``, so that ``eval $(make -s kafka)`` sets it for
the shell *and* for the services started from it; everything else goes to stderr. Starts and
stops of one state dir take turns (a file lock), and a pid counts as this state dir's broker
only if that process runs with this state dir's config file.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from localkafka.broker import LocalKafka, is_broker, locked, stop_pid
from localkafka.errors import LocalKafkaError
from localkafka.jars import KAFKA_VERSION, ensure_jars


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except LocalKafkaError as error:
        print(f"localkafka: {error}", file=sys.stderr)
        return 1


def start(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    with locked(state_dir):
        running = _running_pid(state_dir)
        if running is not None:
            print(f"Kafka already running (pid {running}).", file=sys.stderr)
            _print_bootstrap((state_dir / "bootstrap").read_text(), state_dir)
            return 0
        if args.fresh:
            shutil.rmtree(state_dir / "data", ignore_errors=True)
        broker = LocalKafka(state_dir, port=args.port, heap=args.heap, detach=True,
                            startup_timeout=args.timeout, secure=args.secure)
        bootstrap = broker.start()
    print(f"Kafka {KAFKA_VERSION} started (pid {broker.process.pid}, log {broker.log_path}).",
          file=sys.stderr)
    _print_bootstrap(bootstrap, state_dir)
    return 0


def _print_bootstrap(bootstrap: str, state_dir: Path) -> None:
    """The one line on stdout: `eval $(make -s kafka)` sets and exports it for child processes.
    A secure broker also exports the sagactl principal's settings, and says where every
    principal's are (a trailing comment, harmless to eval)."""
    sagactl = state_dir / "clients" / "sagactl.env"
    if not sagactl.exists():
        print(f"export KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
        return
    variables = [line for line in sagactl.read_text().splitlines()
                 if line and not line.startswith("KAFKA_BOOTSTRAP_SERVERS=")]
    print(f"export KAFKA_BOOTSTRAP_SERVERS={bootstrap} {' '.join(variables)}  "
          f"# secure: CA {state_dir.resolve() / 'secrets' / 'ca.pem'}, every principal's "
          f"client settings in {state_dir.resolve() / 'clients'}/<principal>.env|.properties")


def stop(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    with locked(state_dir):
        pid = _running_pid(state_dir)
        if pid is None:
            print("No local Kafka broker is running.", file=sys.stderr)
        else:
            stop_pid(pid, state_dir / "server.properties")
            print(f"Kafka (pid {pid}) stopped.", file=sys.stderr)
        for name in ("broker.pid", "bootstrap"):
            (state_dir / name).unlink(missing_ok=True)
    return 0


def status(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    pid = _running_pid(state_dir)
    if pid is None:
        print("stopped")
        return 1
    print(f"running pid={pid} KAFKA_BOOTSTRAP_SERVERS={(state_dir / 'bootstrap').read_text()}")
    return 0


def fetch(args: argparse.Namespace) -> int:
    print(ensure_jars())
    return 0


def _running_pid(state_dir: Path) -> int | None:
    pid_file, bootstrap = state_dir / "broker.pid", state_dir / "bootstrap"
    if not pid_file.exists() or not bootstrap.exists():
        return None
    pid = int(pid_file.read_text())
    return pid if is_broker(pid, state_dir / "server.properties") else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localkafka", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="command")
    for name, handler, help_text in (
        ("start", start, "start a broker in the background"),
        ("stop", stop, "stop the background broker"),
        ("status", status, "say whether the background broker runs"),
        ("fetch", fetch, "resolve the Kafka jars into the cache and print where"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.set_defaults(command=handler)
        command.add_argument("--state-dir", default=".run/kafka",
                             help="config, data, log and pid file (default: .run/kafka)")
    start_parser = commands.choices["start"]
    start_parser.add_argument("--port", type=int, default=9092, help="0 picks a free port")
    start_parser.add_argument("--heap", default="512m")
    start_parser.add_argument("--timeout", type=float, default=90.0, help="startup timeout, s")
    start_parser.add_argument("--fresh", action="store_true", help="discard earlier topics")
    start_parser.add_argument("--secure", action="store_true",
                              help="SASL_SSL + SCRAM per principal, ACLs enforced "
                                   "(docs/security.md)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
