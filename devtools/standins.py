"""Local stand-ins for the public images the compose file names, for machines without a registry.

`python -m devtools.standins` builds, only where missing or out of date:

* ``saga-standin/debian:bookworm`` — debootstrap from the machine's own Debian mirror;
* ``python:3.11-slim`` — Python 3.11 and pip on it, trusting the host's CA bundle so that
  ``pip install`` inside a build reaches the package index the host reaches;
* ``apache/kafka:4.1.1`` — a JRE and the broker jars from Maven, with a start script that
  keeps the official image's contract (``KAFKA_FOO_BAR`` → ``foo.bar``, ``CLUSTER_ID``,
  storage formatted on first start, ``Kafka Server started`` when ready, ``/opt/kafka/bin``);
* ``prom/prometheus:v2.42.0`` — Debian's prometheus package (the same version), with the
  official image's entrypoint, config path, volume and port (compose profile observability);
* ``postgres:15`` — Debian's postgresql-15 package, with an entrypoint that keeps the official
  image's contract (``POSTGRES_USER``, ``POSTGRES_PASSWORD``, ``POSTGRES_DB`` and their
  ``_FILE`` variants, ``/docker-entrypoint-initdb.d/`` on first start, data in
  ``/var/lib/postgresql/data``, port 5432, ``pg_isready``).

Tagged with the public names, they let the real Dockerfile and docker-compose.yml run
unchanged. On a machine that can pull images, none of this is needed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from localkafka.jars import KAFKA_VERSION, ensure_jars

RECIPES = Path(__file__).parent / "standins"
BASE = "saga-standin/debian:bookworm"
PYTHON = "python:3.11-slim"
KAFKA = f"apache/kafka:{KAFKA_VERSION}"
PROMETHEUS = "prom/prometheus:v2.42.0"
POSTGRES = "postgres:15"
LABEL = "org.saga-choreography.standin-recipe"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def ensure_standins(say: Callable[[str], None] = print, force: bool = False) -> None:
    _ensure_base(say, force)
    _ensure(PYTHON, RECIPES / "python", say, force, extra=_copy_ca_bundle)
    _ensure(KAFKA, RECIPES / "kafka", say, force, extra=_copy_kafka_jars)
    _ensure(PROMETHEUS, RECIPES / "prometheus", say, force, extra=lambda context: None)
    _ensure(POSTGRES, RECIPES / "postgres", say, force, extra=lambda context: None)


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (never hard-coded)."""
    sources = [*Path("/etc/apt").glob("sources.list.d/*.sources"), Path("/etc/apt/sources.list")]
    for source in sources:
        text = source.read_text() if source.exists() else ""
        for uri in re.findall(r"^URIs:\s*(\S+)", text, re.M) + re.findall(
                r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", text, re.M):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    raise RuntimeError("no Debian bookworm mirror found in /etc/apt sources")


def _ensure_base(say: Callable[[str], None], force: bool) -> None:
    if image_exists(BASE) and not force:
        return
    mirror = debian_mirror()
    say(f"building {BASE} with debootstrap from {mirror} (~1 minute)")
    with tempfile.TemporaryDirectory(prefix="rootfs-") as rootfs:
        _run(["debootstrap", "--variant=minbase", "bookworm", rootfs, mirror])
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        _run(["docker", "import", "-", BASE], stdin=tar.stdout)
        tar.wait()


def _ensure(name: str, recipe: Path, say: Callable[[str], None], force: bool,
            extra: Callable[[Path], None]) -> None:
    digest = _recipe_digest(recipe)
    label = _label(name)
    # Keep an up-to-date stand-in, and never replace a real image pulled from a registry.
    if not force and (label == digest or (label == "" and image_exists(name))):
        return
    say(f"building stand-in {name}")
    with tempfile.TemporaryDirectory(prefix="standin-") as context:
        shutil.copytree(recipe, context, dirs_exist_ok=True)
        extra(Path(context))
        _run(["docker", "build", "--label", f"{LABEL}={digest}", "-t", name, context])


def _recipe_digest(recipe: Path) -> str:
    digest = hashlib.sha256(KAFKA_VERSION.encode())
    for path in sorted(recipe.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _label(name: str) -> str | None:
    result = subprocess.run(["docker", "image", "inspect", "-f",
                             f'{{{{index .Config.Labels "{LABEL}"}}}}', name],
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def _copy_ca_bundle(context: Path) -> None:
    shutil.copy(HOST_CA_BUNDLE, context / "host-bundle.crt")


def _copy_kafka_jars(context: Path) -> None:
    libs = context / "libs"
    shutil.copytree(ensure_jars(), libs, ignore=shutil.ignore_patterns(".complete"))
    # The broker's health check runs a metadata round trip with kafka-tools' command.
    _run(["mvn", "-q", "-B", "dependency:copy",
          f"-Dartifact=org.apache.kafka:kafka-tools:{KAFKA_VERSION}",
          f"-DoutputDirectory={libs}"], cwd=context)


def _run(command: list[str], **options) -> None:
    result = subprocess.run(command, capture_output=True, text=True, **options)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise RuntimeError(f"{' '.join(command[:3])} failed:\n{tail}")


if __name__ == "__main__":
    ensure_standins(say=lambda message: print(message, file=sys.stderr, flush=True),
                    force="--force" in sys.argv)
