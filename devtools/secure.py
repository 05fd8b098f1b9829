"""Secure mode's setup on a running secure broker: every topic, and the ACLs the choreography
implies (shared/acls.py), made as the admin principal.

    python -m devtools.secure .run/kafka [--prefix P]     # what `make kafka SECURE=1` runs

Each principal's settings come from ``<kafka-dir>/clients/<principal>.env`` (written by
``python -m localkafka start --secure``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from sagactl.acls import apply_acls
from sagactl.participants import OPERATOR, SERVICES
from sagactl.topics import create_all
from shared.acls import policy
from shared.settings import ToolSettings


def principal_env(kafka_dir: Path, principal: str) -> dict[str, str]:
    """The SAGA_KAFKA_* variables (and KAFKA_BOOTSTRAP_SERVERS) of one principal."""
    lines = (Path(kafka_dir) / "clients" / f"{principal}.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def principal_settings(kafka_dir: Path, principal: str, **overrides) -> dict:
    """The same, as Settings fields."""
    env = principal_env(kafka_dir, principal)
    return {"kafka_bootstrap_servers": env["KAFKA_BOOTSTRAP_SERVERS"],
            "kafka_security_protocol": env["SAGA_KAFKA_SECURITY_PROTOCOL"],
            "kafka_username": env["SAGA_KAFKA_USERNAME"],
            "kafka_password_file": Path(env["SAGA_KAFKA_PASSWORD_FILE"]),
            "kafka_ca_file": Path(env["SAGA_KAFKA_CA_FILE"]), **overrides}


async def prepare(kafka_dir: Path, prefix: str = "", partitions: int = 3) -> int:
    """Create every topic and apply every ACL for this prefix; returns how many ACLs."""
    admin = ToolSettings(**principal_settings(kafka_dir, "admin", topic_prefix=prefix,
                                              topic_partitions=partitions, connect_timeout=30))
    await create_all(admin, wait=60)
    return await apply_acls(admin, policy(SERVICES, OPERATOR, prefix))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.secure", description=__doc__)
    parser.add_argument("kafka_dir", type=Path)
    parser.add_argument("--prefix", default="")
    args = parser.parse_args(argv)
    count = asyncio.run(prepare(args.kafka_dir, args.prefix))
    print(f"secure broker ready: every topic created, {count} ACLs applied "
          f"(docs/acls.md); client settings in {args.kafka_dir / 'clients'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
