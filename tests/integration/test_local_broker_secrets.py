"""The local broker's secrets stay its owner's: no other local user reads them from its state
dir or from a command line, and a state dir keeps the mode (plain or secure) it was made in."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.cmdlines import CommandLines

pytestmark = pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
                                reason="these tests start brokers of their own")


def _localkafka(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localkafka", *args], capture_output=True,
                          text=True, timeout=180)


@pytest.fixture(scope="module")
def switched():
    """A state dir where any local user could look (its parent is world-readable): a plain
    broker started and stopped; then a secure start (refused), then a secure start over
    (--fresh) watched from /proc; left running secure."""
    parent = Path(tempfile.mkdtemp(prefix="localkafka-secrets-"))
    parent.chmod(0o755)
    state = str(parent / "kafka")
    try:
        assert _localkafka("start", "--port", "0", "--state-dir", state).returncode == 0
        _localkafka("stop", "--state-dir", state)
        refused = _localkafka("start", "--secure", "--port", "0", "--state-dir", state)
        with CommandLines() as command_lines:
            secure = _localkafka("start", "--secure", "--fresh", "--port", "0",
                                 "--state-dir", state)
        assert secure.returncode == 0, secure.stderr
        yield SimpleNamespace(state=Path(state), refused=refused, secure=secure,
                              command_lines=command_lines.seen)
    finally:
        _localkafka("stop", "--state-dir", state)
        shutil.rmtree(parent, ignore_errors=True)


def test_a_plain_state_dir_refuses_a_secure_start_in_one_line_that_says_what_to_run(switched):
    assert switched.refused.returncode == 1
    assert switched.refused.stderr.count("\n") == 1, switched.refused.stderr
    assert "holds a plain broker" in switched.refused.stderr
    assert "make kafka FRESH=1 SECURE=1" in switched.refused.stderr
    assert "SAGA_KAFKA_SECURITY_PROTOCOL=SASL_SSL" in switched.secure.stdout


def test_formatting_a_secure_broker_puts_no_password_on_any_command_line(switched):
    state = str(switched.state)
    formats = [line for line in switched.command_lines if state in line
               and ("StorageTool" in line or "format.args" in line)]
    assert formats, "the storage was formatted without being seen: sample faster"
    passwords = (switched.state / "secrets" / "passwords.json").read_text()
    leaked = [line for line in switched.command_lines
              if "password=" in line or any(word.strip('",') in line
                                             for word in passwords.split() if len(word) > 30)]
    assert leaked == []
    assert not list(switched.state.glob("**/format.args"))


def test_no_secret_of_a_secure_broker_is_readable_by_another_local_user(switched):
    state = switched.state
    assert state.stat().st_mode & 0o777 == 0o700
    secrets = [*(state / "secrets" / "passwords.json").read_text().split('"')[3::4],
               (state / "secrets" / "api_token").read_text()]
    holding = [path for path in state.rglob("*") if path.is_file()
               and any(secret.encode() in path.read_bytes() for secret in secrets)]
    assert {path.name for path in holding} >= {"server.properties", "passwords.json",
                                               "api_token", "sagactl.properties"}
    assert {path: oct(path.stat().st_mode & 0o777) for path in holding
            if path.stat().st_mode & 0o077} == {}
    if os.geteuid() == 0 and shutil.which("runuser"):
        for path in holding:
            tried = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(path)],
                                   capture_output=True, text=True)
            assert tried.returncode != 0 and "Permission denied" in tried.stderr, path


def test_a_secure_state_dir_refuses_a_plain_start_running_or_stopped(switched):
    state = str(switched.state)
    running = _localkafka("start", "--port", "0", "--state-dir", state)
    assert running.returncode == 1 and running.stdout == ""
    assert "holds a secure broker that runs" in running.stderr
    assert "`make kafka-stop`, then `make kafka FRESH=1`" in running.stderr
    _localkafka("stop", "--state-dir", state)
    stopped = _localkafka("start", "--port", "0", "--state-dir", state)
    assert stopped.returncode == 1 and stopped.stderr.count("\n") == 1
    assert "run `make kafka SECURE=1` to keep it" in stopped.stderr
