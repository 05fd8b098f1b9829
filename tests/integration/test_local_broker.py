"""The local launcher fails fast with a reason, and leaves no JVM behind."""

import os
import socket
from pathlib import Path

import pytest

from localkafka import LocalKafka, LocalKafkaError

needs_launcher = pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
    reason="KAFKA_BOOTSTRAP_SERVERS is set: the suite must not start brokers of its own",
)


def _jvm_alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_a_port_in_use_is_reported_before_anything_starts(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        broker = LocalKafka(tmp_path, port=port)
        with pytest.raises(LocalKafkaError, match=f"port 127.0.0.1:{port} is already in use"):
            broker.start()
    assert broker.process is None


@needs_launcher
def test_a_broker_that_cannot_start_says_why_with_the_log_tail(tmp_path):
    broker = LocalKafka(tmp_path, heap="1k", startup_timeout=60)
    with pytest.raises(LocalKafkaError, match="exited with code") as failure:
        broker.start()
    assert "heap" in str(failure.value).lower()
    assert broker.process is None


@needs_launcher
def test_stopping_the_broker_leaves_no_jvm_running(tmp_path):
    broker = LocalKafka(tmp_path / "state")
    broker.start()
    pid = broker.process.pid
    assert _jvm_alive(pid)
    broker.stop()
    assert not _jvm_alive(pid)
    assert not (tmp_path / "state" / "broker.pid").exists()
