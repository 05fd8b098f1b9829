"""Records produced by kcat (librdkafka): bytes aiokafka's own producer cannot send, such as
header keys that are not UTF-8 and headers without a value."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest

needs_kcat = pytest.mark.skipif(shutil.which("kcat") is None,
                                reason="kcat is not installed (apt-get install kcat)")
#: A header is (name, value); a value of None is sent as a header without a value.
Header = tuple[bytes, bytes | None]


async def kcat_produce(bootstrap: str, topic: str, value: bytes, *, key: bytes | None = None,
                       headers: tuple[Header, ...] = (), partition: int | None = None,
                       compression: str | None = None) -> None:
    """One message, exactly these bytes (the value may hold any byte but a newline)."""
    assert b"\n" not in value and (key is None or b"\n" not in key)
    command = [b"kcat", b"-P", b"-b", bootstrap.encode(), b"-t", topic.encode(), b"-X",
               b"enable.idempotence=true"]
    if partition is not None:
        command += [b"-p", str(partition).encode()]
    if compression is not None:
        command += [b"-z", compression.encode()]
    for name, header_value in headers:
        command += [b"-H", name if header_value is None else name + b"=" + header_value]
    line = value if key is None else key + b"\t" + value
    if key is not None:
        command += [b"-K", b"\t"]
    done = await asyncio.to_thread(subprocess.run, command, input=line + b"\n",
                                   capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
