"""Secure mode's material, made once per state dir: a CA, the broker's certificate, a password
per principal, and each principal's client settings.

Stdlib and the `openssl` command only, like the rest of the launcher. Everything lands in
``<state-dir>/secrets`` and ``<state-dir>/clients``, never in the repository; a restart reuses
it, so credentials and the CA stay valid across restarts. No other local user may read a
secret: the state dir and both folders are 0700, every file holding a password, a token or a
private key is 0600 from the moment it exists (:func:`write_secret`), and no password is ever
an argument of a process (``/proc/<pid>/cmdline`` is world-readable): :func:`argument_file`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from localkafka.errors import LocalKafkaError

ADMIN, CONTROLLER, MONITOR = "admin", "controller", "saga_monitor"
#: One principal per service, one for sagactl, one for the monitor (shared/acls.py grants them).
PRINCIPALS = ("order_service", "inventory_service", "fraud_service", "payment_service",
              "shipping_service", "notification_service", "sagactl", MONITOR)
BROKER_NAMES = ("127.0.0.1", "localhost", "kafka")
#: Older librdkafka (Debian 12's kcat: 2.0.2) repeats the client nonce in its SCRAM answer,
#: which Kafka 4 refuses as invalid credentials (librdkafka PR 4895, fixed in 2.6.1).
LIBRDKAFKA_NOTE = ("# for librdkafka clients (kcat -F this-file): librdkafka 2.6.1 or newer; "
                   "older ones fail SCRAM against Kafka 4 with 'invalid credentials'\n")


@dataclass(frozen=True)
class Secrets:
    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "secrets" / "ca.pem"

    @property
    def broker_pem(self) -> Path:
        return self.root / "secrets" / "broker.pem"

    @property
    def clients(self) -> Path:
        return self.root / "clients"

    def passwords(self) -> dict[str, str]:
        return json.loads((self.root / "secrets" / "passwords.json").read_text())

    def password_file(self, principal: str) -> Path:
        return self.clients / f"{principal}.password"

    @property
    def api_token(self) -> Path:
        """The order API's bearer token (not a Kafka credential; secure mode requires one)."""
        return self.root / "secrets" / "api_token"


def ensure_secrets(state_dir: Path, names: tuple[str, ...] = BROKER_NAMES,
                   hosts: set[str] = frozenset()) -> Secrets:
    """Made once per state dir and kept; the broker's certificate is issued again (by the
    same CA) if it does not name a host the brokers now listen on. Every node of a cluster
    presents the same certificate, so it names every node's address."""
    found = Secrets(state_dir)
    secret_dir = state_dir / "secrets"
    wanted = (*names, *sorted(hosts - set(names)))
    if (secret_dir / "passwords.json").exists():
        if not set(wanted) <= set(_certified_names(secret_dir)):
            _certificates(secret_dir, wanted, new_ca=False)
        return found
    private_dir(secret_dir)
    _certificates(secret_dir, wanted)
    passwords = {name: secrets.token_urlsafe(24) for name in (ADMIN, CONTROLLER, *PRINCIPALS)}
    write_secret(secret_dir / "passwords.json", json.dumps(passwords, indent=2))
    write_secret(found.api_token, secrets.token_urlsafe(24))
    return found


def private_dir(path: Path) -> None:
    """A directory only its owner may enter (made so, if it was there before)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def write_secret(path: Path, text: str) -> None:
    """``text`` in a file only its owner may read or write — from its creation on, and also
    when the file was there before with a wider mode."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(descriptor, 0o600)
        file.write(text)


@contextlib.contextmanager
def argument_file(path: Path, arguments: list[str]) -> Iterator[str]:
    """``@<path>`` for a java command line, in place of ``arguments`` (the main class may be
    among them): the java launcher expands an argument file that comes before the main class,
    so passwords stay in a 0600 file instead of /proc/<pid>/cmdline, and the file is deleted
    afterwards."""
    quoted = (argument.replace("\\", "\\\\").replace('"', '\\"') for argument in arguments)
    write_secret(path, "".join(f'"{argument}"\n' for argument in quoted))
    try:
        yield f"@{path}"
    finally:
        path.unlink(missing_ok=True)


def _certified_names(secret_dir: Path) -> list[str]:
    """The names the broker's certificate was issued for (in state dirs older than the
    record: the names every certificate had then)."""
    recorded = secret_dir / "broker.names"
    return recorded.read_text().split() if recorded.exists() else list(BROKER_NAMES)


def write_client_settings(found: Secrets, bootstrap: str, extra: dict[str, str] | None = None
                          ) -> None:
    """Per principal: a librdkafka/kcat properties file (``kcat -F``; librdkafka 2.6.1 or newer,
    the broker's name checked against its certificate) and an env file with the project's own
    settings (``SAGA_KAFKA_*``, and ``extra``), both pointing at the CA and a password file."""
    private_dir(found.clients)
    for principal, password in found.passwords().items():
        if principal == CONTROLLER:
            continue
        password_file = found.password_file(principal)
        write_secret(password_file, password)
        write_secret(found.clients / f"{principal}.properties",
                     f"{LIBRDKAFKA_NOTE}bootstrap.servers={bootstrap}\n"
                     f"security.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\n"
                     f"sasl.username={principal}\nsasl.password={password}\n"
                     f"ssl.ca.location={found.ca.resolve()}\n"
                     "ssl.endpoint.identification.algorithm=https\n")
        # Every service checks the API token (the monitor serves no route behind it); sagactl
        # sends it.
        token = (f"SAGA_API_TOKEN_FILE={found.api_token.resolve()}\n"
                 if principal != MONITOR else "")
        (found.clients / f"{principal}.env").write_text(
            f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}\nSAGA_KAFKA_SECURITY_PROTOCOL=SASL_SSL\n"
            f"SAGA_KAFKA_USERNAME={principal}\nSAGA_KAFKA_PASSWORD_FILE={password_file.resolve()}\n"
            f"SAGA_KAFKA_CA_FILE={found.ca.resolve()}\n{token}"
            + "".join(f"{key}={value}\n" for key, value in (extra or {}).items()))


def _certificates(secret_dir: Path, names: tuple[str, ...], *, new_ca: bool = True) -> None:
    """A CA (or, ``new_ca=False``, the one there is), and a broker key and certificate it
    signed, valid for ``names``."""
    alt = ",".join(f"IP:{n}" if n.replace(".", "").isdigit() else f"DNS:{n}" for n in names)
    run = [
        *([["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
            "-subj", "/CN=saga-choreography local CA", "-keyout", "ca.key", "-out", "ca.pem"]]
          if new_ca else []),
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kafka",
         "-keyout", "broker.key", "-out", "broker.csr"],
        ["openssl", "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "825", "-out", "broker.crt",
         "-extfile", "broker.ext"],
    ]
    (secret_dir / "broker.ext").write_text(f"subjectAltName={alt}\n")
    for command in run:
        result = subprocess.run(command, cwd=secret_dir, capture_output=True, text=True)
        if result.returncode != 0:
            raise LocalKafkaError(f"making certificates failed ({' '.join(command[:2])}): "
                                  f"{result.stderr.strip()[-300:]}")
    (secret_dir / "broker.names").write_text("\n".join(names) + "\n")
    # Kafka reads a PEM key store: the private key, then the certificate chain.
    key, cert = (secret_dir / "broker.key").read_text(), (secret_dir / "broker.crt").read_text()
    write_secret(secret_dir / "broker.pem", key + cert)
    for name in ("ca.key", "broker.key"):
        (secret_dir / name).chmod(0o600)


def server_security_properties(found: Secrets, listeners: tuple[str, ...] = ("sasl_ssl",),
                               files: Path | None = None) -> dict[str, str]:
    """SASL_SSL with SCRAM-SHA-512 for clients and between brokers; the controller listener
    uses PLAIN over TLS (KRaft cannot check SCRAM between controllers: those credentials live in
    the metadata the controllers serve); deny by default, admin and controller super users.
    ``listeners``: every client listener's name; ``files``: where the broker sees the key and
    certificates (a container's mount), if not where they are here."""
    passwords = found.passwords()
    admin, controller = passwords[ADMIN], passwords[CONTROLLER]
    keystore = (files / found.broker_pem.name) if files else found.broker_pem.resolve()
    truststore = (files / found.ca.name) if files else found.ca.resolve()
    scram = {key: value for listener in listeners for key, value in {
        f"listener.name.{listener}.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        f"listener.name.{listener}.scram-sha-512.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{admin}";'}.items()}
    return {
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "sasl.mechanism.controller.protocol": "PLAIN",
        **scram,
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config":
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{CONTROLLER}" password="{controller}" user_{CONTROLLER}="{controller}";',
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(truststore),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN};User:{CONTROLLER}",
    }


def scram_arguments(found: Secrets) -> list[str]:
    """StorageTool's --add-scram for every SCRAM principal: credentials exist from the start."""
    return [argument for name, password in found.passwords().items() if name != CONTROLLER
            for argument in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")]
