"""Around `make bench`'s measurements: the broker, a baseline commit's checkout, the machine's
description, and whether the services still have work in hand between phases."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from devtools.processes import Mesh
from localkafka import LocalKafka
from participants import SERVICES_IN
from sagactl.topics import partitions_behind
from shared.settings import ToolSettings


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """``KAFKA_BOOTSTRAP_SERVERS``, or a fresh local broker for the run."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    with LocalKafka(heap="1g") as local:
        yield local.bootstrap_servers


@contextlib.contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """The project as it was at ``ref``, in a temporary git worktree. A shallow clone (as
    some CI systems make) is deepened first when it lacks ``ref``."""
    _have(ref)
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as parent:
        path = Path(parent) / "code"
        subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], check=True,
                       capture_output=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], check=False)


def _have(ref: str) -> None:
    def known() -> bool:
        return subprocess.run(["git", "cat-file", "-e", f"{ref}^{{commit}}"],
                              capture_output=True).returncode == 0
    if known():
        return
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], capture_output=True,
                             text=True).stdout.strip() == "true"
    if shallow:
        subprocess.run(["git", "fetch", "--quiet", "--unshallow"], check=False)
    if not known():
        raise SystemExit(f"git knows no commit {ref} here{' (a shallow clone)' if shallow else ''}"
                         ": fetch the project's history (git fetch --unshallow)")


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0],
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], text=True,
                                     capture_output=True).stdout.strip()}


async def until_idle(mesh: Mesh, say: Callable[[str], None], timeout: float = 120.0) -> None:
    """The last phase's tail (notifications, outbox rows, records not yet read) must not
    weigh on the next one."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 2:
        if time.monotonic() > deadline:
            say(f"  the services are still busy after {timeout:g}s: the next phase starts "
                "on their backlog")
            return
        quiet = 0 if await busy(mesh) else quiet + 1
        await asyncio.sleep(1.0)


async def busy(mesh: Mesh) -> bool:
    """Work in hand: an outbox row unsent, an event waiting for a retry, or a record that a
    service's consumer group has not committed (read and decided) yet. Committed offsets are
    the broker's, so a baseline commit's services are judged the same way."""
    async with httpx.AsyncClient(timeout=5) as client:
        states = [(await client.get(f"{service.url}/health")).json()
                  for service in mesh.services.values()]
    if any(state.get("outbox_unsent", 0) or state.get("retry_queue", {}).get("WAITING", 0)
           for state in states):
        return True
    tools = ToolSettings(kafka_bootstrap_servers=mesh.bootstrap, topic_prefix=mesh.prefix)
    behind = await partitions_behind(tools, {spec.name: spec.consumed_topics
                                            for spec in SERVICES_IN[mesh.mode]})
    # A partition its group never committed on is one that group does not read (an older
    # commit's services may read fewer topics).
    return any(committed is not None for _, _, committed, _ in behind)
