"""One Kafka JVM — a combined broker+controller node — as an OS process: launched, stopped,
killed, frozen and started again with the same config and data.

Guarantees: :meth:`KafkaNode.start` returns only once this launch logged ``Kafka Server
started``, or raises :class:`LocalKafkaError` saying why (the JVM exited, or the time ran
out, with the log's tail). The log is appended to, never truncated, so the story of a node
killed and started again stays in one file. An attached node dies with the *thread* that
launched it (``PR_SET_PDEATHSIG``): launch from a thread that outlives the node (never from a
timer), so that a killed test run leaves no orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

from localkafka.errors import LocalKafkaError

READY_LINE = "Kafka Server started"
_PR_SET_PDEATHSIG = 1


class KafkaNode:
    def __init__(self, node_id: int, directory: Path, *, host: str, port: int,
                 controller_port: int, detach: bool) -> None:
        self.node_id, self.directory = node_id, directory
        self.host, self.port, self.controller_port = host, port, controller_port
        self.detach = detach
        self.process: subprocess.Popen | None = None
        self.frozen = False
        self._log_offset = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "broker.log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "broker.pid"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self, java_command: list[str]) -> None:
        """Start the JVM and return at once (:meth:`wait_started` waits for it)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                [*java_command, "kafka.Kafka", str(self.config_path.resolve())],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=self.detach,
                preexec_fn=None if self.detach else _die_with_parent)
        self.frozen = False
        self.pid_file.write_text(str(self.process.pid))

    def wait_started(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalKafkaError(
                    f"Kafka node {self.node_id} exited with code {self.process.returncode} "
                    f"during startup; last lines of {self.log_path}:\n{self.log_tail()}")
            if READY_LINE in self._this_launchs_log():
                return
            time.sleep(0.1)
        raise LocalKafkaError(
            f"Kafka node {self.node_id} did not log '{READY_LINE}' in time; "
            f"last lines of {self.log_path}:\n{self.log_tail()}")

    def _this_launchs_log(self) -> str:
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def terminate(self, timeout: float = 30.0) -> None:
        """SIGTERM (Kafka flushes and closes its logs); SIGKILL if it will not stop in time."""
        self.request_stop()
        self.wait_stopped(time.monotonic() + timeout)

    def request_stop(self) -> None:
        if self.process is not None:
            if self.frozen:
                self.thaw()
            self.process.terminate()

    def wait_stopped(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no controlled shutdown, no flush; like a power cut to this node."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: alive but silent (a long GC pause, a stalled disk)."""
        self.process.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.frozen = False

    def forget_pid_file(self, pid: int) -> None:
        """Remove the pid file only if it is still this node's: another start may own it."""
        if self.pid_file.exists() and self.pid_file.read_text().strip() == str(pid):
            self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 25) -> str:
        if not self.log_path.exists():
            return "(no broker log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def stop_pids(nodes: dict[int, Path], timeout: float = 30.0) -> None:
    """SIGTERM nodes that are not our children, all at once (a cluster stops together);
    SIGKILL those that will not stop in time."""
    for pid in nodes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)  # a frozen node cannot act on SIGTERM
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(is_broker(pid, config) for pid, config in nodes.items()):
            return
        time.sleep(0.1)
    for pid, config in nodes.items():
        if is_broker(pid, config):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def is_broker(pid: int, config: Path) -> bool:
    """A live (not zombie) Kafka JVM runs with exactly this config file under this pid: not
    some process that reused the pid, and not the node of another state dir."""
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
