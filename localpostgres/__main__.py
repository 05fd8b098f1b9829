"""``python -m localpostgres start|stop|status`` — the engine behind ``make postgres``.

``start`` runs PostgreSQL in the background and prints exactly one line on stdout,
``export SAGA_DATABASE_URL=… SAGA_DATABASE_PASSWORD_FILE=…`` (both with ``{service}`` in them),
so that ``eval $(make -s postgres)`` sets them for the shell and for the services started from
it; everything else goes to stderr. Without ``--port`` a state dir keeps the port of its last
start (a free one the first time), so exported settings stay true across restarts. Starts and
stops of one state dir take turns (a file lock), and a pid counts as this state dir's server
only if that process runs postgres with this state dir's data directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localkafka.system import locked  # stdlib only, like this package
from localpostgres.errors import LocalPostgresError
from localpostgres.launcher import LocalPostgres, running_pid
from localpostgres.process import stop_postmaster


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except LocalPostgresError as error:
        print(f"localpostgres: {error}", file=sys.stderr)
        return 1


def start(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    with locked(state_dir):
        pid = running_pid(state_dir)
        if pid is not None:
            print(f"PostgreSQL already running (pid {pid}).", file=sys.stderr)
            print(_recorded(state_dir).databases.exports())
            return 0
        port = args.port if args.port is not None else _recorded(state_dir).port
        server = LocalPostgres(state_dir, port=port, detach=True, startup_timeout=args.timeout)
        databases = server.start()
    print(f"PostgreSQL {server.binaries.major} started (pid {server.process.pid}, "
          f"{server.host}:{server.port}, {len(server.services)} service databases, "
          f"log {server.log_path}).", file=sys.stderr)
    print(databases.exports())
    return 0


def stop(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    with locked(state_dir):
        pid = running_pid(state_dir)
        if pid is None:
            print("No local PostgreSQL is running.", file=sys.stderr)
        else:
            stop_postmaster(pid, state_dir / "data")
            print(f"PostgreSQL (pid {pid}) stopped.", file=sys.stderr)
        (state_dir / "postgres.pid").unlink(missing_ok=True)
    return 0


def status(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    pid = running_pid(state_dir)
    if pid is None:
        print("stopped")
        return 1
    databases = _recorded(state_dir).databases
    print(f"running pid={pid} " + " ".join(f"{name}={value}"
                                          for name, value in databases.environment().items()))
    return 0


def _recorded(state_dir: Path) -> LocalPostgres:
    """This state dir's server as its last start left it (not started here)."""
    port_file = state_dir / "port"
    return LocalPostgres(state_dir, port=int(port_file.read_text()) if port_file.exists() else 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localpostgres", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="command")
    for name, handler, help_text in (
        ("start", start, "start PostgreSQL in the background, with a database per service"),
        ("stop", stop, "stop the background PostgreSQL"),
        ("status", status, "say whether the background PostgreSQL runs"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.set_defaults(command=handler)
        command.add_argument("--state-dir", default=".run/postgres",
                             help="data, log, socket, passwords and pid file "
                                  "(default: .run/postgres)")
    start_parser = commands.choices["start"]
    start_parser.add_argument("--port", type=int, default=None,
                              help="0 picks a free port; default: the state dir's last port, "
                                   "else a free one")
    start_parser.add_argument("--timeout", type=float, default=60.0, help="startup timeout, s")
    return parser


if __name__ == "__main__":
    sys.exit(main())
