"""A real single-node Apache Kafka broker (KRaft) run from the Maven jars, no Docker.

Guarantees: ``start()`` returns only once the broker logged ``Kafka Server
started``, or raises :class:`LocalKafkaError` within ``startup_timeout`` saying
why (no Java, no Maven, port in use, startup error with the broker log's tail).
``stop()`` leaves no JVM behind; an attached broker also dies with the thread
that started it (``PR_SET_PDEATHSIG``), so a killed test run leaves no orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from localkafka.config import LOG4J2_PROPERTIES, new_cluster_id, server_properties
from localkafka.errors import LocalKafkaError
from localkafka.jars import KAFKA_VERSION, ensure_jars
from localkafka.secrets import (
    Secrets,
    ensure_secrets,
    scram_arguments,
    server_security_properties,
    write_client_settings,
)

READY_LINE = "Kafka Server started"
_PR_SET_PDEATHSIG = 1


class LocalKafka:
    def __init__(
        self,
        state_dir: Path | str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        controller_port: int = 0,
        heap: str = "512m",
        version: str = KAFKA_VERSION,
        startup_timeout: float = 90.0,
        detach: bool = False,
        secure: bool = False,
    ) -> None:
        self._owns_state_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="localkafka-"))
        self.host, self.port, self.controller_port = host, port, controller_port
        self.heap, self.version = heap, version
        self.startup_timeout = startup_timeout
        self.detach = detach
        #: SASL_SSL + SCRAM for clients, ACLs enforced (docs/security.md): see ``secrets``.
        self.secure = secure
        self.secrets: Secrets | None = None
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "broker.log"

    def start(self) -> str:
        java = find_java()
        lib = ensure_jars(self.version)
        self.port = _claim_port(self.host, self.port, "broker")
        self.controller_port = _claim_port(self.host, self.controller_port, "controller")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.secure:
            self.secrets = ensure_secrets(self.state_dir)
        config = self._write_config()
        self._format_storage(java, lib, config)
        self._run(java, lib, config)
        if self.secrets is not None:
            write_client_settings(self.secrets, self.bootstrap_servers)
        return self.bootstrap_servers

    def restart(self) -> None:
        """Stop and start again on the same ports, keeping topics and committed offsets."""
        self._terminate()
        self._run(find_java(), ensure_jars(self.version), self.state_dir / "server.properties")

    def _run(self, java: str, lib: Path, config: Path) -> None:
        self._launch(java, lib, config)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        (self.state_dir / "bootstrap").write_text(self.bootstrap_servers)

    def _terminate(self, timeout: float = 30.0) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM lets Kafka flush and close its logs
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def stop(self, timeout: float = 30.0) -> None:
        pid = self.process.pid if self.process is not None else None
        self._terminate(timeout)
        # Only files this broker wrote: another start may own the state dir by now.
        pid_file = self.state_dir / "broker.pid"
        if pid is not None and pid_file.exists() and pid_file.read_text().strip() == str(pid):
            pid_file.unlink(missing_ok=True)
            (self.state_dir / "bootstrap").unlink(missing_ok=True)
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _write_config(self) -> Path:
        config = self.state_dir / "server.properties"
        config.write_text(server_properties(
            host=self.host, port=self.port, controller_port=self.controller_port,
            data_dir=self.state_dir / "data",
            security=server_security_properties(self.secrets) if self.secrets else None,
        ))
        (self.state_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        return config

    def _java_command(self, java: str, lib: Path, *args: str, heap: str | None = None) -> list[str]:
        heap = heap or self.heap
        return [
            java, f"-Xms{heap}", f"-Xmx{heap}", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
            "-cp", f"{lib}/*", *args,
        ]

    def _format_storage(self, java: str, lib: Path, config: Path) -> None:
        if (self.state_dir / "data" / "meta.properties").exists():
            return  # already formatted: keep the topics of an earlier run
        scram = scram_arguments(self.secrets) if self.secrets else []
        command = self._java_command(java, lib, "kafka.tools.StorageTool", "format",
                                     "-t", new_cluster_id(), "-c", str(config), *scram,
                                     heap="256m")
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise LocalKafkaError(f"formatting Kafka storage failed:\n{tail}")

    def _launch(self, java: str, lib: Path, config: Path) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self._java_command(java, lib, "kafka.Kafka", str(config.resolve())),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=self.detach,
            preexec_fn=None if self.detach else _die_with_parent,
        )
        log.close()
        (self.state_dir / "broker.pid").write_text(str(self.process.pid))

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalKafkaError(
                    f"Kafka broker exited with code {self.process.returncode} during startup; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            if READY_LINE in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise LocalKafkaError(
            f"Kafka broker did not log '{READY_LINE}' within {self.startup_timeout:.0f}s; "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 25) -> str:
        if not self.log_path.exists():
            return "(no broker log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise LocalKafkaError("Java not found: install OpenJDK 17 or newer, or set JAVA_HOME")
    result = subprocess.run([java, "-version"], capture_output=True, text=True)
    match = re.search(r'version "(\d+)', result.stderr + result.stdout)
    if match is None or int(match.group(1)) < 17:
        raise LocalKafkaError(f"Kafka {KAFKA_VERSION} needs Java 17+, but {java} reports: "
                              f"{(result.stderr or result.stdout).splitlines()[:1]}")
    return java


def stop_pid(pid: int, config: Path, timeout: float = 30.0) -> bool:
    """Stop a broker started detached; False when that pid is not the broker of ``config``."""
    if not is_broker(pid, config):
        return False
    _terminate(pid, timeout, config)
    return True


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """One start or stop at a time per state dir, across processes."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _claim_port(host: str, port: int, role: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As Kafka binds: a port whose last user just stopped (TIME-WAIT) is free to take.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise LocalKafkaError(
                f"{role} port {host}:{port} is already in use ({error.strerror}); "
                "stop whatever holds it (make kafka-stop?) or choose another port"
            ) from None
        return probe.getsockname()[1]


def _terminate(pid: int, timeout: float, config: Path) -> None:
    """SIGTERM a broker that is not our child; SIGKILL if it will not stop in time."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_broker(pid, config):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def is_broker(pid: int, config: Path) -> bool:
    """A live (not zombie) Kafka JVM runs with exactly this config file under this pid: not
    some process that reused the pid, and not the broker of another state dir."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return (b"kafka.Kafka" in arguments and str(config.resolve()).encode() in arguments
            and state != "Z")


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
