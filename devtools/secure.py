"""Secure mode's setup: on a running secure local broker, and for the compose mesh.

    python -m devtools.secure setup .run/kafka [--prefix P]   # what `make kafka SECURE=1` runs
    python -m devtools.secure compose .run/compose-secure     # what `make up SECURE=1` runs

``setup`` creates every topic and applies the ACLs the choreography implies (shared/acls.py) as
the admin principal; each principal's settings come from ``<kafka-dir>/clients/<principal>.env``
(written by ``python -m localkafka start --secure``). ``compose`` makes the compose mesh's
material once: the CA and broker certificate (valid for ``kafka``), a password per principal,
the API token, the broker's security properties and SCRAM users as the container sees them,
and each principal's settings for clients on the host (Kafka at 127.0.0.1:KAFKA_HOST_PORT).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from localkafka.secrets import (
    ADMIN,
    ensure_secrets,
    scram_arguments,
    server_security_properties,
    write_client_settings,
)
from participants import OPERATOR, SERVICES
from sagactl.acls import apply_acls
from sagactl.topics import create_all
from shared.acls import policy
from shared.settings import ToolSettings

#: Where the broker container mounts the compose material (docker-compose.secure.yml).
BROKER_MOUNT = Path("/secure")


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
    """Create every topic and grant exactly the ACLs of this prefix (one broker serves one
    deployment: another prefix's grants are taken away); returns how many ACLs."""
    admin = ToolSettings(**principal_settings(kafka_dir, "admin", topic_prefix=prefix,
                                              topic_partitions=partitions, connect_timeout=30))
    await create_all(admin, wait=60)
    acls = policy(SERVICES, OPERATOR, prefix)
    await apply_acls(admin, acls)
    return len(acls)


def compose_material(root: Path, host_port: int) -> None:
    """Everything the secure compose overlay mounts, made once (a rerun keeps it)."""
    found = ensure_secrets(root, names=("kafka", "127.0.0.1", "localhost"))
    write_client_settings(found, f"127.0.0.1:{host_port}")
    broker = root / "broker"
    broker.mkdir(exist_ok=True)
    (broker / "server.properties").write_text("".join(
        f"{key}={value}\n" for key, value in server_security_properties(
            found, listeners=("sasl_ssl", "host"), files=BROKER_MOUNT).items()))
    (broker / "scram.args").write_text("\n".join(scram_arguments(found)) + "\n")
    (broker / "admin.properties").write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN}" password="{found.passwords()[ADMIN]}";\n'
        f"ssl.truststore.type=PEM\nssl.truststore.location={BROKER_MOUNT / 'ca.pem'}\n")
    for name in ("ca.pem", "broker.pem"):
        (broker / name).write_bytes((root / "secrets" / name).read_bytes())
    # The containers' users must read what is mounted; the directory keeps others out.
    root.chmod(0o700)
    for path in [*broker.iterdir(), *found.clients.glob("*.password"), found.api_token]:
        path.chmod(0o644)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.secure", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    setup = commands.add_parser("setup", help="topics and ACLs on a running secure broker")
    setup.add_argument("kafka_dir", type=Path)
    setup.add_argument("--prefix", default="")
    compose = commands.add_parser("compose", help="the secure compose mesh's material")
    compose.add_argument("root", type=Path)
    compose.add_argument("--host-port", type=int, default=9094)
    args = parser.parse_args(argv)
    if args.command == "compose":
        compose_material(args.root, args.host_port)
        print(f"secure compose material in {args.root}; sagactl on the host: "
              f"set -a; . {args.root}/clients/sagactl.env; set +a", file=sys.stderr)
        return 0
    count = asyncio.run(prepare(args.kafka_dir, args.prefix))
    print(f"secure broker ready: every topic created, {count} ACLs applied "
          f"(docs/acls.md); client settings in {args.kafka_dir / 'clients'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
