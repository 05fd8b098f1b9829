"""The HA compose mesh's database material (docker-compose.ha.yml), made on the host (stdlib
only): ``python3 -m devtools.compose_ha .run/compose-ha``, what `make up HA=1` runs.

Made once and kept (a rerun, or a mesh brought up again after ``make down VOLUMES=1``, finds
the same passwords):

* ``secrets/admin.password`` — the server's superuser (POSTGRES_PASSWORD_FILE), 0600: only
  the image's entrypoint reads it, as root;
* ``secrets/<service>.password`` — each service's role, mounted as that service's secret
  only; 0644 for the containers' non-root user, in the 0700 root;
* ``initdb/services.sql`` — run once by the postgres image on its first start: a role and a
  database per service, each role reaching only its own database (localpostgres/roles.py).
  It holds SCRAM verifiers, never a password: no command line and no server log sees one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from localpostgres.roles import ADMIN, SERVICES, ensure_passwords, provisioning_sql, write_private


def compose_material(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    passwords = ensure_passwords(root / "secrets", (ADMIN, *SERVICES))
    # The container's user must read what is mounted; the root directory keeps others out.
    (root / "secrets").chmod(0o755)
    for service in SERVICES:
        (root / "secrets" / f"{service}.password").chmod(0o644)
    initdb = root / "initdb"
    initdb.mkdir(exist_ok=True)
    initdb.chmod(0o755)
    script = initdb / "services.sql"
    write_private(script, provisioning_sql({name: passwords[name] for name in SERVICES},
                                           {name: name for name in SERVICES}))
    script.chmod(0o644)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python3 -m devtools.compose_ha DIR", file=sys.stderr)
        return 2
    compose_material(Path(argv[0]))
    print(f"HA compose material in {argv[0]} (a database password per service)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
