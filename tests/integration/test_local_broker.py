"""The local launcher fails fast with a reason, and leaves no JVM behind."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from localkafka import LocalKafka, LocalKafkaError
from tests.support.jvm import jvm_alive

needs_launcher = pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
    reason="KAFKA_BOOTSTRAP_SERVERS is set: the suite must not start brokers of its own",
)


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
    assert jvm_alive(pid)
    broker.stop()
    assert not jvm_alive(pid)
    assert not (tmp_path / "state" / "broker.pid").exists()


def _localkafka(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localkafka", *args], capture_output=True,
                          text=True, timeout=180)


def _pid(state_dir: Path) -> int:
    return int((state_dir / "broker.pid").read_text())


@needs_launcher
def test_two_starts_at_once_leave_one_broker_that_stop_stops(tmp_path):
    state = tmp_path / "state"
    starts = [subprocess.Popen([sys.executable, "-m", "localkafka", "start", "--port", "0",
                                "--state-dir", str(state)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [start.communicate(timeout=180)[0] for start in starts]
    try:
        assert all(start.returncode == 0 for start in starts)
        assert outputs[0] == outputs[1] and outputs[0].startswith("export KAFKA_BOOTSTRAP_SERVERS=")
        pid = _pid(state)
        assert _localkafka("status", "--state-dir", str(state)).returncode == 0
    finally:
        _localkafka("stop", "--state-dir", str(state))
    assert not jvm_alive(pid)


@needs_launcher
def test_a_broker_restarts_at_once_on_the_port_it_just_left(tmp_path):
    state = tmp_path / "state"
    first = _localkafka("start", "--port", "0", "--state-dir", str(state))
    port = first.stdout.strip().rsplit(":", 1)[1]
    _localkafka("stop", "--state-dir", str(state))
    again = _localkafka("start", "--port", port, "--state-dir", str(state))
    _localkafka("stop", "--state-dir", str(state))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith(f":{port}")


@needs_launcher
def test_a_pid_file_pointing_at_another_state_dirs_broker_is_not_ours(tmp_path):
    mine, other = tmp_path / "mine", tmp_path / "other"
    _localkafka("start", "--port", "0", "--state-dir", str(mine))
    try:
        other.mkdir()
        (other / "broker.pid").write_text(str(_pid(mine)))
        (other / "bootstrap").write_text("127.0.0.1:1")
        assert _localkafka("status", "--state-dir", str(other)).returncode == 1
        _localkafka("stop", "--state-dir", str(other))
        assert jvm_alive(_pid(mine)), "stopping another state dir killed this broker"
    finally:
        _localkafka("stop", "--state-dir", str(mine))
