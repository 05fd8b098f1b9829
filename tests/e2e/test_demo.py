"""`make demo` is the newcomer's first contact: it must pass on the broker the suite uses."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.integration


def test_the_demo_shows_every_saga_path_behaving_as_expected(kafka_bootstrap):
    result = subprocess.run([sys.executable, "-m", "devtools.demo"], cwd=ROOT,
                            env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8/8 paths behaved as expected." in result.stdout
    for path in ("happy path", "out of stock", "payment declined", "shipping fails",
                 "cancelled before shipping", "cancellation after shipping"):
        assert path in result.stdout
    [rejected] = [line for line in result.stdout.splitlines() if "fraud rejected" in line]
    assert " v2 " in rejected and "StockReleased → OrderCancelled" in rejected


def test_the_orchestrated_demo_takes_every_path_by_command(kafka_bootstrap):
    result = subprocess.run([sys.executable, "-m", "devtools.demo", "--mode", "orchestrated"],
                            cwd=ROOT, env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mode: orchestrated" in result.stdout and "starting the 7 services" in result.stderr
    assert "8/8 paths behaved as expected." in result.stdout
    [refunded] = [line for line in result.stdout.splitlines() if "cancelled before" in line]
    assert "PaymentRefunded → StockReleased → OrderCancelled" in refunded
