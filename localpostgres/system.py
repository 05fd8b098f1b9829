"""What the launcher needs from this machine: PostgreSQL's server binaries, a user allowed to
run them, a private state dir that user can reach, and a free loopback port."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from localkafka.system import bindable_port  # stdlib only, like this package
from localpostgres.errors import LocalPostgresError

#: DROP DATABASE … WITH (FORCE) and SCRAM by default need 13 or newer.
MINIMUM_MAJOR = 13
NEEDED = ("initdb", "postgres", "psql", "pg_isready")
DEBIAN_ROOT = Path("/usr/lib/postgresql")
INSTALL_HINT = ("install them with `apt-get install postgresql` (Debian, Ubuntu), or set "
                "LOCALPOSTGRES_BIN to the directory that holds initdb and postgres")
#: sun_path of a unix socket holds 108 bytes, its terminating NUL included.
_SOCKET_PATH_MAX = 107


@dataclass(frozen=True)
class Binaries:
    directory: Path
    major: int

    def __getitem__(self, name: str) -> str:
        return str(self.directory / name)


def find_binaries(override: str | None = None, search_path: str | None = None,
                  debian_root: Path = DEBIAN_ROOT) -> Binaries:
    """``override`` (LOCALPOSTGRES_BIN) if given; else where ``postgres`` on PATH lives; else
    Debian's newest /usr/lib/postgresql/<major>/bin (not on PATH on a fresh machine)."""
    if override is None:
        override = os.environ.get("LOCALPOSTGRES_BIN")
    if override:
        directory = Path(override)
        if not _complete(directory):
            raise LocalPostgresError(f"LOCALPOSTGRES_BIN={override} lacks one of {', '.join(NEEDED)}")
        return Binaries(directory, _major(directory))
    on_path = shutil.which("postgres", path=search_path)
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += sorted((path / "bin" for path in debian_root.glob("*") if path.name.isdigit()),
                         key=lambda path: -int(path.parent.name))
    for directory in candidates:
        if _complete(directory):
            return Binaries(directory, _major(directory))
    raise LocalPostgresError(f"PostgreSQL's server binaries were not found (looked on PATH and in "
                             f"{debian_root}/*/bin): {INSTALL_HINT}")


def _complete(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in NEEDED)


def _major(directory: Path) -> int:
    version = subprocess.run([str(directory / "postgres"), "--version"], capture_output=True,
                             text=True).stdout
    match = re.search(r"\) (\d+)", version)
    if match is None or int(match.group(1)) < MINIMUM_MAJOR:
        raise LocalPostgresError(f"{directory}/postgres reports {version.strip()!r}; the launcher "
                                 f"needs PostgreSQL {MINIMUM_MAJOR} or newer: {INSTALL_HINT}")
    return int(match.group(1))


@dataclass(frozen=True)
class User:
    """Who runs initdb, postgres and psql: they refuse to run as root."""
    name: str
    uid: int
    gid: int

    def process_options(self) -> dict:
        """For subprocess: drop to this user (no intermediate process, unlike runuser)."""
        if self.uid == os.geteuid():
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def run(self, command: list[str], state_dir: Path, input: str | None = None
            ) -> subprocess.CompletedProcess:
        """A PostgreSQL tool as this user, in the state dir, with its output."""
        return subprocess.run(command, input=input, capture_output=True, text=True,
                              cwd=state_dir, env=server_environment(state_dir),
                              **self.process_options())


def server_user() -> User:
    """The current user; when that is root, the ``postgres`` system user."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
    else:
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            raise LocalPostgresError("initdb and postgres refuse to run as root, and there is no "
                                     "`postgres` system user to run them as (`apt-get install "
                                     "postgresql` creates one)") from None
    return User(entry.pw_name, entry.pw_uid, entry.pw_gid)


def launching_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def prepare_state_dir(state_dir: Path, user: User, port: int) -> None:
    """The state dir exists, belongs to ``user``, is private (0700), is reachable by it, and
    can hold the server's unix socket."""
    state_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(state_dir, user.uid, user.gid)
    state_dir.chmod(0o700)
    closed = _closed_ancestor(state_dir.resolve(), user)
    if closed is not None:
        raise LocalPostgresError(f"the {user.name} user that runs PostgreSQL cannot enter {closed} "
                                 f"(mode {stat.S_IMODE(closed.stat().st_mode):04o}): choose a state "
                                 "dir it can reach")
    socket_path = f"{state_dir.resolve()}/.s.PGSQL.{port}"
    if len(socket_path.encode()) > _SOCKET_PATH_MAX:
        raise LocalPostgresError(f"the state dir's path is too long for PostgreSQL's unix socket "
                                 f"({socket_path}, over {_SOCKET_PATH_MAX} bytes): choose a shorter one")


def _closed_ancestor(path: Path, user: User) -> Path | None:
    """The first directory above ``path`` that ``user`` may not search, if any."""
    groups = set(os.getgrouplist(user.name, user.gid))
    for directory in reversed(path.parents):
        info = directory.stat()
        bit = (stat.S_IXUSR if info.st_uid == user.uid
               else stat.S_IXGRP if info.st_gid in groups else stat.S_IXOTH)
        if not info.st_mode & bit:
            return directory
    return None


def claim_port(host: str, port: int) -> int:
    """``port`` if it is free (else an error saying so), a free one for 0."""
    try:
        return bindable_port(host, port)
    except OSError as error:
        raise LocalPostgresError(
            f"port {host}:{port} is already in use ({error.strerror}); stop whatever holds "
            "it (make postgres-stop?) or choose another port (0: a free one)") from None


def server_environment(state_dir: Path) -> dict[str, str]:
    """For initdb, postgres and psql: no PG* variable of the caller's leaks into them."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
            "HOME": str(state_dir.resolve())}
