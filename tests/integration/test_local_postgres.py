"""The local PostgreSQL launcher: the commands a user types, its files and processes, and the
reasons it gives when it cannot start."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from localpostgres import SERVICES, Databases, LocalPostgres, LocalPostgresError
from tests.support.jvm import jvm_alive as alive  # any process; a zombie counts as gone
from tests.support.postgres import connect, proc_files, server_processes
from tests.support.waiting import until

ROOT = Path(__file__).parents[2]


@pytest.fixture
def state_dir():
    """Under /tmp, not pytest's tmp_path: as root the server runs as the postgres user, who
    cannot enter root's private pytest directories."""
    directory = Path(tempfile.mkdtemp(prefix="localpostgres-test-"))
    yield directory
    _localpostgres("stop", "--state-dir", str(directory))
    shutil.rmtree(directory, ignore_errors=True)


def _localpostgres(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localpostgres", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def _pid(state_dir: Path) -> int:
    return int((state_dir / "postgres.pid").read_text())


def test_make_postgres_exports_what_every_service_logs_in_with_and_stop_leaves_no_process(state_dir):
    check = ("from localpostgres import Databases, SERVICES; import os, psycopg; "
             "d = Databases(os.environ['SAGA_DATABASE_URL'], os.environ['SAGA_DATABASE_PASSWORD_FILE']); "
             "print(*(psycopg.connect(d.url_for(s), password=d.password_for(s)).execute("
             "'SELECT current_user = current_database()').fetchone()[0] for s in SERVICES))")
    shell = (f"eval $(make -s postgres POSTGRES_DIR={state_dir} POSTGRES_PORT=0) && "
             f"{ROOT / '.venv/bin/python'} -c \"{check}\" && make -s postgres-status "
             f"POSTGRES_DIR={state_dir}")
    result = subprocess.run(["bash", "-c", shell], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == " ".join(["True"] * len(SERVICES))
    assert result.stdout.splitlines()[1].startswith("running pid=")

    processes = server_processes(_pid(state_dir))
    assert len(processes) > 1  # the postmaster and its background workers
    stopped = subprocess.run(["make", "-s", "postgres-stop", f"POSTGRES_DIR={state_dir}"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "stopped" in stopped.stderr
    assert not [pid for pid in processes if alive(pid)]
    assert _localpostgres("status", "--state-dir", str(state_dir)).stdout == "stopped\n"


def test_a_second_start_on_the_same_state_dir_says_it_already_runs(state_dir):
    first = _localpostgres("start", "--port", "0", "--state-dir", str(state_dir))
    again = _localpostgres("start", "--port", "0", "--state-dir", str(state_dir))
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert again.stderr == f"PostgreSQL already running (pid {_pid(state_dir)}).\n"
    assert again.stdout == first.stdout
    assert first.stdout.startswith("export SAGA_DATABASE_URL='postgresql://{service}@127.0.0.1:")


def test_a_stopped_server_starts_again_on_its_port_with_its_data(state_dir):
    exported = _localpostgres("start", "--port", "0", "--state-dir", str(state_dir)).stdout
    databases = _exported(exported)
    with connect(databases, "payment_service") as connection:
        connection.execute("CREATE TABLE kept (word text); INSERT INTO kept VALUES ('still here')")
    _localpostgres("stop", "--state-dir", str(state_dir))

    again = _localpostgres("start", "--state-dir", str(state_dir))
    assert again.returncode == 0, again.stderr
    assert again.stdout == exported
    with connect(databases, "payment_service") as connection:
        assert connection.execute("SELECT word FROM kept").fetchall() == [("still here",)]


def _exported(line: str) -> Databases:
    values = dict(part.split("=", 1) for part in line.split()[1:])
    return Databases(*(values[name].strip("'") for name in ("SAGA_DATABASE_URL",
                                                             "SAGA_DATABASE_PASSWORD_FILE")))


def test_a_pid_file_naming_another_process_is_not_this_state_dirs_server(state_dir):
    (state_dir / "postgres.pid").write_text(str(os.getpid()))
    assert _localpostgres("status", "--state-dir", str(state_dir)).returncode == 1
    stopped = _localpostgres("stop", "--state-dir", str(state_dir))
    assert "No local PostgreSQL is running" in stopped.stderr  # and this test still runs


def test_a_port_in_use_is_reported_before_anything_starts(state_dir):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = LocalPostgres(state_dir, port=port)
        with pytest.raises(LocalPostgresError, match=f"port 127.0.0.1:{port} is already in use"):
            server.start()
    assert server.process is None and not (state_dir / "data").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another user")
def test_a_state_dir_the_server_user_cannot_enter_is_refused_with_the_reason(state_dir):
    state_dir.chmod(0o755)
    closed = state_dir / "private"  # root's own, as pytest's tmp_path is
    closed.mkdir(mode=0o700)
    with pytest.raises(LocalPostgresError, match=f"cannot enter {closed} \\(mode 0700\\)"):
        LocalPostgres(closed / "state").start()


class WatchedStart:
    """A server started while every process's command line is read, again and again."""

    def __init__(self, state_dir: Path) -> None:
        self.server, self.command_lines = LocalPostgres(state_dir, durable=False), set()
        self._starting = True
        watcher = threading.Thread(target=self._watch)
        watcher.start()
        try:
            self.server.start()
        finally:
            self._starting = False
            watcher.join()

    def _watch(self) -> None:
        while self._starting:
            self.command_lines.update(proc_files("cmdline").values())


@pytest.fixture(scope="module")
def watched():
    directory = Path(tempfile.mkdtemp(prefix="localpostgres-test-"))
    start = WatchedStart(directory)
    yield start
    start.server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def test_no_password_is_on_any_command_line_while_the_server_starts(watched):
    assert any(b"initdb" in line for line in watched.command_lines)  # the watch saw the start
    passwords = watched.server.passwords()
    assert set(passwords) == {"admin", *SERVICES}
    leaks = [role for role, password in passwords.items()
             if any(password.encode() in line for line in watched.command_lines)]
    assert leaks == []


def test_the_state_dir_is_private_and_every_secret_file_is_0600(watched):
    state = watched.server.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "secrets").stat().st_mode) == 0o700
    secrets = [*(state / "secrets").iterdir(), state / "postgres.log"]
    assert len(secrets) == len(SERVICES) + 2
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in secrets} == {
        path.name: 0o600 for path in secrets}


def test_restart_keeps_every_database_and_its_data(watched):
    databases = watched.server.databases
    with connect(databases, "shipping_service") as connection:
        connection.execute("CREATE TABLE parcels (id int); INSERT INTO parcels VALUES (7)")
    pid = watched.server.process.pid
    watched.server.restart()
    assert watched.server.process.pid != pid and not alive(pid)
    with connect(databases, "shipping_service") as connection:
        assert connection.execute("SELECT id FROM parcels").fetchall() == [(7,)]


def test_a_server_dies_with_the_process_that_started_it(state_dir):
    script = ("import sys, time; from localpostgres import LocalPostgres; "
              f"server = LocalPostgres({str(state_dir)!r}, durable=False); server.start(); "
              "print(server.process.pid, flush=True); time.sleep(600)")
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT)
    processes = server_processes(int(owner.stdout.readline()))
    owner.kill()
    owner.wait()
    until(lambda: not [pid for pid in processes if alive(pid)], timeout=30, interval=0.1,
          what="the orphaned server gone")
