"""Resolve the Apache Kafka broker jars from Maven Central once, into a cache.

The published ``kafka_2.13`` POM brings the broker's runtime dependencies but
no SLF4J backend, so we add ``log4j-slf4j-impl`` (Kafka 4.x already ships
log4j-core); without it the broker would log nothing at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from localkafka.errors import LocalKafkaError

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
_COMPLETE_MARKER = ".complete"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.saga</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""


def cache_root() -> Path:
    """Where resolved jars live; ``LOCALKAFKA_CACHE`` overrides the default."""
    configured = os.environ.get("LOCALKAFKA_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "saga-choreography"


def jar_dir(version: str = KAFKA_VERSION) -> Path:
    return cache_root() / f"kafka-{version}" / "lib"


def ensure_jars(version: str = KAFKA_VERSION, *, quiet: bool = False) -> Path:
    """Return the folder holding the broker's jars, resolving them on first use."""
    lib = jar_dir(version)
    if (lib / _COMPLETE_MARKER).exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            f"Kafka {version} jars are not cached in {lib} and Maven ('mvn') is not on PATH; "
            "install Maven (apt-get install maven) or set KAFKA_BOOTSTRAP_SERVERS to a running broker"
        )
    if not quiet:
        print(f"Resolving Kafka {version} jars from Maven Central into {lib} (once)...", file=sys.stderr)
    lib.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lib-", dir=lib.parent))
    try:
        _copy_dependencies(mvn, version, staging)
        (staging / _COMPLETE_MARKER).write_text(version)
        if lib.exists():
            shutil.rmtree(lib)
        staging.rename(lib)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return lib


def _copy_dependencies(mvn: str, version: str, target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="kafka-pom-") as project:
        Path(project, "pom.xml").write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
        command = [
            mvn, "-q", "-B", "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={target}",
        ]
        result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise LocalKafkaError(f"Maven could not resolve Kafka {version} jars:\n{tail}")
    if not any(target.glob(f"kafka_2.13-{version}.jar")):
        raise LocalKafkaError(f"Maven finished but kafka_2.13-{version}.jar is missing from {target}")
