"""A real PostgreSQL server from the machine's own binaries (Debian's postgresql package), no
Docker: one postmaster on a loopback port, its unix socket and everything else in one private
state dir.

Guarantees: ``start()`` returns only once the server answers on its TCP port and every role and
database exists, or raises :class:`LocalPostgresError` within ``startup_timeout`` saying why (no
binaries, port in use, no user to run as, the server log's tail). initdb and postgres never run
as root: as root they run as the ``postgres`` system user, which owns the state dir (0700).
Clients authenticate with SCRAM-SHA-256 over 127.0.0.1 only; the socket admits the admin alone,
and only from the user that runs the server (or launched it). ``stop()`` leaves no server
process; an attached server also shuts down when the thread that started it dies. Data is kept
across stops and restarts; ``durable=False`` (tests' throwaway servers) turns fsync off, after
which a killed server still loses nothing but an OS crash may lose everything.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from localpostgres.cluster import initialise
from localpostgres.errors import LocalPostgresError
from localpostgres.process import die_with_parent, is_postmaster, stop_postmaster
from localpostgres.roles import ADMIN, SERVICES, write_private
from localpostgres.server import Databases, PostgresServer
from localpostgres.system import (
    Binaries,
    User,
    claim_port,
    find_binaries,
    prepare_state_dir,
    server_environment,
    server_user,
)

#: Room for several instances of every service, each with a pool, and the tools beside them.
MAX_CONNECTIONS = 200


class LocalPostgres(PostgresServer):
    def __init__(self, state_dir: Path | str | None = None, *, port: int = 0,
                 host: str = "127.0.0.1", services: tuple[str, ...] = SERVICES,
                 detach: bool = False, durable: bool = True, startup_timeout: float = 60.0) -> None:
        self._owns_state_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="localpostgres-"))
        super().__init__(host, port, self.state_dir / "secrets", services)
        self.detach, self.durable, self.startup_timeout = detach, durable, startup_timeout
        self.process: subprocess.Popen | None = None
        self.binaries: Binaries | None = None
        self._user: User | None = None

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "postgres.log"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "postgres.pid"

    @property
    def port_file(self) -> Path:
        """The port of the last start, kept after a stop: the next start may take it again."""
        return self.state_dir / "port"

    def start(self) -> Databases:
        try:
            self.binaries, self._user = find_binaries(), server_user()
            self.port = claim_port(self.host, self.port)
            prepare_state_dir(self.state_dir, self._user, self.port)
            self.passwords()
            initialise(self.binaries, self.data_dir, self._user)
            self._run()
            self.provision()
        except BaseException:
            self.stop()
            raise
        self.port_file.write_text(str(self.port))
        return self.databases

    def restart(self) -> None:
        """Stop the server and start it again on the same port, keeping every database."""
        self._terminate()
        self._run()

    def stop(self, timeout: float = 30.0) -> None:
        self._terminate(timeout)
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def run_sql(self, sql: str) -> str:
        """As the admin, over the unix socket (peer authentication: no password needed)."""
        result = self._user.run(
            [self.binaries["psql"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", str(self.state_dir.resolve()), "-p", str(self.port), "-U", ADMIN,
             "-d", "postgres"], self.state_dir, input=sql)
        if result.returncode != 0:
            raise LocalPostgresError(f"psql as {ADMIN} failed: {result.stderr.strip()}")
        return result.stdout

    def log_tail(self, lines: int = 15) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # Files and processes.

    def _run(self) -> None:
        self._launch()
        deadline = time.monotonic() + self.startup_timeout
        while not self._answers():
            code = self.process.poll()
            if code is not None:
                self._forget_process()
                raise LocalPostgresError(f"PostgreSQL exited with code {code} "
                                         f"during startup; last lines of {self.log_path}:\n"
                                         f"{self.log_tail()}")
            if time.monotonic() > deadline:
                self._terminate()
                raise LocalPostgresError(f"PostgreSQL did not answer on {self.host}:{self.port} "
                                         f"within {self.startup_timeout:.0f}s; last lines of "
                                         f"{self.log_path}:\n{self.log_tail()}")
            time.sleep(0.05)

    def _launch(self) -> None:
        if not self.log_path.exists():
            write_private(self.log_path, "")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binaries["postgres"], "-D", str(self.data_dir.resolve()), "-p", str(self.port),
                 *(argument for name, value in self._settings().items()
                   for argument in ("-c", f"{name}={value}"))],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.state_dir, env=server_environment(self.state_dir),
                start_new_session=self.detach,
                preexec_fn=None if self.detach else die_with_parent, **self._user.process_options())
        self.pid_file.write_text(str(self.process.pid))

    def _settings(self) -> dict[str, str]:
        settings = {"listen_addresses": self.host,
                    "unix_socket_directories": str(self.state_dir.resolve()),
                    "max_connections": str(MAX_CONNECTIONS)}
        # Without fsync a killed server loses nothing (the OS still holds every write), an OS
        # crash may lose everything: right for a test's throwaway server, which it makes fast
        # (CREATE and DROP DATABASE checkpoint).
        return settings if self.durable else {**settings, "fsync": "off"}

    def _answers(self) -> bool:
        """pg_isready over TCP: the server accepts connections on the address clients use."""
        return self._user.run([self.binaries["pg_isready"], "-q", "-h", self.host,
                               "-p", str(self.port), "-t", "1"], self.state_dir).returncode == 0

    def _terminate(self, timeout: float = 30.0) -> None:
        if self.process is None:
            return
        stop_postmaster(self.process.pid, self.data_dir, timeout)
        self.process.wait()
        self._forget_process()

    def _forget_process(self) -> None:
        """The pid file goes only if it is still this launch's: another start may own it."""
        if self.pid_file.exists() and self.pid_file.read_text().strip() == str(self.process.pid):
            self.pid_file.unlink(missing_ok=True)
        self.process = None


def running_pid(state_dir: Path) -> int | None:
    """The pid of this state dir's server, if it runs."""
    pid_file = state_dir / "postgres.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    return pid if is_postmaster(pid, state_dir / "data") else None
