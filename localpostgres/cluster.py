"""The data directory: made once by initdb, with the access rules the rest relies on."""

from __future__ import annotations

import shutil
from pathlib import Path

from localpostgres.errors import LocalPostgresError
from localpostgres.roles import ADMIN, write_private
from localpostgres.system import Binaries, User, launching_user

PG_HBA = f"""\
# Written by localpostgres. The socket (in the 0700 state dir) admits the admin from the user
# that runs the server or launched it; TCP admits every role on loopback with its SCRAM
# password. Which databases a role reaches is decided by CONNECT privileges (roles.py).
# TYPE  DATABASE  USER      ADDRESS       METHOD
local   all       {ADMIN}                 peer map=launcher
host    all       all       127.0.0.1/32  scram-sha-256
"""


def initialise(binaries: Binaries, data_dir: Path, user: User) -> None:
    """A cluster in ``data_dir`` owned by ``user``, whose bootstrap superuser is the admin,
    unless one is there already; then it must be of the binaries' major version."""
    if (data_dir / "PG_VERSION").exists():
        _check_version(binaries, data_dir)
        return
    # --no-sync: an OS crash in the next seconds would corrupt a cluster that holds nothing yet.
    result = user.run([binaries["initdb"], "-D", str(data_dir.resolve()), "-U", ADMIN,
                       "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8",
                       "--locale=C", "--no-sync", "--no-instructions"], data_dir.parent)
    if result.returncode != 0:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise LocalPostgresError(f"initdb failed: {(result.stderr or result.stdout).strip()}")
    _write(data_dir / "pg_hba.conf", PG_HBA, user)
    # Peer authentication's names: the user the server runs as, and the one who launched it.
    _write(data_dir / "pg_ident.conf", "".join(
        f"launcher {name} {ADMIN}\n" for name in dict.fromkeys((user.name, launching_user()))), user)


def _check_version(binaries: Binaries, data_dir: Path) -> None:
    found = (data_dir / "PG_VERSION").read_text().strip()
    if found != str(binaries.major):
        raise LocalPostgresError(f"{data_dir} holds PostgreSQL {found} data, but the binaries "
                                 f"are {binaries.major}: remove {data_dir.parent} (make clean) "
                                 "to start afresh, or set LOCALPOSTGRES_BIN")


def _write(path: Path, text: str, user: User) -> None:
    write_private(path, text)
    shutil.chown(path, user.uid, user.gid)
