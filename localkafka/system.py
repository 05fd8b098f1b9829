"""What the launcher needs from this machine: Java, free loopback ports, a lock per state dir."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from localkafka.errors import LocalKafkaError
from localkafka.jars import KAFKA_VERSION


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


def claim_ports(host: str, wanted: list[tuple[int, str]]) -> list[int]:
    """Each ``(port, role)``: that port if it is free (else an error naming the role), a free
    one for port 0; never the same port twice."""
    claimed: list[int] = []
    for port, role in wanted:
        while True:
            found = _claim_port(host, port, role)
            if port or found not in claimed:
                break
        if found in claimed:
            raise LocalKafkaError(f"{role} port {host}:{port} is given twice")
        claimed.append(found)
    return claimed


def _claim_port(host: str, port: int, role: str) -> int:
    try:
        return bindable_port(host, port)
    except OSError as error:
        raise LocalKafkaError(
            f"{role} port {host}:{port} is already in use ({error.strerror}); "
            "stop whatever holds it (make kafka-stop?) or choose another port"
        ) from None


def bindable_port(host: str, port: int) -> int:
    """``port`` if a server could bind it now (a free one for 0); OSError if not."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As Kafka and PostgreSQL bind: a port whose last user just stopped (TIME-WAIT) is
        # free to take.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return probe.getsockname()[1]
