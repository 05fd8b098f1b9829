"""A Docker engine and compose for the compose tests: use what runs, start what can run,
and otherwise skip with one line that says why."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.standins import KAFKA, PROMETHEUS, PYTHON, ensure_standins, image_exists


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0 \
        if shutil.which("docker") else False


@contextlib.contextmanager
def docker_engine() -> Iterator[None]:
    """The running engine, or one started here (and stopped afterwards)."""
    if engine_answers():
        yield
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        pytest.skip("compose tests skipped: no Docker engine answers and none can be started "
                    "here (needs root and dockerd: apt-get install docker.io)")
    log = Path(tempfile.mkstemp(prefix="dockerd-", suffix=".log")[1])
    with log.open("wb") as out:
        engine = subprocess.Popen([dockerd], stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        _until_answers(engine, log)
        yield
    finally:
        engine.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            engine.wait(30)


def _until_answers(engine: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while not engine_answers():
        if engine.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
            pytest.skip(f"compose tests skipped: dockerd could not start here:\n{tail}")
        time.sleep(0.5)


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("compose tests skipped: neither `docker compose` nor `docker-compose` is "
                "installed (apt-get install docker-compose)")


def ensure_base_images(images: tuple[str, ...] = (PYTHON, KAFKA, PROMETHEUS)) -> None:
    """The public images (by default those the compose file names): pulled where a registry
    answers, built as local stand-ins where none does."""
    missing = [image for image in images if not image_exists(image)]
    pulled = [image for image in missing if subprocess.run(
        ["docker", "pull", image], capture_output=True, timeout=300).returncode == 0]
    if set(missing) - set(pulled):
        ensure_standins(say=print)
