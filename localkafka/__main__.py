"""``python -m localkafka start|stop|status|fetch`` — the engine behind ``make kafka``.

``start`` runs the broker (``--brokers 3``: a cluster of three) in the background and prints
exactly one line on stdout, ``export KAFKA_BOOTSTRAP_SERVERS=<host:port>[,<host:port>...]``
(a cluster adds ``SAGA_TOPIC_REPLICATION_FACTOR=3``), so that ``eval $(make -s kafka)`` sets it
for the shell *and* for the services started from it; everything else goes to stderr. Starts
and stops of one state dir take turns (a file lock), and a pid counts as one of this state
dir's nodes only if that process runs with that node's config file.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from localkafka.broker import LocalKafka
from localkafka.errors import LocalKafkaError
from localkafka.jars import KAFKA_VERSION, ensure_jars
from localkafka.mode import refuse_other_mode
from localkafka.node import is_broker, stop_pids
from localkafka.system import locked


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
        running = _running_nodes(state_dir)
        if running:
            return _already_running(state_dir, running, args.brokers, args.secure)
        if args.fresh:
            for data in (state_dir / "data", *state_dir.glob("node-*/data")):
                shutil.rmtree(data, ignore_errors=True)
        kafka = LocalKafka(state_dir, brokers=args.brokers, port=args.port, heap=args.heap,
                           detach=True, startup_timeout=args.timeout, secure=args.secure)
        bootstrap = kafka.start()
    pids = ", ".join(str(node.process.pid) for node in kafka.nodes)
    print(f"Kafka {KAFKA_VERSION} started ({len(kafka.nodes)} node(s), pid {pids}, "
          f"log {kafka.log_path}{' …' if len(kafka.nodes) > 1 else ''}).", file=sys.stderr)
    _print_bootstrap(bootstrap, state_dir, args.secure)
    return 0


def _already_running(state_dir: Path, running: dict[int, Path], brokers: int,
                     secure: bool) -> int:
    refuse_other_mode(state_dir, secure, running=True)
    bootstrap = (state_dir / "bootstrap").read_text()
    expected = len(bootstrap.split(","))
    if len(running) != expected:
        raise LocalKafkaError(f"only {len(running)} of the {expected} nodes in {state_dir} run "
                              f"(pid {', '.join(map(str, running))}); stop them first")
    print(f"Kafka already running (pid {', '.join(map(str, running))}).", file=sys.stderr)
    if expected != brokers:
        print(f"note: it has {expected} node(s), not the {brokers} asked for; stop it first "
              "to change that", file=sys.stderr)
    _print_bootstrap(bootstrap, state_dir, secure)
    return 0


def _print_bootstrap(bootstrap: str, state_dir: Path, secure: bool) -> None:
    """The one line on stdout: `eval $(make -s kafka)` sets and exports it for child processes.
    A cluster replicates every topic the services create three times. A secure broker also
    exports the sagactl principal's settings, and says where every principal's are (a
    trailing comment, harmless to eval)."""
    sagactl = state_dir / "clients" / "sagactl.env"
    if not secure:
        replicated = " SAGA_TOPIC_REPLICATION_FACTOR=3" if len(bootstrap.split(",")) >= 3 else ""
        print(f"export KAFKA_BOOTSTRAP_SERVERS={bootstrap}{replicated}")
        return
    variables = [line for line in sagactl.read_text().splitlines()
                 if line and not line.startswith("KAFKA_BOOTSTRAP_SERVERS=")]
    print(f"export KAFKA_BOOTSTRAP_SERVERS={bootstrap} {' '.join(variables)}  "
          f"# secure: CA {state_dir.resolve() / 'secrets' / 'ca.pem'}, every principal's "
          f"client settings in {state_dir.resolve() / 'clients'}/<principal>.env|.properties")


def stop(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    with locked(state_dir):
        running = _running_nodes(state_dir)
        if not running:
            print("No local Kafka broker is running.", file=sys.stderr)
        else:
            stop_pids(running)
            print(f"Kafka (pid {', '.join(map(str, running))}) stopped.", file=sys.stderr)
        for pid_file in _pid_files(state_dir):
            pid_file.unlink(missing_ok=True)
        (state_dir / "bootstrap").unlink(missing_ok=True)
    return 0


def status(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    running = _running_nodes(state_dir)
    if not running:
        print("stopped")
        return 1
    bootstrap = (state_dir / "bootstrap").read_text()
    complete = len(running) == len(bootstrap.split(","))
    print(f"{'running' if complete else 'degraded'} pid={','.join(map(str, running))} "
          f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
    return 0 if complete else 1


def fetch(args: argparse.Namespace) -> int:
    print(ensure_jars())
    return 0


def _pid_files(state_dir: Path) -> list[Path]:
    """One node's (in the state dir itself), or a cluster's (one per ``node-<id>`` dir)."""
    return [path for path in (state_dir / "broker.pid", *sorted(state_dir.glob("node-*/broker.pid")))
            if path.exists()]


def _running_nodes(state_dir: Path) -> dict[int, Path]:
    """pid → config file of every node of this state dir that runs."""
    if not (state_dir / "bootstrap").exists():
        return {}
    running = {}
    for pid_file in _pid_files(state_dir):
        pid, config = int(pid_file.read_text()), pid_file.parent / "server.properties"
        if is_broker(pid, config):
            running[pid] = config
    return running


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localkafka", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="command")
    for name, handler, help_text in (
        ("start", start, "start a broker (or a cluster) in the background"),
        ("stop", stop, "stop the background broker (every node)"),
        ("status", status, "say whether the background broker runs (every node)"),
        ("fetch", fetch, "resolve the Kafka jars into the cache and print where"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.set_defaults(command=handler)
        command.add_argument("--state-dir", default=".run/kafka",
                             help="config, data, log and pid file (default: .run/kafka)")
    start_parser = commands.choices["start"]
    start_parser.add_argument("--brokers", type=int, default=1,
                              help="1, or a cluster of 3 or more: topics replicated 3 times")
    start_parser.add_argument("--port", type=int, default=9092,
                              help="the first node's; the next nodes take the next ports; "
                                   "0 picks free ports")
    start_parser.add_argument("--heap", default=None, help="per node (default 512m; 384m each "
                                                          "in a cluster)")
    start_parser.add_argument("--timeout", type=float, default=90.0, help="startup timeout, s")
    start_parser.add_argument("--fresh", action="store_true", help="discard earlier topics")
    start_parser.add_argument("--secure", action="store_true",
                              help="SASL_SSL + SCRAM per principal, ACLs enforced "
                                   "(docs/security.md)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
