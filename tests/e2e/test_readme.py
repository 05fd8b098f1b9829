"""The README's runnable blocks, run as they stand: a renamed flag or target fails here.

A block is runnable when the line before its opening fence is
``<!-- readme-test: expects "TEXT" -->``. It runs in bash from the repository root, with
`set -e`; it must succeed and print TEXT. Its broker, services and ports are moved out of the
way of anything a developer runs (Makefile variables and SAGA_* settings), never its commands.
"""

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from devtools.services import ORCHESTRATOR, PORT_OFFSETS
from localkafka import ensure_jars

ROOT = Path(__file__).parents[2]
MARKER = re.compile(r'<!-- readme-test: expects "(?P<expects>[^"]+)" -->\n```bash\n'
                    r"(?P<script>.*?)\n```", re.DOTALL)
BLOCKS = [(m["expects"], m["script"]) for m in MARKER.finditer((ROOT / "README.md").read_text())]


def _free_ports(count: int) -> int:
    """A base port with ``count`` free ports above it."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count < 65535 and all(_free(base + n) for n in range(count)):
            return base
    raise RuntimeError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_readme_has_runnable_blocks():
    assert BLOCKS, "README.md lost its readme-test markers"


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
                    reason="KAFKA_BOOTSTRAP_SERVERS is set: the suite must not start brokers of its "
                    "own (the README's blocks start the local launcher)")
@pytest.mark.parametrize(("expects", "script"), BLOCKS, ids=[f"block{n}" for n in range(
    len(BLOCKS))])
def test_a_runnable_readme_block_does_what_it_says(expects, script, tmp_path):
    ensure_jars()  # the block starts the local launcher; fetched once, outside its timing
    base = _free_ports(max(PORT_OFFSETS.values()) + 1)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("SAGA_") and key != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update(KAFKA_PORT=str(_free_ports(1)), KAFKA_DIR=str(tmp_path / "kafka"),
               SERVICES_DIR=str(tmp_path / "services"), SERVICES_PORT_BASE=str(base),
               SAGA_ORDER_API_URL=f"http://127.0.0.1:{base}",
               SAGA_SERVICE_URLS=json.dumps({name: f"http://127.0.0.1:{base + offset}"
                                             for name, offset in PORT_OFFSETS.items()
                                             if name != ORCHESTRATOR}))
    try:
        ran = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
    finally:  # whatever the block left running
        subprocess.run(["make", "-s", "services-stop", "kafka-stop"], cwd=ROOT, env=env,
                       capture_output=True, timeout=120)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert expects in ran.stdout + ran.stderr
