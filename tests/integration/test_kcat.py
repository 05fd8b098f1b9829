"""A client that is not Python can take part by following docs/events.md: here, kcat."""

import asyncio
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from devtools.orders import BALANCES, STOCK

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("kcat") is None,
                                 reason="kcat is not installed (apt-get install kcat)")]
DOC = Path(__file__).parents[2] / "docs" / "events.md"


def _documented_commands(bootstrap: str, prefix: str, order_id: str) -> tuple[str, str]:
    """The publish and consume commands exactly as the catalog shows them, pointed at this
    test's broker, topic prefix and a fresh order id."""
    block = re.search(r"### Taking part with kcat.*?```bash\n(.*?)```", DOC.read_text(), re.S)
    text = (block.group(1).replace("127.0.0.1:9092", bootstrap)
            .replace("ord-42", order_id).replace('"e-42"', f'"{uuid.uuid4().hex}"')
            .replace("-t Order", f"-t {prefix}Order"))
    publish, consume = text.strip().rsplit("\n", 1)
    return publish, consume


async def test_an_order_published_with_kcat_as_documented_completes(mesh):
    await mesh.start()
    await mesh.seed(STOCK, BALANCES)
    order_id = f"kcat-{uuid.uuid4().hex[:8]}"
    publish, consume = _documented_commands(mesh.tool.kafka_bootstrap_servers, mesh.prefix,
                                            order_id)

    published = await asyncio.to_thread(subprocess.run, ["bash", "-c", publish],
                                        capture_output=True, text=True, timeout=60)
    assert published.returncode == 0, published.stderr
    order = (await mesh.wait_until_final(order_id))[order_id]
    assert order["status"] == "COMPLETED"
    assert order["history"][0]["producer"] == "kcat"

    consumed = await asyncio.to_thread(subprocess.run, ["bash", "-c", consume],
                                       capture_output=True, text=True, timeout=60)
    assert consumed.returncode == 0, consumed.stderr
    assert any(line.startswith(f"{order_id} ") and '"OrderCompleted"' in line
               for line in consumed.stdout.splitlines())
